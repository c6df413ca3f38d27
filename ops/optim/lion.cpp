#include "ops/optim/lion.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::optim {
namespace {

LionOptions validated(LionOptions o) {
  if (!(o.beta1 >= 0.0 && o.beta1 <= 1.0) || !(o.beta2 >= 0.0 && o.beta2 <= 1.0))
    throw std::invalid_argument(fmt::format("Lion: betas ({}, {}) must be in [0, 1]", o.beta1, o.beta2));
  return o;
}

}  // namespace

Lion::Lion(std::vector<ParamGroup> groups, LionOptions options)
    : Optimizer("Lion", std::move(groups), {"exp_avg"}), options_(validated(options)) {}

void Lion::update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) {
  const Tensor& m = s.buffers[0];
  if (group.weight_decay != 0.0) prim::scale_(p, 1.0 - group.lr * group.weight_decay);
  Tensor c = prim::clone(m);
  prim::scale_(c, options_.beta1);
  prim::axpy_(c, grad, 1.0 - options_.beta1);
  prim::unary_(prim::Unary::sign, c);
  prim::axpy_(p, c, -group.lr);
  prim::scale_(m, options_.beta2);
  prim::axpy_(m, grad, 1.0 - options_.beta2);
}

}  // namespace wb::optim
