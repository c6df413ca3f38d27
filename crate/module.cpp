#include "crate/module.hpp"

#include <cmath>

#include "ops/ops.hpp"
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

Tensor uniform_init(const Shape& shape, double bound, DType dtype, Generator& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  prim::uniform_(t, -bound, bound, gen);
  return t;
}

Tensor normal_init(const Shape& shape, double stddev, DType dtype, Generator& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  prim::normal_(t, 0.0, stddev, gen);
  return t;
}

Linear::Linear(std::int64_t in, std::int64_t out, bool bias, DType dtype, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_ = &register_parameter("weight", uniform_init({out, in}, bound, dtype, gen));
  if (bias) bias_ = &register_parameter("bias", uniform_init({out}, bound, dtype, gen));
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = ops::matmul(x, ops::transpose(*weight_, 0, 1));
  return bias_ != nullptr ? y + *bias_ : y;
}

LayerNorm::LayerNorm(std::int64_t dim, double eps, DType dtype) : eps_(eps) {
  weight_ = &register_parameter("weight", Tensor::ones({dim}, dtype));
  bias_ = &register_parameter("bias", Tensor::zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return ops::layer_norm(x, *weight_, *bias_, eps_); }

}  // namespace wb::crate
