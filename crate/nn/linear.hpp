// Linear: y = x W^T + b with W (out, in) and b (out), PyTorch's nn.Linear layout and init
// U(-1/sqrt(in), 1/sqrt(in)) for both (weight drawn first).
#pragma once

#include "crate/nn/module.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {

class Linear : public Module {
 public:
  Linear(std::int64_t in, std::int64_t out, bool bias, DType dtype, Generator& gen);
  Tensor forward(const Tensor& x) const;
  Tensor& weight() { return *weight_; }
  const Tensor& weight() const { return *weight_; }
  Tensor& bias() { return *bias_; }
  bool has_bias() const { return bias_ != nullptr; }

 private:
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
};

}  // namespace wb::crate
