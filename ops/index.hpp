// Indexing ops (indices are i64 tensors and get no gradient):
//   index_select(x, axis, idx)   y[.., i, ..] = x[.., idx[i], ..]     dx = index_add of dy at idx
//   gather(x, axis, idx)         y[.., j, ..] = x[.., idx[.., j, ..], ..]   dx = scatter_add of dy
//   masked_fill(x, mask, v)      y = mask ? v : x                     dx = mask ? 0 : dy
//   embedding(W, ids)            y[ids..., :] = W[ids, :]  (W: V x D)  dW = rows of dy added at ids
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
Tensor embedding(const Tensor& weight, const Tensor& ids);

}  // namespace wb::ops
