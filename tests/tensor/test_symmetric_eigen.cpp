// prim::symmetric_eigen: hand-computed 2x2 and 3x3 spectra, reconstruction V diag(w) V^T = A and
// orthonormality on random batches in f32 and f64, batching equal to one matrix at a time, bit-identity
// with a direct LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L') call, and the shape, dtype and failure errors.
#include <boost/test/unit_test.hpp>

#include <lapacke.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

Tensor f64(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }

// Random symmetric (B + B^T) / 2 of shape batch + (n, n).
Tensor random_symmetric(Shape batch, std::int64_t n, std::uint64_t seed, DType dtype) {
  batch.insert(batch.end(), {n, n});
  const Tensor b = wbtest::randn(batch, seed, dtype);
  const Tensor s = prim::binary(prim::Binary::add, b, prim::transpose(b, -1, -2));
  return prim::unary(prim::Unary::mul_scalar, s, 0.5);
}

// Columns flipped so the first entry of each that is not ~0 is positive (eigenvectors are unique up to sign).
std::vector<double> sign_fixed(const Tensor& v) {
  std::vector<double> x = v.to_vector<double>();
  const auto n = static_cast<std::size_t>(v.size(-1));
  for (std::size_t j = 0; j < n; ++j) {
    std::size_t first = 0;
    while (first + 1 < n && std::abs(x[first * n + j]) < 1e-8) ++first;
    if (x[first * n + j] < 0)
      for (std::size_t i = 0; i < n; ++i) x[i * n + j] = -x[i * n + j];
  }
  return x;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(symmetric_eigen)

BOOST_AUTO_TEST_CASE(two_by_two_by_hand) {
  // [[2, 1], [1, 2]]: (2 - w)^2 = 1 gives w = 1 with (1, -1)/sqrt 2 and w = 3 with (1, 1)/sqrt 2.
  const auto e = prim::symmetric_eigen(f64({2, 1, 1, 2}, {2, 2}));
  BOOST_TEST(e.values.shape() == (Shape{2}));
  BOOST_TEST(wbtest::allclose(e.values, {1.0, 3.0}, 1e-13, 0));
  const double h = 1.0 / std::sqrt(2.0);
  BOOST_TEST(wbtest::allclose(f64(sign_fixed(e.vectors), {2, 2}), {h, h, -h, h}, 1e-13, 0));
}

BOOST_AUTO_TEST_CASE(three_by_three_by_hand_reads_the_lower_triangle) {
  // The second-difference matrix tridiag(-1, 2, -1): w_k = 2 - 2 cos(k pi / 4) = 2 - sqrt 2, 2, 2 + sqrt 2,
  // with eigenvectors sin(j k pi / 4): (1, sqrt 2, 1)/2, (1, 0, -1)/sqrt 2, (1, -sqrt 2, 1)/2. The upper
  // triangle holds garbage, which ?syev with uplo 'L' never reads.
  const Tensor a = f64({2, 99, -7, -1, 2, 42, 0, -1, 2}, {3, 3});
  const auto e = prim::symmetric_eigen(a);
  const double r2 = std::sqrt(2.0);
  BOOST_TEST(wbtest::allclose(e.values, {2 - r2, 2.0, 2 + r2}, 1e-13, 0));
  // Row-major, columns v0 = (1, r2, 1)/2, v1 = (1, 0, -1)/r2, v2 = (1, -r2, 1)/2, each signed so its first
  // entry is positive.
  const std::vector<double> expect = {0.5, 1 / r2, 0.5, r2 / 2, 0.0, -r2 / 2, 0.5, -1 / r2, 0.5};
  BOOST_TEST(wbtest::allclose(f64(sign_fixed(e.vectors), {3, 3}), expect, 1e-13, 0));
}

BOOST_AUTO_TEST_CASE(reconstruction_and_orthonormality_f32_f64) {
  for (const DType dtype : {DType::f64, DType::f32}) {
    const double tol = dtype == DType::f64 ? 1e-11 : 2e-5;
    const Tensor a = random_symmetric({2, 3}, 7, 11, dtype);
    const auto e = prim::symmetric_eigen(a);
    BOOST_TEST(e.values.shape() == (Shape{2, 3, 7}));
    BOOST_TEST(e.vectors.shape() == a.shape());
    BOOST_TEST(e.values.dtype() == dtype);
    // V diag(w) V^T: scale the columns of V by w, then multiply by V^T.
    const Tensor vw = prim::binary(prim::Binary::mul, e.vectors, prim::unsqueeze(e.values, -2));
    const Tensor back = prim::matmul(vw, prim::transpose(e.vectors, -1, -2));
    BOOST_TEST(wbtest::allclose(back, a, tol, tol));
    const Tensor vtv = prim::matmul(prim::transpose(e.vectors, -1, -2), e.vectors);
    std::vector<double> eye;
    for (int b = 0; b < 6; ++b)
      for (int i = 0; i < 7; ++i)
        for (int j = 0; j < 7; ++j) eye.push_back(i == j ? 1.0 : 0.0);
    BOOST_TEST(wbtest::allclose(vtv, eye, tol, 0));
    const auto w = e.values.to_vector<double>();
    for (std::size_t i = 0; i + 1 < w.size(); ++i)
      if (i % 7 != 6) BOOST_TEST(w[i] <= w[i + 1], "values not ascending at " << i);
  }
}

BOOST_AUTO_TEST_CASE(batch_equals_one_matrix_at_a_time_and_direct_dsyev) {
  const std::int64_t n = 6;
  const Tensor a = random_symmetric({5}, n, 3, DType::f64);
  const auto e = prim::symmetric_eigen(prim::transpose(a, -1, -2));  // a strided view of the same matrices
  for (std::int64_t b = 0; b < 5; ++b) {
    const Tensor ab = prim::select(a, 0, b);
    const auto one = prim::symmetric_eigen(ab);
    BOOST_TEST(prim::select(e.values, 0, b).to_vector<double>() == one.values.to_vector<double>());
    BOOST_TEST(prim::contiguous(prim::select(e.vectors, 0, b)).to_vector<double>() == one.vectors.to_vector<double>());
    // Bit for bit what a direct row-major LAPACKE_dsyev call gives (the contract crate relies on).
    std::vector<double> v = prim::contiguous(ab).to_vector<double>(), w(static_cast<std::size_t>(n));
    BOOST_TEST(LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L', n, v.data(), n, w.data()) == 0);
    BOOST_TEST(one.values.to_vector<double>() == w);
    BOOST_TEST(one.vectors.to_vector<double>() == v);
  }
}

BOOST_AUTO_TEST_CASE(empty_batch_and_empty_matrices) {
  const auto e0 = prim::symmetric_eigen(Tensor::zeros({0, 3, 3}, DType::f64));
  BOOST_TEST(e0.values.shape() == (Shape{0, 3}));
  const auto e1 = prim::symmetric_eigen(Tensor::zeros({2, 0, 0}, DType::f32));
  BOOST_TEST(e1.values.shape() == (Shape{2, 0}));
  BOOST_TEST(e1.vectors.shape() == (Shape{2, 0, 0}));
}

BOOST_AUTO_TEST_CASE(bad_shapes_and_dtypes_are_rejected) {
  BOOST_CHECK_THROW(prim::symmetric_eigen(Tensor::zeros({3, 4}, DType::f64)), std::invalid_argument);
  BOOST_CHECK_THROW(prim::symmetric_eigen(Tensor::zeros({4}, DType::f64)), std::invalid_argument);
  BOOST_CHECK_THROW(prim::symmetric_eigen(Tensor::zeros({2, 2}, DType::i64)), std::invalid_argument);
  const std::string msg = error_of([] { prim::symmetric_eigen(Tensor::zeros({2, 3, 4}, DType::f32)); });
  BOOST_TEST(msg.find("symmetric_eigen") != std::string::npos, msg);
  BOOST_TEST(msg.find("[2, 3, 4]") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(failure_names_the_batch_index) {
  LAPACKE_set_nancheck(1);  // LAPACKE's NaN check makes ?syev report a NaN input as info = -5
  std::vector<double> v(3 * 2 * 2, 0.0);
  v[1 * 4 + 2] = std::nan("");  // lower triangle of matrix 1
  const std::string msg = error_of([&] { prim::symmetric_eigen(f64(v, {3, 2, 2})); });
  BOOST_TEST(msg.find("symmetric_eigen") != std::string::npos, msg);
  BOOST_TEST(msg.find("batch index 1") != std::string::npos, msg);
  BOOST_CHECK_THROW(prim::symmetric_eigen(f64(v, {3, 2, 2})), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
