// Forward values of the compute primitives against hand-computed results.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

BOOST_AUTO_TEST_SUITE(primitives)

namespace {
Tensor f64(std::vector<double> v, Shape s) { return Tensor::from_vector(v, s); }

// Reference matmul by loops, for checking every transpose combination.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const auto av = prim::contiguous(a).to_vector<double>(), bv = prim::contiguous(b).to_vector<double>();
  const std::int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  std::vector<double> c(static_cast<std::size_t>(m * n), 0.0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      for (std::int64_t p = 0; p < k; ++p)
        c[static_cast<std::size_t>(i * n + j)] += av[static_cast<std::size_t>(i * k + p)] * bv[static_cast<std::size_t>(p * n + j)];
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(binary_broadcasting) {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor row = f64({10, 20, 30}, {3});
  const Tensor col = f64({100, 200}, {2, 1});
  BOOST_TEST(wbtest::allclose(prim::binary(prim::Binary::add, a, row), {11, 22, 33, 14, 25, 36}));
  BOOST_TEST(wbtest::allclose(prim::binary(prim::Binary::mul, a, col), {100, 200, 300, 800, 1000, 1200}));
  BOOST_TEST(wbtest::allclose(prim::binary(prim::Binary::sub, col, row), {90, 80, 70, 190, 180, 170}));
  BOOST_TEST(wbtest::allclose(prim::binary(prim::Binary::div, a, prim::transpose(f64({1, 2, 4, 1, 2, 4}, {3, 2}), 0, 1)),
                              {1, 0.5, 1.5, 2, 5, 1.5}));
  BOOST_CHECK_THROW(prim::binary(prim::Binary::add, a, f64({1, 2}, {2})), std::invalid_argument);
  BOOST_CHECK_THROW(prim::binary(prim::Binary::add, a, Tensor::zeros({3})), std::invalid_argument);  // f32 vs f64
}

BOOST_AUTO_TEST_CASE(unary_maps) {
  const Tensor x = f64({-1.5, 0.0, 2.0}, {3});
  BOOST_TEST(wbtest::allclose(prim::unary(prim::Unary::relu, x), {0, 0, 2}));
  BOOST_TEST(wbtest::allclose(prim::unary(prim::Unary::soft_threshold, x, 0.5), {0, 0, 1.5}));
  BOOST_TEST(wbtest::allclose(prim::unary(prim::Unary::abs, x), {1.5, 0, 2}));
  BOOST_TEST(wbtest::allclose(prim::unary(prim::Unary::exp, x), {std::exp(-1.5), 1.0, std::exp(2.0)}));
  // gelu(x) = x Phi(x): gelu(2) = 2 * 0.977249868..., gelu(-1.5) = -1.5 * 0.0668072013...
  BOOST_TEST(wbtest::allclose(prim::unary(prim::Unary::gelu, x), {-1.5 * 0.0668072012688581, 0.0, 2 * 0.977249868051821}));
}

BOOST_AUTO_TEST_CASE(sums_and_max) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2});
  BOOST_TEST(wbtest::allclose(prim::sum(x, {}), {78}));
  BOOST_TEST(wbtest::allclose(prim::sum(x, {0}), {8, 10, 12, 14, 16, 18}));
  BOOST_TEST(wbtest::allclose(prim::sum(x, {1}), {9, 12, 27, 30}));
  const Tensor s02 = prim::sum(x, {0, 2}, true);
  BOOST_TEST((s02.shape() == Shape{1, 3, 1}));
  BOOST_TEST(wbtest::allclose(s02, {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12}));
  // transpose(x, 0, 2)[i][j][k] = x[k][j][i] = 1 + 6k + 2j + i; summing k gives 8 + 4j + 2i
  BOOST_TEST(wbtest::allclose(prim::sum(prim::transpose(x, 0, 2), {2}), {8, 12, 16, 10, 14, 18}));
  const auto m = prim::max(f64({3, 9, 2, 9, 1, 0}, {2, 3}), 1);
  BOOST_TEST(wbtest::allclose(m.values, {9, 9}));
  BOOST_TEST((m.indices.to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 0}));
  BOOST_TEST(wbtest::allclose(prim::reduce_to_shape(x, {3, 1}), {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12}));
}

BOOST_AUTO_TEST_CASE(matmul_every_transpose_combination) {
  const Tensor a = wbtest::randn({5, 4}, 1);
  const Tensor b = wbtest::randn({4, 3}, 2);
  const auto want = naive_matmul(a, b);
  const Tensor at = prim::contiguous(prim::transpose(a, 0, 1));  // (4, 5)
  const Tensor bt = prim::contiguous(prim::transpose(b, 0, 1));  // (3, 4)
  BOOST_TEST(wbtest::allclose(prim::matmul(a, b), want, 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(prim::matmul(prim::transpose(at, 0, 1), b), want, 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(prim::matmul(a, prim::transpose(bt, 0, 1)), want, 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(prim::matmul(prim::transpose(at, 0, 1), prim::transpose(bt, 0, 1)), want, 1e-12, 1e-12));
  BOOST_CHECK_THROW(prim::matmul(a, a), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(batched_matmul_with_broadcast) {
  const Tensor a = wbtest::randn({2, 3, 5, 4}, 3);
  const Tensor w = wbtest::randn({4, 6}, 4);
  const Tensor bb = wbtest::randn({3, 4, 6}, 5);
  const Tensor y = prim::matmul(a, w);
  const Tensor y2 = prim::matmul(a, bb);
  BOOST_TEST((y.shape() == Shape{2, 3, 5, 6}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j) {
      const Tensor ai = prim::select(prim::select(a, 0, i), 0, j);
      BOOST_TEST(wbtest::allclose(prim::select(prim::select(y, 0, i), 0, j), naive_matmul(ai, w), 1e-12, 1e-12));
      BOOST_TEST(wbtest::allclose(prim::select(prim::select(y2, 0, i), 0, j), naive_matmul(ai, prim::select(bb, 0, j)),
                                  1e-12, 1e-12));
    }
  // transposed batched operand (attention's Q K^T) goes in as a flag
  const Tensor q = wbtest::randn({3, 5, 4}, 6);
  const Tensor s = prim::matmul(q, prim::transpose(q, -1, -2));
  for (std::int64_t j = 0; j < 3; ++j) {
    const Tensor qj = prim::select(q, 0, j);
    BOOST_TEST(wbtest::allclose(prim::select(s, 0, j), naive_matmul(qj, prim::transpose(qj, 0, 1)), 1e-12, 1e-12));
  }
}

BOOST_AUTO_TEST_CASE(softmax_and_log_softmax_values) {
  // softmax([1, 2, 3]) = e^(x - 3) / sum = [0.0900305732, 0.2447284711, 0.6652409558]
  const Tensor x = f64({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  BOOST_TEST(wbtest::allclose(prim::softmax(x, 1),
                              {0.09003057317038046, 0.24472847105479767, 0.6652409557748219, 1. / 3, 1. / 3, 1. / 3}));
  BOOST_TEST(wbtest::allclose(prim::log_softmax(x, -1),
                              {std::log(0.09003057317038046), std::log(0.24472847105479767), std::log(0.6652409557748219),
                               -std::log(3.0), -std::log(3.0), -std::log(3.0)}));
  // along axis 0: columns [1, 1000] -> [0, 1]
  BOOST_TEST(wbtest::allclose(prim::softmax(x, 0), {0, 0, 0, 1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(layer_norm_values) {
  // x = [1, 2, 3]: mean 2, var 2/3, xhat = [-1.22474487, 0, 1.22474487] (eps 0)
  const Tensor x = f64({1, 2, 3}, {1, 3});
  const auto r = prim::layer_norm(x, f64({1, 2, 3}, {3}), f64({0, 1, 0}, {3}), 0.0);
  BOOST_TEST(wbtest::allclose(r.y, {-1.224744871391589, 1.0, 3 * 1.224744871391589}));
  BOOST_TEST(wbtest::allclose(r.mean, {2.0}));
  BOOST_TEST(wbtest::allclose(r.rstd, {1.0 / std::sqrt(2.0 / 3.0)}));
}

BOOST_AUTO_TEST_CASE(cross_entropy_values) {
  // logits [0, ln 3] -> p = [1/4, 3/4]; target 1: loss = -ln(3/4). Row 2 ignored.
  const Tensor logits = f64({0, std::log(3.0), 5, 5}, {2, 2});
  const Tensor target = Tensor::from_vector(std::vector<std::int64_t>{1, -100}, {2});
  auto r = prim::cross_entropy(logits, target, -100, 0.0);
  BOOST_TEST(r.count == 1);
  BOOST_TEST(std::abs(r.loss.item() + std::log(0.75)) < 1e-12);
  // smoothing 0.2 over C = 2: q = [0.1, 0.9]; loss = -(0.1 ln 1/4 + 0.9 ln 3/4)
  r = prim::cross_entropy(logits, target, -100, 0.2);
  BOOST_TEST(std::abs(r.loss.item() + (0.1 * std::log(0.25) + 0.9 * std::log(0.75))) < 1e-12);
  const Tensor bad = Tensor::from_vector(std::vector<std::int64_t>{2, 0}, {2});
  BOOST_CHECK_THROW(prim::cross_entropy(logits, bad, -100, 0.0), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(index_primitives) {
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {3, 2});
  const Tensor idx = Tensor::from_vector(std::vector<std::int64_t>{2, 0, 2}, {3});
  BOOST_TEST(wbtest::allclose(prim::index_select(x, 0, idx), {5, 6, 1, 2, 5, 6}));
  Tensor acc = Tensor::zeros({3, 2}, DType::f64);
  prim::index_add_(acc, 0, idx, Tensor::ones({3, 2}, DType::f64));
  BOOST_TEST(wbtest::allclose(acc, {1, 1, 0, 0, 2, 2}));
  const Tensor gi = Tensor::from_vector(std::vector<std::int64_t>{1, 0, 0, 0, 1, 1}, {3, 2});
  BOOST_TEST(wbtest::allclose(prim::gather(x, 1, prim::slice(gi, 1, 0, 1)), {2, 3, 6}));
  BOOST_CHECK_THROW(prim::index_select(x, 0, Tensor::from_vector(std::vector<std::int64_t>{3}, {1})), std::invalid_argument);
  const Tensor mask = f64({1, 0}, {2});
  BOOST_TEST(wbtest::allclose(prim::masked_fill(x, mask, -9), {-9, 2, -9, 4, -9, 6}));
}

BOOST_AUTO_TEST_SUITE_END()
