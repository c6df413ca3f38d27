// Shape ops: views where the layout allows, with the inverse map as backward.
//   reshape     dx = reshape(dy, x.shape)          (a copy only when the strides forbid a view)
//   permute     dx = permute(dy, inverse dims)
//   transpose   dx = transpose(dy, a, b)
//   slice       dx = zeros(x.shape) with dy written into the slice
//   expand      dx = dy summed over the expanded axes
//   unsqueeze / squeeze / contiguous / cast: the inverse map
//   concat      dx_i = the slice of dy that x_i filled
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims);
Tensor transpose(const Tensor& x, std::int64_t a, std::int64_t b);
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
Tensor squeeze(const Tensor& x, std::int64_t axis);
Tensor contiguous(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);
Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis);

}  // namespace wb::ops
