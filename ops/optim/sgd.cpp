#include "ops/optim/sgd.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::optim {
namespace {

SGDOptions validated(SGDOptions o) {
  if (!(o.momentum >= 0.0) || !std::isfinite(o.momentum))
    throw std::invalid_argument(fmt::format("SGD: momentum = {} must be finite and >= 0", o.momentum));
  if (!(o.dampening >= 0.0 && o.dampening <= 1.0))
    throw std::invalid_argument(fmt::format("SGD: dampening = {} must be in [0, 1]", o.dampening));
  if (o.nesterov && (o.momentum <= 0.0 || o.dampening != 0.0))
    throw std::invalid_argument(fmt::format("SGD: nesterov needs momentum > 0 and dampening 0 (got momentum {}, "
                                            "dampening {})", o.momentum, o.dampening));
  return o;
}

std::vector<std::string> buffers_for(const SGDOptions& o) {
  if (o.momentum > 0.0) return {"momentum_buffer"};
  return {};
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer("SGD", std::move(groups), buffers_for(validated(options))), options_(options) {}

void SGD::update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) {
  Tensor d = grad;
  if (group.weight_decay != 0.0) {
    d = prim::clone(grad);  // never modify the accumulated gradient
    prim::axpy_(d, p, group.weight_decay);
  }
  if (options_.momentum > 0.0) {
    const Tensor& buf = s.buffers[0];
    if (s.step == 1) {
      prim::copy_(buf, d);
    } else {
      prim::scale_(buf, options_.momentum);
      prim::axpy_(buf, d, 1.0 - options_.dampening);
    }
    if (options_.nesterov) {
      d = prim::clone(d);
      prim::axpy_(d, buf, options_.momentum);
    } else {
      d = buf;
    }
  }
  prim::axpy_(p, d, -group.lr);
}

}  // namespace wb::optim
