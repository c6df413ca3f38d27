// The first steps of SGD, AdamW and Lion against hand-computed updates. Gradients are set by hand
// (set_grad), so every number below follows from the update rule alone; the arithmetic is in the
// comments and the expected values are literals or an independent scalar re-derivation.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "ops/optim/optim.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

Tensor vec(const std::vector<double>& v) { return Tensor::from_vector(v, {static_cast<std::int64_t>(v.size())}); }

void set_grad(const Tensor& p, const std::vector<double>& g) { p.set_grad(vec(g)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(update_rules)

BOOST_AUTO_TEST_CASE(sgd_plain_is_p_minus_lr_g) {
  Tensor p = wbtest::param(vec({1, -2}));
  optim::SGD sgd({{.params = {p}, .lr = 0.1}});
  BOOST_TEST(sgd.buffer_names().empty());  // no momentum, no state buffers
  set_grad(p, {0.5, -1});
  sgd.step();  // [1 - 0.05, -2 + 0.1]
  BOOST_TEST(wbtest::allclose(p, {0.95, -1.9}, 1e-15, 0.0));
  set_grad(p, {0.2, 0.3});
  sgd.step();  // [0.95 - 0.02, -1.9 - 0.03]
  BOOST_TEST(wbtest::allclose(p, {0.93, -1.93}, 1e-15, 0.0));
}

BOOST_AUTO_TEST_CASE(sgd_momentum_with_weight_decay_in_the_gradient) {
  // lr 0.1, momentum 0.9, wd 0.01, p0 = [1, -2]
  Tensor p = wbtest::param(vec({1, -2}));
  optim::SGD sgd({{.params = {p}, .lr = 0.1, .weight_decay = 0.01}}, {.momentum = 0.9});
  // step 1: g = [0.5, -1]; d = g + 0.01 p = [0.51, -1.02]; buf = d; p = p - 0.1 d = [0.949, -1.898]
  set_grad(p, {0.5, -1});
  sgd.step();
  BOOST_TEST(wbtest::allclose(p, {0.949, -1.898}, 1e-14, 0.0));
  BOOST_TEST(wbtest::allclose(sgd.state(0, 0).buffers[0], {0.51, -1.02}, 1e-14, 0.0));
  BOOST_TEST(wbtest::allclose(p.grad(), {0.5, -1}, 0.0, 0.0));  // the gradient itself is not modified
  // step 2: g = [0.2, 0.3]; d = g + 0.01 p = [0.20949, 0.28102]
  //         buf = 0.9 [0.51, -1.02] + d = [0.66849, -0.63698]; p = p - 0.1 buf = [0.882151, -1.834302]
  set_grad(p, {0.2, 0.3});
  sgd.step();
  BOOST_TEST(wbtest::allclose(sgd.state(0, 0).buffers[0], {0.66849, -0.63698}, 1e-14, 0.0));
  BOOST_TEST(wbtest::allclose(p, {0.882151, -1.834302}, 1e-14, 0.0));
  BOOST_TEST(sgd.state(0, 0).step == 2);
}

BOOST_AUTO_TEST_CASE(sgd_nesterov) {
  // lr 0.1, momentum 0.9, nesterov, p0 = [1, -2]
  Tensor p = wbtest::param(vec({1, -2}));
  optim::SGD sgd({{.params = {p}, .lr = 0.1}}, {.momentum = 0.9, .nesterov = true});
  // step 1: buf = g = [0.5, -1]; d = g + 0.9 buf = [0.95, -1.9]; p = [0.905, -1.81]
  set_grad(p, {0.5, -1});
  sgd.step();
  BOOST_TEST(wbtest::allclose(p, {0.905, -1.81}, 1e-14, 0.0));
  // step 2: buf = 0.9 [0.5, -1] + [0.2, 0.3] = [0.65, -0.6]; d = g + 0.9 buf = [0.785, -0.24]
  //         p = [0.905 - 0.0785, -1.81 + 0.024] = [0.8265, -1.786]
  set_grad(p, {0.2, 0.3});
  sgd.step();
  BOOST_TEST(wbtest::allclose(p, {0.8265, -1.786}, 1e-14, 0.0));
}

BOOST_AUTO_TEST_CASE(sgd_dampening_spares_the_first_step) {
  // PyTorch: the first step copies d into the buffer without dampening.
  Tensor p = wbtest::param(vec({1, -2}));
  optim::SGD sgd({{.params = {p}, .lr = 0.1}}, {.momentum = 0.9, .dampening = 0.5});
  set_grad(p, {0.5, -1});
  sgd.step();  // buf = [0.5, -1]; p = [0.95, -1.9]
  BOOST_TEST(wbtest::allclose(p, {0.95, -1.9}, 1e-14, 0.0));
  set_grad(p, {0.2, 0.3});
  sgd.step();  // buf = 0.9 [0.5, -1] + 0.5 [0.2, 0.3] = [0.55, -0.75]; p = [0.895, -1.825]
  BOOST_TEST(wbtest::allclose(p, {0.895, -1.825}, 1e-14, 0.0));
}

BOOST_AUTO_TEST_CASE(sgd_rejects_bad_options) {
  Tensor p = wbtest::param(vec({1}));
  BOOST_CHECK_THROW(optim::SGD({{.params = {p}}}, {.nesterov = true}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {p}}}, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {p}}}, {.momentum = -0.1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(adamw_first_steps) {
  // lr 0.1, wd 0.1, betas (0.9, 0.999), eps 1e-8, p0 = [1, -2, 0.5]
  Tensor p = wbtest::param(vec({1, -2, 0.5}));
  optim::AdamW adam({{.params = {p}, .lr = 0.1, .weight_decay = 0.1}});
  // step 1: g = [0.5, -1, 0]
  //   p *= 1 - 0.1*0.1            -> [0.99, -1.98, 0.495]
  //   m = 0.1 g = [0.05, -0.1, 0];  v = 0.001 g^2 = [0.00025, 0.001, 0]
  //   bias corrections 0.1 and 0.001: m/0.1 = g, sqrt(v / 0.001) = |g|
  //   p -= 0.1 g / (|g| + 1e-8)   -> [0.99 - 0.1 * 0.5/(0.5 + 1e-8), -1.98 + 0.1 * 1/(1 + 1e-8), 0.495]
  //   (the zero gradient moves nothing: 0 / (0 + eps) = 0)
  set_grad(p, {0.5, -1, 0});
  adam.step();
  BOOST_TEST(wbtest::allclose(p, {0.99 - 0.05 / (0.5 + 1e-8), -1.98 + 0.1 / (1 + 1e-8), 0.495}, 1e-14, 0.0));
  BOOST_TEST(wbtest::allclose(p, {0.89, -1.88, 0.495}, 1e-8, 0.0));  // eps visible only at 1e-9
  BOOST_TEST(wbtest::allclose(adam.state(0, 0).buffers[0], {0.05, -0.1, 0}, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(adam.state(0, 0).buffers[1], {0.00025, 0.001, 0}, 1e-16, 1e-12));

  // steps 2 and 3, re-derived per element in plain double arithmetic:
  //   step 2: g = [0.2, 0.3, -0.4]; m = [0.065, -0.06, -0.04]; v = [0.00028975, 0.001089, 0.00016]
  //           bc1 = 1 - 0.9^2 = 0.19, bc2 = 1 - 0.999^2 = 0.001999
  std::vector<double> ref = {1, -2, 0.5}, m(3, 0.0), v(3, 0.0);
  const std::vector<std::vector<double>> grads = {{0.5, -1, 0}, {0.2, 0.3, -0.4}, {-0.1, 0.05, 0.3}};
  for (int t = 1; t <= 3; ++t) {
    for (int i = 0; i < 3; ++i) {
      const double g = grads[t - 1][i];
      ref[i] *= 1.0 - 0.1 * 0.1;
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double mhat = m[i] / (1.0 - std::pow(0.9, t));
      const double vhat = v[i] / (1.0 - std::pow(0.999, t));
      ref[i] -= 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
    }
    if (t == 1) continue;  // step 1 was taken above
    set_grad(p, grads[t - 1]);
    adam.step();
    BOOST_TEST(wbtest::allclose(p, ref, 1e-13, 0.0), "step " << t);
  }
  BOOST_TEST(wbtest::allclose(adam.state(0, 0).buffers[0], m, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(adam.state(0, 0).buffers[1], v, 1e-17, 1e-12));
  BOOST_TEST(adam.state(0, 0).step == 3);
}

BOOST_AUTO_TEST_CASE(adamw_f32_matches_f64_reference) {
  // The same step in f32 agrees with the f64 arithmetic to f32 precision.
  Tensor p = wbtest::param(Tensor::from_vector(std::vector<float>{1, -2, 0.5f}, {3}));
  optim::AdamW adam({{.params = {p}, .lr = 0.01, .weight_decay = 0.05}}, {.beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6});
  p.set_grad(Tensor::from_vector(std::vector<float>{0.25f, -4, 1e-3f}, {3}));
  adam.step();
  // m = 0.2 g, v = 0.05 g^2, so mhat = g, sqrt(vhat) = |g|: p = p (1 - 5e-4) - 0.01 g / (|g| + 1e-6)
  const std::vector<double> g = {0.25, -4, 1e-3}, p0 = {1, -2, 0.5};
  std::vector<double> want;
  for (int i = 0; i < 3; ++i) want.push_back(p0[i] * (1 - 5e-4) - 0.01 * g[i] / (std::abs(g[i]) + 1e-6));
  BOOST_TEST(wbtest::allclose(p, want, 1e-6, 1e-6));
}

BOOST_AUTO_TEST_CASE(adamw_rejects_bad_options) {
  Tensor p = wbtest::param(vec({1}));
  BOOST_CHECK_THROW(optim::AdamW({{.params = {p}}}, {.beta1 = 1.0}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::AdamW({{.params = {p}}}, {.beta2 = -0.1}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::AdamW({{.params = {p}}}, {.eps = -1}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(lion_first_steps_follow_crate_spec) {
  // lr 0.1, wd 0.5 (p *= 1 - 0.05 each step), betas (0.9, 0.99), p0 = [1, -2, 0.5]
  Tensor p = wbtest::param(vec({1, -2, 0.5}));
  optim::Lion lion({{.params = {p}, .lr = 0.1, .weight_decay = 0.5}});
  BOOST_TEST(lion.options().beta1 == 0.9);
  BOOST_TEST(lion.options().beta2 == 0.99);
  // step 1: g = [0.5, -1, 0]; p *= 0.95 -> [0.95, -1.9, 0.475]
  //         c = 0.9*0 + 0.1 g = [0.05, -0.1, 0]; sign(c) = [1, -1, 0] -> p = [0.85, -1.8, 0.475]
  //         m = 0.01 g = [0.005, -0.01, 0]
  set_grad(p, {0.5, -1, 0});
  lion.step();
  BOOST_TEST(wbtest::allclose(p, {0.85, -1.8, 0.475}, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(lion.state(0, 0).buffers[0], {0.005, -0.01, 0}, 1e-16, 0.0));
  // step 2: g = [-0.2, 0.3, -0.4]; p *= 0.95 -> [0.8075, -1.71, 0.45125]
  //         c = 0.9 m + 0.1 g = [-0.0155, 0.021, -0.04]; sign = [-1, 1, -1] -> p = [0.9075, -1.81, 0.55125]
  //         m = 0.99 m + 0.01 g = [0.00295, -0.0069, -0.004]
  set_grad(p, {-0.2, 0.3, -0.4});
  lion.step();
  BOOST_TEST(wbtest::allclose(p, {0.9075, -1.81, 0.55125}, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(lion.state(0, 0).buffers[0], {0.00295, -0.0069, -0.004}, 1e-16, 0.0));
  // step 3: g = [-0.028, 0.05, 0.1]; p *= 0.95 -> [0.862125, -1.7195, 0.5236875]
  //         c = 0.9 m + 0.1 g = [0.002655 - 0.0028, -0.00621 + 0.005, -0.0036 + 0.01]
  //           = [-0.000145, -0.00121, 0.0064]; sign = [-1, -1, 1] -> p = [0.962125, -1.6195, 0.4236875]
  //         The second entry moves against its own gradient because the momentum dominates; the first
  //         would flip sign with beta2 in place of beta1 (0.99 m + 0.1 g = +0.0001205).
  set_grad(p, {-0.028, 0.05, 0.1});
  lion.step();
  BOOST_TEST(wbtest::allclose(p, {0.962125, -1.6195, 0.4236875}, 1e-15, 0.0));
}

BOOST_AUTO_TEST_CASE(lion_without_decay_moves_by_exactly_lr) {
  Tensor p = wbtest::param(Tensor::from_vector(std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}, {2, 2}));
  optim::Lion lion({{.params = {p}, .lr = 0.125}}, {.beta1 = 0.5, .beta2 = 0.5});
  p.set_grad(Tensor::from_vector(std::vector<float>{1e-7f, -3, 0, 5}, {2, 2}));
  lion.step();  // sign(0.5 g) = [1, -1, 0, 1]; 0.125 is exact in f32
  BOOST_TEST(p.to_vector<float>() == (std::vector<float>{0.375f, 0.625f, 0.5f, 0.375f}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
