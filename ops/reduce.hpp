// Reductions over axes:
//   sum(x, axes)    dx = broadcast(dy) back to x's shape
//   mean(x, axes)   dx = broadcast(dy) / (number of elements reduced)
//   max(x, axis)    dx = dy at the first argmax of each slice, 0 elsewhere   saves argmax
//   cumsum(x, axis) y_i = sum_{j<=i} x_j (reverse: j >= i)   dx = cumsum(dy) in the other direction
//                   saves nothing (the causal statistics of ops/tssa)
// Empty `axes` reduces over all axes. keepdim keeps reduced axes with size 1.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor cumsum(const Tensor& x, std::int64_t axis, bool reverse = false);
// Index of the maximum along axis (i64, not differentiable).
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);

}  // namespace wb::ops
