// LayerNorm over the last axis (width d) with affine weight (init 1) and bias (init 0), PyTorch's
// nn.LayerNorm: y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance).
#pragma once

#include "crate/nn/module.hpp"

namespace wb::crate {

class LayerNorm : public Module {
 public:
  LayerNorm(std::int64_t dim, double eps, DType dtype);
  Tensor forward(const Tensor& x) const;

 private:
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  double eps_;
};

}  // namespace wb::crate
