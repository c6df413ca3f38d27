// Elementwise maps: exp, log, sqrt, pow, abs, tanh, square.
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
// Closed-form constants (16+ significant digits, from tables of e, ln 2, sqrt 2 and tanh).
constexpr double kE = 2.718281828459045;        // e
constexpr double kInvE = 0.36787944117144233;   // 1/e
constexpr double kLn2 = 0.6931471805599453;     // ln 2
constexpr double kSqrt2 = 1.4142135623730951;   // sqrt 2
constexpr double kTanh1 = 0.7615941559557649;   // tanh 1 = (e^2 - 1) / (e^2 + 1)
constexpr double kTanhHalf = 0.46211715726000974;  // tanh 0.5

}  // namespace

BOOST_AUTO_TEST_SUITE(unary)

BOOST_AUTO_TEST_CASE(forward_values) {
  BOOST_TEST(wbtest::allclose(ops::exp(f64({0, 1, -1, kLn2}, {4})), {1, kE, kInvE, 2}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::log(f64({1, kE, 2, 0.5}, {2, 2})), {0, 1, kLn2, -kLn2}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::sqrt(f64({0, 4, 2, 0.25}, {4})), {0, 2, kSqrt2, 0.5}, 1e-14, 1e-14));
  // x^3, x^0.5, x^-1, x^2 for negative bases where the power is an integer
  BOOST_TEST(wbtest::allclose(ops::pow(f64({2, -2, 0.5}, {3}), 3.0), {8, -8, 0.125}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::pow(f64({4, 9, 2}, {3}), 0.5), {2, 3, kSqrt2}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::pow(f64({4, -0.5}, {2}), -1.0), {0.25, -2}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::abs(f64({-1.5, 0, 2}, {3})), {1.5, 0, 2}));
  BOOST_TEST(wbtest::allclose(ops::tanh(f64({0, 1, -1, 0.5}, {4})), {0, kTanh1, -kTanh1, kTanhHalf}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::square(f64({-3, 0.5, 0}, {3})), {9, 0.25, 0}));
  // non-contiguous input: the transpose of [[1, 2], [3, 4]] squared
  BOOST_TEST(wbtest::allclose(ops::square(ops::transpose(f64({1, 2, 3, 4}, {2, 2}), 0, 1)), {1, 9, 4, 16}));
}

BOOST_AUTO_TEST_CASE(derivatives_by_hand) {
  // d/dx at hand-picked points, seed 1:
  //   exp'(1) = e, log'(2) = 1/2, sqrt'(4) = 1/(2*2), (x^3)'(2) = 12, (x^-1)'(2) = -1/4,
  //   |x|'(-1.5) = -1, |x|'(0) = 0 (the subgradient the header documents), tanh'(0) = 1,
  //   tanh'(1) = 1 - tanh(1)^2, (x^2)'(-3) = -6
  auto d = [](Tensor (*f)(const Tensor&), std::vector<double> x) {
    Tensor t = param(f64(x, {static_cast<std::int64_t>(x.size())}));
    return grad_of(f(t), t, Tensor::ones(t.shape(), DType::f64));
  };
  BOOST_TEST(wbtest::allclose(d(ops::exp, {1, 0}), {kE, 1}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(d(ops::log, {2, 0.25}), {0.5, 4}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(d(ops::sqrt, {4, 1}), {0.25, 0.5}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(d(ops::abs, {-1.5, 0, 2}), {-1, 0, 1}));
  BOOST_TEST(wbtest::allclose(d(ops::tanh, {0, 1}), {1, 1 - kTanh1 * kTanh1}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(d(ops::square, {-3, 0.5}), {-6, 1}));
  Tensor x = param(f64({2, -1}, {2}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::pow(x, 3.0), x, Tensor::ones({2}, DType::f64)), {12, 3}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(grad_of(ops::pow(x, -1.0), x, Tensor::ones({2}, DType::f64)), {-0.25, -1}, 1e-14, 1e-14));
}

BOOST_AUTO_TEST_CASE(gradchecks) {
  using V = std::vector<Tensor>;
  const Tensor x = param(randn({3, 4}, 1));
  const Tensor p = param(wbtest::positive({3, 4}, 2));
  wbtest::check_grad([](const V& t) { return ops::exp(t[0]); }, {x});
  wbtest::check_grad([](const V& t) { return ops::log(t[0]); }, {p});
  wbtest::check_grad([](const V& t) { return ops::sqrt(t[0]); }, {p});
  wbtest::check_grad([](const V& t) { return ops::pow(t[0], 3.0); }, {x});
  wbtest::check_grad([](const V& t) { return ops::pow(t[0], 2.0); }, {x});
  wbtest::check_grad([](const V& t) { return ops::pow(t[0], 0.5); }, {p});
  wbtest::check_grad([](const V& t) { return ops::pow(t[0], -1.5); }, {p});
  wbtest::check_grad([](const V& t) { return ops::abs(t[0]); }, {param(wbtest::away_from(randn({3, 4}, 3), 0.0, 0.1))});
  wbtest::check_grad([](const V& t) { return ops::tanh(t[0]); }, {x});
  wbtest::check_grad([](const V& t) { return ops::square(t[0]); }, {x});
  // through a transposed view and a slice
  wbtest::check_grad([](const V& t) { return ops::exp(ops::transpose(t[0], 0, 1)); }, {x});
  wbtest::check_grad([](const V& t) { return ops::tanh(ops::slice(t[0], 1, 0, 4, 2)); }, {x});
}

BOOST_AUTO_TEST_CASE(fan_out) {
  using V = std::vector<Tensor>;
  // x used by the map and directly: d/dx (x e^x) = (1 + x) e^x
  Tensor x = param(f64({0, 1}, {2}));
  BOOST_TEST(wbtest::allclose(grad_of(x * ops::exp(x), x, Tensor::ones({2}, DType::f64)), {1, 2 * kE}, 1e-14, 1e-14));
  wbtest::check_grad([](const V& t) { return ops::tanh(t[0]) * ops::square(t[0]) + ops::sqrt(ops::exp(t[0])); },
                     {param(randn({5}, 4))});
  wbtest::check_grad([](const V& t) { return ops::log(t[0]) / ops::pow(t[0], 1.5); }, {param(wbtest::positive({5}, 5))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const std::vector<Tensor> x = {randn({4, 5}, 6)}, p = {wbtest::positive({4, 5}, 7)};
  using V = std::vector<Tensor>;
  wbtest::check_f32_matches_f64([](const V& t) { return ops::exp(t[0]); }, x);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::log(t[0]); }, p);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::sqrt(t[0]); }, p);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::pow(t[0], 2.5); }, p);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::abs(t[0]); }, x);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::tanh(t[0]); }, x);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::square(t[0]); }, x);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor i = wbtest::ids({1, 2}, {2});
  wbtest::check_error([&] { return ops::exp(i); }, {"exp", "i64"});
  wbtest::check_error([&] { return ops::log(i); }, {"log", "i64"});
  wbtest::check_error([&] { return ops::pow(i, 2.0); }, {"pow", "i64"});
  wbtest::check_error([&] { return ops::tanh(Tensor()); }, {"tanh", "undefined"});
}

BOOST_AUTO_TEST_SUITE_END()
