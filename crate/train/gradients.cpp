#include "crate/train/gradients.hpp"

#include "autograd/engine.hpp"
#include "crate/train/objectives/sparse_rate_reduction.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

BatchGradients batch_gradients(Task& task, const data::Batch& batch, double srr_weight) {
  const ModeGuard eval(task.model(), false);
  const NamedTensors params = task.model().named_parameters();
  for (const auto& [name, p] : params) p.zero_grad();
  std::vector<LayerTrace> traces;
  const TaskStep s = task.step(batch, Phase::train, srr_weight > 0 ? &traces : nullptr);
  Tensor loss = s.loss;
  BatchGradients out;
  if (srr_weight > 0) {
    const Tensor srr = sparse_rate_reduction_objective(task.layers(), traces);
    out.srr = srr.item();
    loss = ops::add(loss, ops::mul_scalar(srr, srr_weight));
  }
  out.loss = loss.item();
  autograd::backward(loss);
  for (const auto& [name, p] : params) {
    const Tensor g = p.grad();
    out.grads.emplace_back(name, g.defined() ? prim::clone(g) : prim::zeros_like(p));
  }
  return out;
}

}  // namespace wb::crate
