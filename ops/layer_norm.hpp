// LayerNorm over the last axis, one fused forward and backward (tensor/cpu/layer_norm.cpp):
//   y = gamma * (x - mean) * rstd + beta,   rstd = 1 / sqrt(var + eps)
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma
//   dgamma = sum_rows dy * xhat,   dbeta = sum_rows dy
// Saves x, mean, rstd and gamma. gamma / beta may be undefined (no affine part).
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);

}  // namespace wb::ops
