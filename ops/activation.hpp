// Activations:
//   relu            y = max(x, 0)                         dx = dy [y > 0]            saves y
//   gelu            y = x Phi(x) (exact, erf form)        dx = dy (Phi(x) + x phi(x)) saves x
//   soft_threshold  y = max(x - t, 0) = ReLU(x - t)       dx = dy [y > 0]            saves y
// soft_threshold is the proximal map of t||.||_1 plus the constraint y >= 0: the nonlinearity of
// CRATE's ISTA block with t = eta * lambda.
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);
Tensor soft_threshold(const Tensor& x, double t);

}  // namespace wb::ops
