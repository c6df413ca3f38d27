#include "ops/optim/adamw.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::optim {
namespace {

AdamWOptions validated(AdamWOptions o) {
  if (!(o.beta1 >= 0.0 && o.beta1 < 1.0) || !(o.beta2 >= 0.0 && o.beta2 < 1.0))
    throw std::invalid_argument(fmt::format("AdamW: betas ({}, {}) must be in [0, 1)", o.beta1, o.beta2));
  if (!(o.eps >= 0.0) || !std::isfinite(o.eps))
    throw std::invalid_argument(fmt::format("AdamW: eps = {} must be finite and >= 0", o.eps));
  return o;
}

}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions options)
    : Optimizer("AdamW", std::move(groups), {"exp_avg", "exp_avg_sq"}), options_(validated(options)) {}

void AdamW::update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) {
  const auto& [beta1, beta2, eps] = options_;
  const Tensor& m = s.buffers[0];
  const Tensor& v = s.buffers[1];
  if (group.weight_decay != 0.0) prim::scale_(p, 1.0 - group.lr * group.weight_decay);
  prim::scale_(m, beta1);
  prim::axpy_(m, grad, 1.0 - beta1);
  prim::scale_(v, beta2);
  prim::axpy_(v, prim::unary(prim::Unary::square, grad), 1.0 - beta2);

  const double t = static_cast<double>(s.step);
  const double bias1 = 1.0 - std::pow(beta1, t);
  const double bias2 = 1.0 - std::pow(beta2, t);
  Tensor denom = prim::unary(prim::Unary::sqrt, v);
  prim::scale_(denom, 1.0 / std::sqrt(bias2));
  prim::unary_(prim::Unary::add_scalar, denom, eps);
  prim::axpy_(p, prim::binary(prim::Binary::div, m, denom), -group.lr / bias1);
}

}  // namespace wb::optim
