// Matrix product, 2-D and batched with broadcast batch axes, through cblas ?gemm.
//   Y = A B         A (..., M, S), B (..., S, R), Y (..., M, R)
//   dA = dY B^T     dB = A^T dY     (summed over batch axes that were broadcast)
// Transposes are views passed to ?gemm as flags, never copies. A is saved only when B needs a
// gradient and vice versa. For A (..., M, S) @ B (S, R), dB is one GEMM over the folded rows.
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace wb::ops
