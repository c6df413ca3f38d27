// layer_norm over the last axis, with and without gamma / beta.
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;
// Row [1, 2, 3, 4]: mean 2.5, var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25, rstd (eps 0) = 1/sqrt(1.25)
// = 0.8944271909999159, xhat = [-1.5, -0.5, 0.5, 1.5] * rstd.
// Row [-1, 1, -1, 1]: mean 0, var 1, xhat = the row itself.
constexpr double kR = 0.8944271909999159;
const std::vector<double> kXhat1 = {-1.5 * kR, -0.5 * kR, 0.5 * kR, 1.5 * kR};
}  // namespace

BOOST_AUTO_TEST_SUITE(layer_norm)

BOOST_AUTO_TEST_CASE(forward_by_hand) {
  const Tensor x = f64({1, 2, 3, 4, -1, 1, -1, 1}, {2, 4});
  const Tensor none;
  BOOST_TEST(wbtest::allclose(ops::layer_norm(x, none, none, 0.0),
                              {kXhat1[0], kXhat1[1], kXhat1[2], kXhat1[3], -1, 1, -1, 1}, 1e-14, 1e-14));
  // y = gamma * xhat + beta with gamma [1, 2, 0.5, -1], beta [0, 1, -1, 0.5]
  const Tensor g = f64({1, 2, 0.5, -1}, {4}), b = f64({0, 1, -1, 0.5}, {4});
  BOOST_TEST(wbtest::allclose(ops::layer_norm(x, g, b, 0.0),
                              {kXhat1[0], 2 * kXhat1[1] + 1, 0.5 * kXhat1[2] - 1, -kXhat1[3] + 0.5,  //
                               -1, 2 + 1, -0.5 - 1, -1 + 0.5},
                              1e-14, 1e-14));
  // gamma only / beta only
  BOOST_TEST(wbtest::allclose(ops::layer_norm(x, none, b, 0.0),
                              {kXhat1[0], kXhat1[1] + 1, kXhat1[2] - 1, kXhat1[3] + 0.5, -1, 2, -2, 1.5}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::layer_norm(x, g, none, 0.0),
                              {kXhat1[0], 2 * kXhat1[1], 0.5 * kXhat1[2], -kXhat1[3], -1, 2, -0.5, -1}, 1e-14, 1e-14));
  // eps enters under the root: var 1 with eps 3 gives rstd 1/2
  BOOST_TEST(wbtest::allclose(ops::layer_norm(f64({-1, 1, -1, 1}, {4}), none, none, 3.0), {-0.5, 0.5, -0.5, 0.5}, 1e-15));
  // a constant row has xhat 0 (finite thanks to eps): y = beta
  BOOST_TEST(wbtest::allclose(ops::layer_norm(f64({2, 2, 2, 2}, {1, 4}), g, b), {0, 1, -1, 0.5}, 1e-12));
}

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  // Jacobian of xhat: d xhat_j / d x_i = rstd (delta_ij - 1/D - xhat_i xhat_j / D). For the row
  // [1, 2, 3, 4] (eps 0) and dy = e_0: dx_i = rstd (delta_i0 - 1/4 - xhat_0 xhat_i / 4).
  Tensor x = param(f64({1, 2, 3, 4}, {1, 4}));
  std::vector<double> want(4);
  for (int i = 0; i < 4; ++i) want[i] = kR * ((i == 0 ? 1.0 : 0.0) - 0.25 - kXhat1[0] * kXhat1[i] / 4);
  BOOST_TEST(wbtest::allclose(grad_of(ops::layer_norm(x, Tensor(), Tensor(), 0.0), x, f64({1, 0, 0, 0}, {1, 4})), want,
                              1e-14, 1e-13));
  // a seed of ones: sum(xhat) = 0 for any x, so dx = 0
  BOOST_TEST(wbtest::allclose(grad_of(ops::layer_norm(x, Tensor(), Tensor(), 0.0), x, Tensor::ones({1, 4}, DType::f64)),
                              {0, 0, 0, 0}, 1e-14));
  // dgamma = sum over rows of dy * xhat, dbeta = sum over rows of dy; dy = ones over the two rows
  Tensor g = param(f64({1, 2, 0.5, -1}, {4})), b = param(f64({0, 1, -1, 0.5}, {4}));
  const Tensor x2 = f64({1, 2, 3, 4, -1, 1, -1, 1}, {2, 4});
  autograd::backward(ops::layer_norm(x2, g, b, 0.0), Tensor::ones({2, 4}, DType::f64));
  BOOST_TEST(wbtest::allclose(g.grad(), {kXhat1[0] - 1, kXhat1[1] + 1, kXhat1[2] - 1, kXhat1[3] + 1}, 1e-14, 1e-13));
  BOOST_TEST(wbtest::allclose(b.grad(), {2, 2, 2, 2}));
}

BOOST_AUTO_TEST_CASE(gradchecks) {
  const Tensor x = param(randn({2, 3, 5}, 1, DType::f64, 2.0));
  const Tensor g = param(randn({5}, 2)), b = param(randn({5}, 3));
  wbtest::check_grad([](const V& t) { return ops::layer_norm(t[0], t[1], t[2]); }, {x, g, b});
  wbtest::check_grad([](const V& t) { return ops::layer_norm(t[0], Tensor(), Tensor()); }, {x});
  wbtest::check_grad([](const V& t) { return ops::layer_norm(t[0], t[1], Tensor()); }, {x, g});
  wbtest::check_grad([](const V& t) { return ops::layer_norm(t[0], Tensor(), t[1]); }, {x, b});
  // constant x, gradients for the parameters only; constant parameters, gradient for x only
  const Tensor cx = randn({4, 5}, 4);
  wbtest::check_grad([&](const V& t) { return ops::layer_norm(cx, t[0], t[1]); }, {g, b});
  const Tensor cg = randn({5}, 5), cb = randn({5}, 6);
  wbtest::check_grad([&](const V& t) { return ops::layer_norm(t[0], cg, cb, 0.1); }, {x});
  // non-contiguous input and fan-out: x feeds the norm and the residual
  wbtest::check_grad([](const V& t) { return ops::layer_norm(ops::transpose(t[0], 0, 1), t[1], t[2]) + ops::transpose(t[0], 0, 1); },
                     {param(randn({5, 4}, 7)), g, b});
  // gamma used twice: as the scale and again outside
  wbtest::check_grad([](const V& t) { return ops::layer_norm(t[0], t[1], Tensor()) * t[1]; }, {x, g});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const V in = {randn({3, 8}, 8, DType::f64, 3.0), randn({8}, 9), randn({8}, 10)};
  wbtest::check_f32_matches_f64([](const V& t) { return ops::layer_norm(t[0], t[1], t[2]); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::layer_norm(t[0], Tensor(), Tensor()); }, in);
}

BOOST_AUTO_TEST_CASE(f32_vector_path_agrees_with_f64) {
  // f32 rows with D >= 16 take the vectorized kernels: D = 37 (two vectors and a tail), 70 rows (blocks
  // of 8 for the statistics, of 64 for the parameter gradients, each with a remainder)
  const V in = {randn({70, 37}, 15, DType::f64, 3.0), randn({37}, 16), randn({37}, 17)};
  wbtest::check_f32_matches_f64([](const V& t) { return ops::layer_norm(t[0], t[1], t[2]); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::layer_norm(t[0], Tensor(), Tensor()); }, in);
  wbtest::check_f32_grads_match_f64([](const V& t) { return ops::layer_norm(t[0], t[1], t[2]); }, in, 1e-4, 1e-4);
  wbtest::check_f32_grads_match_f64([](const V& t) { return ops::layer_norm(t[0], Tensor(), t[1]); }, {in[0], in[2]}, 1e-4,
                                    1e-4);
  // a row far from zero (mean 1000, spread 1): the one-pass variance must not cancel
  const Tensor shifted = prim::unary(prim::Unary::add_scalar, randn({3, 48}, 18), 1000.0);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::layer_norm(t[0], Tensor(), Tensor()); }, {shifted}, 2e-3, 1e-3);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({2, 4}, 11);
  wbtest::check_error([&] { return ops::layer_norm(x, randn({3}, 12), Tensor()); }, {"layer_norm", "[3]", "[2, 4]"});
  wbtest::check_error([&] { return ops::layer_norm(x, Tensor(), randn({1, 4}, 13)); }, {"layer_norm", "[1, 4]"});
  wbtest::check_error([&] { return ops::layer_norm(x, randn({4}, 14, DType::f32), Tensor()); }, {"layer_norm", "f32"});
  wbtest::check_error([&] { return ops::layer_norm(wbtest::ids({1, 2}, {2}), Tensor(), Tensor()); }, {"layer_norm", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()
