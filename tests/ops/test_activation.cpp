// relu, gelu (exact erf form) and soft_threshold. Gradchecks sample away from the kinks (house style 18).
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
// Standard normal CDF and density from tables: Phi(1) = 0.8413447460685429,
// Phi(2) = 0.9772498680518208, phi(1) = exp(-1/2) / sqrt(2 pi) = 0.24197072451914337,
// phi(2) = exp(-2) / sqrt(2 pi) = 0.05399096651318806.
constexpr double kPhi1 = 0.8413447460685429, kPhi2 = 0.9772498680518208;
constexpr double kpdf1 = 0.24197072451914337, kpdf2 = 0.05399096651318806;
using V = std::vector<Tensor>;
}  // namespace

BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(relu_values_and_gradient) {
  Tensor x = param(f64({-2, -0.5, 0.5, 3}, {2, 2}));
  BOOST_TEST(wbtest::allclose(ops::relu(x), {0, 0, 0.5, 3}));
  // seed [1, 2, 3, 4]: passes where x > 0
  BOOST_TEST(wbtest::allclose(grad_of(ops::relu(x), x, f64({1, 2, 3, 4}, {2, 2})), {0, 0, 3, 4}));
  wbtest::check_grad([](const V& t) { return ops::relu(t[0]); }, {param(wbtest::away_from(randn({4, 5}, 1), 0.0, 0.05))});
}

BOOST_AUTO_TEST_CASE(gelu_values_and_gradient) {
  // gelu(x) = x Phi(x): gelu(0) = 0, gelu(1) = Phi(1), gelu(-1) = -(1 - Phi(1)), gelu(2) = 2 Phi(2)
  Tensor x = param(f64({0, 1, -1, 2}, {4}));
  BOOST_TEST(wbtest::allclose(ops::gelu(x), {0, kPhi1, -(1 - kPhi1), 2 * kPhi2}, 1e-14, 1e-13));
  // gelu'(x) = Phi(x) + x phi(x): 0.5, Phi(1) + phi(1), 1 - Phi(1) - phi(1), Phi(2) + 2 phi(2)
  BOOST_TEST(wbtest::allclose(grad_of(ops::gelu(x), x, Tensor::ones({4}, DType::f64)),
                              {0.5, kPhi1 + kpdf1, 1 - kPhi1 - kpdf1, kPhi2 + 2 * kpdf2}, 1e-14, 1e-13));
  wbtest::check_grad([](const V& t) { return ops::gelu(t[0]); }, {param(randn({4, 5}, 2, DType::f64, 2.0))});
}

BOOST_AUTO_TEST_CASE(soft_threshold_values_and_gradient) {
  // max(x - 0.5, 0): [-1, 0.2, 0.7, 2] -> [0, 0, 0.2, 1.5]; derivative 1 where x > 0.5
  Tensor x = param(f64({-1, 0.2, 0.7, 2}, {4}));
  BOOST_TEST(wbtest::allclose(ops::soft_threshold(x, 0.5), {0, 0, 0.2, 1.5}, 1e-15));
  BOOST_TEST(wbtest::allclose(grad_of(ops::soft_threshold(x, 0.5), x, f64({1, 2, 3, 4}, {4})), {0, 0, 3, 4}));
  // t = 0 is relu
  BOOST_TEST(wbtest::allclose(ops::soft_threshold(x, 0.0), ops::relu(x)));
  // inputs at least 0.05 from the kink at t
  for (double t : {0.1, 0.5}) {
    wbtest::check_grad([t](const V& in) { return ops::soft_threshold(in[0], t); },
                       {param(wbtest::away_from(randn({4, 5}, 3), t, 0.05))});
  }
}

BOOST_AUTO_TEST_CASE(fan_out) {
  // y = relu(x) * x = x^2 for x > 0 else 0: dy/dx = 2x or 0
  Tensor x = param(f64({-1, 2}, {2}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::relu(x) * x, x, Tensor::ones({2}, DType::f64)), {0, 4}));
  wbtest::check_grad([](const V& t) { return ops::gelu(t[0]) + ops::soft_threshold(t[0], 0.3) * ops::relu(t[0]); },
                     {param(f64({-1.2, -0.4, 0.15, 0.6, 1.1, 2.0}, {6}))});  // away from 0 and 0.3
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const std::vector<Tensor> x = {randn({4, 5}, 5, DType::f64, 2.0)};
  wbtest::check_f32_matches_f64([](const V& t) { return ops::relu(t[0]); }, x);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::gelu(t[0]); }, x);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::soft_threshold(t[0], 0.25); }, x);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor i = wbtest::ids({1, 2}, {2});
  wbtest::check_error([&] { return ops::relu(i); }, {"relu", "i64"});
  wbtest::check_error([&] { return ops::gelu(i); }, {"gelu", "i64"});
  wbtest::check_error([&] { return ops::soft_threshold(i, 0.1); }, {"soft_threshold", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()
