// End to end: each optimizer, driven by autograd gradients, a schedule and clipping, solves a small
// least-squares problem min_w mean((X w - y)^2) whose exact solution w* is known (y = X w*).
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <memory>

#include "autograd/engine.hpp"
#include "ops/ops.hpp"
#include "ops/optim/optim.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

struct Problem {
  Tensor x = wbtest::randn({64, 8}, 21, DType::f32);
  Tensor w_star = wbtest::randn({8, 1}, 22, DType::f32);
  Tensor y = prim::matmul(x, w_star);
  Tensor loss(const Tensor& w) const { return ops::mse(ops::matmul(x, w), y); }
};

// Runs `steps` steps from w = 0 and returns {first loss, final loss, max |w - w*|}.
struct Outcome {
  double first_loss, final_loss, max_err;
};
Outcome solve(const std::function<std::unique_ptr<optim::Optimizer>(const Tensor&)>& make,
              const optim::Schedule& schedule, std::int64_t steps) {
  const Problem pb;
  Tensor w = wbtest::param(Tensor::zeros({8, 1}, DType::f32));
  const auto opt = make(w);
  double first = 0.0, last = 0.0;
  for (std::int64_t t = 0; t < steps; ++t) {
    opt->zero_grad();
    const Tensor loss = pb.loss(w);
    last = loss.item();
    optim::check_finite(last, "loss");
    if (t == 0) first = last;
    autograd::backward(loss);
    optim::clip_grad_norm_({w}, 10.0);
    schedule.apply(*opt, t);
    opt->step();
  }
  const Tensor err = prim::unary(prim::Unary::abs, prim::binary(prim::Binary::sub, w, pb.w_star));
  return {first, last, prim::max(prim::reshape(err, {-1}), 0).values.item()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(convergence)

BOOST_AUTO_TEST_CASE(adamw_minimizes_a_quadratic) {
  const auto r = solve([](const Tensor& w) { return std::make_unique<optim::AdamW>(
                           std::vector<optim::ParamGroup>{{.params = {w}, .lr = 0.05}}); },
                       optim::Schedule({.base_lr = 0.05, .warmup = 10, .total = 400, .min_lr = 1e-4}), 400);
  BOOST_TEST(r.first_loss > 1.0);
  BOOST_TEST(r.final_loss < 1e-6 * r.first_loss, "final loss " << r.final_loss << " from " << r.first_loss);
  BOOST_TEST(r.max_err < 1e-3, "max |w - w*| = " << r.max_err);
}

BOOST_AUTO_TEST_CASE(sgd_momentum_minimizes_a_quadratic) {
  const auto r = solve([](const Tensor& w) { return std::make_unique<optim::SGD>(
                           std::vector<optim::ParamGroup>{{.params = {w}, .lr = 0.05}}, optim::SGDOptions{.momentum = 0.9}); },
                       optim::Schedule({.base_lr = 0.05, .warmup = 0, .total = 400, .min_lr = 0.05}), 400);
  BOOST_TEST(r.final_loss < 1e-6 * r.first_loss, "final loss " << r.final_loss << " from " << r.first_loss);
  BOOST_TEST(r.max_err < 1e-3, "max |w - w*| = " << r.max_err);
}

BOOST_AUTO_TEST_CASE(lion_with_the_crate_schedule_minimizes_a_quadratic) {
  // Lion moves every coordinate by exactly lr per step, so it settles only as the schedule decays lr.
  const auto r = solve([](const Tensor& w) { return std::make_unique<optim::Lion>(
                           std::vector<optim::ParamGroup>{{.params = {w}, .lr = 0.02}}); },
                       optim::Schedule({.kind = optim::ScheduleKind::crate_official, .base_lr = 0.02, .warmup = 20,
                                        .total = 600}), 600);
  BOOST_TEST(r.final_loss < 1e-4 * r.first_loss, "final loss " << r.final_loss << " from " << r.first_loss);
  BOOST_TEST(r.max_err < 1e-2, "max |w - w*| = " << r.max_err);
}

BOOST_AUTO_TEST_SUITE_END()
