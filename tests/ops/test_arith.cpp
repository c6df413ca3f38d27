// add, sub, mul, div (NumPy broadcasting), neg, add_scalar, mul_scalar.
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
using Fn = wb::autograd::TensorFn;
Tensor positive(const Shape& s, std::uint64_t seed) { return wbtest::uniform(s, seed, 0.5, 2.0); }
}  // namespace

BOOST_AUTO_TEST_SUITE(arith)

BOOST_AUTO_TEST_CASE(forward_values) {
  const Tensor a = f64({1, 2, 3, 4}, {2, 2});
  const Tensor b = f64({10, 20}, {2});
  BOOST_TEST(wbtest::allclose(a + b, {11, 22, 13, 24}));
  BOOST_TEST(wbtest::allclose(a - b, {-9, -18, -7, -16}));
  BOOST_TEST(wbtest::allclose(a * b, {10, 40, 30, 80}));
  BOOST_TEST(wbtest::allclose(a / b, {0.1, 0.1, 0.3, 0.2}));
  BOOST_TEST(wbtest::allclose(-a, {-1, -2, -3, -4}));
  BOOST_TEST(wbtest::allclose(2.0 - a * 0.5, {1.5, 1, 0.5, 0}));
  BOOST_TEST(wbtest::allclose(ops::add_scalar(a, -1.5), {-0.5, 0.5, 1.5, 2.5}));
  BOOST_TEST(wbtest::allclose(ops::mul_scalar(a, -3.0), {-3, -6, -9, -12}));
  BOOST_TEST(wbtest::allclose(a / 4.0, {0.25, 0.5, 0.75, 1.0}));
  // (2, 1) op (1, 3) -> (2, 3): outer sum and outer product
  const Tensor col = f64({1, 2}, {2, 1}), row = f64({10, 20, 30}, {1, 3});
  const Tensor s = col + row, p = col * row;
  BOOST_TEST((s.shape() == Shape{2, 3}));
  BOOST_TEST(wbtest::allclose(s, {11, 21, 31, 12, 22, 32}));
  BOOST_TEST(wbtest::allclose(p, {10, 20, 30, 20, 40, 60}));
  // a transposed (non-contiguous) operand: a^T = [[1, 3], [2, 4]]
  BOOST_TEST(wbtest::allclose(ops::transpose(a, 0, 1) - b, {-9, -17, -8, -16}));
}

BOOST_AUTO_TEST_CASE(broadcast_gradients_by_hand) {
  // y = a + b with a (3, 4), b (4) and seed S: da = S, db_j = sum_i S_ij (column sums).
  Tensor a = param(randn({3, 4}, 1)), b = param(randn({4}, 2));
  std::vector<double> s(12);
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<double>(i);  // S_ij = 4i + j
  const Tensor seed = f64(s, {3, 4});
  autograd::backward(a + b, seed);
  BOOST_TEST(wbtest::allclose(a.grad(), s));
  BOOST_TEST(wbtest::allclose(b.grad(), {0 + 4 + 8, 1 + 5 + 9, 2 + 6 + 10, 3 + 7 + 11}));
  // y = c * r with c (3, 1) = [1, 2, 3], r (1, 4) = [1, -1, 2, 0.5], seed 1:
  // dc_i = sum_j r_j = 2.5, dr_j = sum_i c_i = 6
  Tensor c = param(f64({1, 2, 3}, {3, 1})), r = param(f64({1, -1, 2, 0.5}, {1, 4}));
  autograd::backward(c * r, Tensor::ones({3, 4}, DType::f64));
  BOOST_TEST(wbtest::allclose(c.grad(), {2.5, 2.5, 2.5}));
  BOOST_TEST(wbtest::allclose(r.grad(), {6, 6, 6, 6}));
  // bias over a batch: x (2, 3, 4) + bias (4), seed 1 -> dbias_j = 2 * 3 = 6
  Tensor bias = param(f64({0, 0, 0, 0}, {4}));
  BOOST_TEST(wbtest::allclose(grad_of(randn({2, 3, 4}, 3) + bias, bias, Tensor::ones({2, 3, 4}, DType::f64)), {6, 6, 6, 6}));
  // y = a / b with a = 6, b = [2, 3] (broadcast), seed 1: da = 1/2 + 1/3, db_j = -a / b_j^2 = [-1.5, -2/3]
  Tensor a1 = param(f64({6}, {1})), b2 = param(f64({2, 3}, {2}));
  autograd::backward(a1 / b2, Tensor::ones({2}, DType::f64));
  BOOST_TEST(wbtest::allclose(a1.grad(), {1.0 / 2 + 1.0 / 3}));
  BOOST_TEST(wbtest::allclose(b2.grad(), {-1.5, -6.0 / 9}));
  // sub: d(a - b)/db = -1 summed over the broadcast axis
  Tensor v = param(f64({1, 2}, {2}));
  BOOST_TEST(wbtest::allclose(grad_of(randn({3, 2}, 4) - v, v, Tensor::ones({3, 2}, DType::f64)), {-3, -3}));
}

BOOST_AUTO_TEST_CASE(gradcheck_with_broadcasting) {
  const Tensor a = param(randn({3, 4}, 1));
  const Tensor b = param(randn({4}, 2));
  const Tensor c = param(randn({3, 1}, 3));
  const Tensor d = param(randn({1, 4}, 4));
  const Tensor x = param(randn({2, 3, 4}, 5));
  const Tensor s0 = param(randn({}, 6));  // 0-d scalar tensor
  const std::vector<std::pair<Fn, std::vector<Tensor>>> cases = {
      {[](const std::vector<Tensor>& t) { return t[0] + t[1]; }, {a, b}},
      {[](const std::vector<Tensor>& t) { return t[1] + t[0]; }, {a, b}},
      {[](const std::vector<Tensor>& t) { return t[0] - t[1]; }, {a, c}},
      {[](const std::vector<Tensor>& t) { return t[1] - t[0]; }, {a, b}},
      {[](const std::vector<Tensor>& t) { return t[0] * t[1]; }, {c, d}},  // (3,1)*(1,4)
      {[](const std::vector<Tensor>& t) { return t[0] * t[1]; }, {x, c}},  // (2,3,4)*(3,1)
      {[](const std::vector<Tensor>& t) { return t[0] + t[1]; }, {x, b}},  // bias add over a batch
      {[](const std::vector<Tensor>& t) { return t[0] * t[1]; }, {a, s0}},
      {[](const std::vector<Tensor>& t) { return t[0] / t[1]; }, {a, param(positive({4}, 7))}},
      {[](const std::vector<Tensor>& t) { return t[0] / t[1]; }, {c, param(positive({1, 4}, 8))}},
      {[](const std::vector<Tensor>& t) { return t[0] / t[1]; }, {param(positive({3, 1}, 9)), d}},
      {[](const std::vector<Tensor>& t) { return ops::transpose(t[0], 0, 1) * t[1]; }, {a, param(randn({3}, 10))}},
      {[](const std::vector<Tensor>& t) { return -t[0] * 3.0 + 1.0; }, {a}},
      {[](const std::vector<Tensor>& t) { return ops::mul_scalar(ops::add_scalar(t[0], 2.5), -0.75); }, {a}},
      {[](const std::vector<Tensor>& t) { return 1.0 - t[0] / 4.0; }, {a}},
  };
  for (const auto& [f, in] : cases) wbtest::check_grad(f, in);
}

BOOST_AUTO_TEST_CASE(only_one_operand_needs_a_gradient) {
  // The nodes save an operand only when the other one needs a gradient: check both directions.
  const Tensor a = param(randn({3, 4}, 11)), b = randn({4}, 12), p = positive({3, 4}, 13);
  wbtest::check_grad([&](const std::vector<Tensor>& t) { return t[0] * b; }, {a});
  wbtest::check_grad([&](const std::vector<Tensor>& t) { return b * t[0]; }, {a});
  wbtest::check_grad([&](const std::vector<Tensor>& t) { return t[0] / p; }, {a});
  wbtest::check_grad([&](const std::vector<Tensor>& t) { return b / t[0]; }, {param(p)});
}

BOOST_AUTO_TEST_CASE(fan_out) {
  // x*x: 2x; x+x: 2; x-x: 0; x/x: 0 (x != 0)
  Tensor x = param(f64({3, -2, 0.5}, {3}));
  const Tensor ones = Tensor::ones({3}, DType::f64);
  BOOST_TEST(wbtest::allclose(grad_of(x * x, x, ones), {6, -4, 1}));
  BOOST_TEST(wbtest::allclose(grad_of(x + x, x, ones), {2, 2, 2}));
  BOOST_TEST(wbtest::allclose(grad_of(x - x, x, ones), {0, 0, 0}));
  BOOST_TEST(wbtest::allclose(grad_of(x / x, x, ones), {0, 0, 0}, 1e-12));
  // two branches from one tensor: y = (x*3) * (x+1) = 3x^2 + 3x, dy/dx = 6x + 3
  BOOST_TEST(wbtest::allclose(grad_of((x * 3.0) * (x + 1.0), x, ones), {21, -9, 6}));
  // broadcast fan-out: b (4) used against a (3, 4) and itself
  const Tensor a = randn({3, 4}, 14);
  wbtest::check_grad([&](const std::vector<Tensor>& t) { return (a * t[0]) / (t[0] * t[0] + 1.0) - t[0]; },
                     {param(randn({4}, 15))});
  wbtest::check_grad([](const std::vector<Tensor>& t) { return t[0] * t[0] + t[0] / (t[1] * t[1] + 1.0); },
                     {param(randn({2, 3}, 16)), param(randn({3}, 17))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const std::vector<Tensor> in = {randn({3, 4}, 18), wbtest::uniform({4}, 19, 0.5, 2.0)};
  wbtest::check_f32_matches_f64([](const std::vector<Tensor>& t) { return (t[0] + t[1]) * t[0] - t[0] / t[1]; }, in);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor a = randn({3, 4}, 20);
  wbtest::check_error([&] { return ops::add(a, randn({3}, 21)); }, {"add", "[3, 4]", "[3]"});
  wbtest::check_error([&] { return ops::sub(a, randn({2, 4}, 22)); }, {"sub", "[2, 4]"});
  wbtest::check_error([&] { return ops::mul(a, randn({4}, 23, DType::f32)); }, {"mul", "f32", "f64"});
  wbtest::check_error([&] { return ops::div(a, wbtest::ids({1, 2, 3, 4}, {4})); }, {"div"});
  wbtest::check_error([&] { return ops::neg(wbtest::ids({1}, {1})); }, {"neg", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()
