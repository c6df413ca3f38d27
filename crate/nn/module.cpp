#include "crate/nn/module.hpp"

#include "tensor/prim.hpp"

namespace wb::crate {

Tensor& Module::register_parameter(std::string name, Tensor value) {
  value.requires_grad_();
  params_.emplace_back(std::move(name), std::move(value));
  return params_.back().second;
}

void Module::collect(const std::string& prefix, NamedTensors& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(DType dtype) {
  for (auto& [name, t] : params_) {
    if (t.dtype() == dtype) continue;
    Tensor c = prim::cast(t, dtype);
    c.requires_grad_();
    t = c;  // the stored handle is replaced; pointers into params_ stay valid
  }
  for (auto& [name, child] : children_) child->to(dtype);
}

}  // namespace wb::crate
