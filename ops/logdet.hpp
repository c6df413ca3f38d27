// Log-determinant of symmetric positive-definite matrices, batched, through a Cholesky factor.
//   y = logdet A = 2 sum_i log L_ii,  A = L L^T  (?potrf)        A: (..., n, n) -> y: (...)
//   dA = dy * A^{-1}  (symmetric; from the saved factor by ?potri, never a general inverse)
// A is taken as symmetric: only its lower triangle is read, and the gradient is the symmetric one
// (the convention of PyTorch and JAX), so check gradients through a symmetric construction such as
// X X^T + c I. Saves L. A matrix that is not positive definite throws std::runtime_error naming the
// batch index and the failing pivot. The log-sum is accumulated in double.
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor logdet(const Tensor& a);

}  // namespace wb::ops
