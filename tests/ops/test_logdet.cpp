// The SPD linear-algebra primitives (prim::gram, cholesky, cholesky_logdet, gram_cholesky,
// cholesky_solve, cholesky_inverse) and the differentiable ops::logdet, against the independent references of
// naive_linalg.hpp (Gaussian elimination, Gauss-Jordan), never against themselves.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <stdexcept>
#include <string>

#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "ops/ops.hpp"
#include "tests/ops/naive_linalg.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::param;
using wbtest::randn;

namespace {

Tensor eye(std::int64_t n, double c = 1.0) {
  return naive::to_tensor(naive::plus_scaled_identity(naive::Mat(n, n), 0.0, c));
}

// A batch of SPD matrices X X^T / n + c I, shape batch + (n, n), f64.
Tensor spd(const Shape& batch, std::int64_t n, std::uint64_t seed, double c = 0.5) {
  Shape xs = batch;
  xs.insert(xs.end(), {n, n + 2});
  const Tensor x = randn(xs, seed);
  const Tensor g = prim::matmul(x, prim::transpose(x, -1, -2));
  return prim::binary(prim::Binary::add, prim::unary(prim::Unary::mul_scalar, g, 1.0 / static_cast<double>(n)), eye(n, c));
}

std::int64_t batch_count(const Tensor& t) { return t.numel() / (t.size(-1) * t.size(-2)); }

// The runtime_error of f names every fragment.
template <class F>
void check_runtime_error(F&& f, std::initializer_list<std::string> fragments) {
  bool thrown = false;
  try {
    f();
  } catch (const std::runtime_error& e) {
    thrown = true;
    const std::string msg = e.what();
    for (const auto& frag : fragments)
      BOOST_TEST(msg.find(frag) != std::string::npos, "message '" << msg << "' does not mention '" << frag << "'");
  }
  BOOST_TEST(thrown, "no std::runtime_error was thrown");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(linalg_prims)

BOOST_AUTO_TEST_CASE(gram_both_forms_match_loops_on_strided_views) {
  // beta I + alpha X^T X and beta I + alpha X X^T of a (2, 3, 5, 4) batch, also of a transposed view.
  const Tensor x = randn({2, 3, 5, 4}, 1);
  for (const Tensor& v : {x, prim::transpose(randn({2, 3, 4, 5}, 2), -1, -2), prim::permute(randn({5, 2, 3, 4}, 3), {1, 2, 0, 3})}) {
    const Tensor xtx = prim::gram(v, prim::Gram::xtx, 0.7, 1.5), xxt = prim::gram(v, prim::Gram::xxt, -0.3, 0.0);
    BOOST_TEST((xtx.shape() == Shape{2, 3, 4, 4}));
    BOOST_TEST((xxt.shape() == Shape{2, 3, 5, 5}));
    const Tensor vc = prim::contiguous(v);
    for (std::int64_t b = 0; b < 6; ++b) {
      const naive::Mat m = naive::matrix(vc, b);
      const naive::Mat e1 = naive::plus_scaled_identity(naive::matmul(naive::transpose(m), m), 0.7, 1.5);
      const naive::Mat e2 = naive::plus_scaled_identity(naive::matmul(m, naive::transpose(m)), -0.3, 0.0);
      BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(xtx, b)), e1.v, 1e-12, 1e-12));
      BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(xxt, b)), e2.v, 1e-12, 1e-12));
    }
  }
}

BOOST_AUTO_TEST_CASE(gram_of_zero_width_is_the_scaled_identity) {
  const Tensor g = prim::gram(Tensor::zeros({3, 0}, DType::f64), prim::Gram::xxt, 2.0, 4.0);
  BOOST_TEST(wbtest::allclose(g, {4, 0, 0, 0, 4, 0, 0, 0, 4}));
}

BOOST_AUTO_TEST_CASE(cholesky_reconstructs_and_gives_logdet) {
  // Many small matrices (our pool, single-threaded LAPACK) and one larger one (OpenBLAS threads).
  for (const Tensor& a : {spd({4, 5}, 6, 10), spd({}, 150, 11)}) {
    const Tensor l = prim::cholesky(a);
    const Tensor ld = prim::cholesky_logdet(l);
    for (std::int64_t b = 0; b < batch_count(a); ++b) {
      const naive::Mat lm = naive::matrix(l, b), am = naive::matrix(a, b);
      for (std::int64_t i = 0; i < lm.rows; ++i)
        for (std::int64_t j = i + 1; j < lm.cols; ++j) BOOST_TEST(lm.at(i, j) == 0.0);
      BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matmul(lm, naive::transpose(lm))), am.v, 1e-10, 1e-10));
      BOOST_TEST(std::abs(ld.to_vector<double>()[static_cast<std::size_t>(b)] - naive::logdet(am)) <=
                 1e-9 * (1.0 + std::abs(naive::logdet(am))));
    }
  }
  // A 2x2 by hand: [[4, 2], [2, 3]] = L L^T with L = [[2, 0], [1, sqrt 2]], det 8.
  const Tensor l = prim::cholesky(Tensor::from_vector(std::vector<double>{4, 2, 2, 3}, {2, 2}));
  BOOST_TEST(wbtest::allclose(l, {2, 0, 1, std::sqrt(2.0)}, 1e-15, 1e-15));
  BOOST_TEST(std::abs(prim::cholesky_logdet(l).item() - std::log(8.0)) < 1e-14);
}

BOOST_AUTO_TEST_CASE(fused_gram_cholesky_matches_the_separate_steps) {
  // Batched small (parallel loop) and single large, both Gram forms, a strided view.
  for (const Tensor& x : {randn({3, 4, 7, 5}, 15), prim::transpose(randn({2, 9, 6}, 16), -1, -2), randn({160, 140}, 17)}) {
    for (const auto form : {prim::Gram::xtx, prim::Gram::xxt}) {
      const auto gc = prim::gram_cholesky(x, form, 0.3, 2.0);
      const Tensor g = prim::gram(x, form, 0.3, 2.0);
      BOOST_TEST(wbtest::allclose(gc.l, prim::cholesky(g), 1e-12, 1e-12));
      std::vector<double> expect;
      for (std::int64_t b = 0; b < batch_count(g); ++b) expect.push_back(naive::logdet(naive::matrix(g, b)));
      BOOST_TEST(wbtest::allclose(gc.logdet, expect, 1e-10, 1e-12));
    }
  }
  // beta = 0 and rank-deficient X (3 tokens, X X^T is 3x3 but X^T X is 4x4 of rank 3): not PD.
  check_runtime_error([] { prim::gram_cholesky(randn({2, 3, 4}, 18), prim::Gram::xtx, 1.0, 0.0, "my_op"); },
                      {"my_op", "batch index 0", "[2, 3, 4]", "X^T X", "pivot 3"});
}

BOOST_AUTO_TEST_CASE(solve_left_right_and_inverse_match_gauss_jordan) {
  const Tensor a = spd({3, 2}, 5, 20);
  const Tensor l = prim::cholesky(a);
  const Tensor bl = randn({3, 2, 5, 4}, 21), br = randn({3, 2, 4, 5}, 22);
  const Tensor xl = prim::cholesky_solve(l, bl, prim::Side::left, 2.0);
  const Tensor xr = prim::cholesky_solve(l, br, prim::Side::right, -1.0);
  // In place on a strided view: the transposed layout takes the other side inside the kernel.
  const Tensor bt = prim::contiguous(prim::transpose(bl, -1, -2));
  const Tensor view = prim::transpose(bt, -1, -2);
  prim::cholesky_solve_(l, view, prim::Side::left, 2.0);
  const Tensor inv = prim::cholesky_inverse(l);
  for (std::int64_t b = 0; b < 6; ++b) {
    const naive::Mat ai = naive::inverse(naive::matrix(a, b));
    naive::Mat el = naive::matmul(ai, naive::matrix(bl, b)), er = naive::matmul(naive::matrix(br, b), ai);
    for (auto& v : el.v) v *= 2.0;
    for (auto& v : er.v) v *= -1.0;
    BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(xl, b)), el.v, 1e-10, 1e-9));
    BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(xr, b)), er.v, 1e-10, 1e-9));
    BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(prim::contiguous(view), b)), el.v, 1e-10, 1e-9));
    BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(inv, b)), ai.v, 1e-10, 1e-9));
  }
}

BOOST_AUTO_TEST_CASE(not_positive_definite_names_batch_index_and_pivot) {
  // Batch (2, 3); matrix [1, 2] = flat index 5 is diag(1, 2, -1, 3): potrf stops at pivot 2 (0-based).
  Tensor a = prim::clone(spd({2, 3}, 4, 30));
  const Tensor bad = Tensor::from_vector(std::vector<double>{1, 0, 0, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0, 0, 0, 3}, {4, 4});
  prim::copy_(prim::select(prim::select(a, 0, 1), 0, 2), bad);
  check_runtime_error([&] { prim::cholesky(a); }, {"cholesky", "batch index 5", "[1, 2]", "[2, 3]", "pivot 2",
                                                   "leading 3x3 minor", "pivot value -1"});
  check_runtime_error([&] { ops::logdet(a); }, {"logdet", "batch index 5", "pivot 2"});
  // A non-square or integer argument is a usage error.
  wbtest::check_error([] { prim::cholesky(Tensor::zeros({3, 4}, DType::f64)); }, {"cholesky", "[3, 4]"});
  wbtest::check_error([&] { prim::cholesky_solve(prim::cholesky(spd({}, 3, 1)), randn({4, 2}, 2), prim::Side::left); },
                      {"cholesky_solve", "[3, 3]", "[4, 2]"});
  wbtest::check_error([] { prim::cholesky_(prim::transpose(Tensor::ones({3, 3}, DType::f64), 0, 1)); },
                      {"cholesky_", "contiguous"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(logdet)

BOOST_AUTO_TEST_CASE(forward_matches_elimination_f64_and_f32) {
  const Tensor a = spd({2, 3}, 7, 40);
  const Tensor y = ops::logdet(a);
  BOOST_TEST((y.shape() == Shape{2, 3}));
  std::vector<double> expect;
  for (std::int64_t b = 0; b < 6; ++b) expect.push_back(naive::logdet(naive::matrix(a, b)));
  BOOST_TEST(wbtest::allclose(y, expect, 1e-12, 1e-12));
  const Tensor y32 = ops::logdet(prim::cast(a, DType::f32));
  BOOST_TEST(y32.dtype() == DType::f32);
  BOOST_TEST(wbtest::allclose(prim::cast(y32, DType::f64), expect, 1e-5, 1e-5));
}

BOOST_AUTO_TEST_CASE(gradient_is_the_inverse) {
  // d logdet A / dA = A^{-1} (symmetric), scaled per batch element by the output gradient.
  const Tensor a = param(spd({3}, 5, 50));
  const Tensor dy = Tensor::from_vector(std::vector<double>{1.0, -2.0, 0.5}, {3});
  const Tensor g = wbtest::grad_of(ops::logdet(a), a, dy);
  for (std::int64_t b = 0; b < 3; ++b) {
    naive::Mat e = naive::inverse(naive::matrix(a, b));
    for (auto& v : e.v) v *= dy.to_vector<double>()[static_cast<std::size_t>(b)];
    BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(g, b)), e.v, 1e-12, 1e-10));
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_through_symmetric_constructions) {
  // logdet(X X^T + I) and logdet((S + S^T)/2 + 4I): finite differences see a symmetric A.
  const Tensor x = param(randn({2, 4, 6}, 60));
  wbtest::check_grad([](const std::vector<Tensor>& t) {
    return ops::logdet(ops::matmul(t[0], ops::transpose(t[0], -1, -2)) + eye(4));
  }, {x});
  const Tensor s = param(randn({3, 3}, 61));
  wbtest::check_grad([](const std::vector<Tensor>& t) {
    return ops::logdet((t[0] + ops::transpose(t[0], 0, 1)) * 0.5 + eye(3, 4.0));
  }, {s});
}

BOOST_AUTO_TEST_CASE(records_a_node_only_when_needed) {
  const Tensor a = param(spd({}, 3, 70));
  BOOST_TEST(std::string(ops::logdet(a).grad_fn()->name()) == "logdet");
  autograd::NoGradGuard guard;
  BOOST_TEST(!ops::logdet(a).grad_fn());
}

BOOST_AUTO_TEST_SUITE_END()
