// Arithmetic ops with NumPy broadcasting: add, sub, mul, div, neg, and scalar forms.
//   y = a + b    da = sum_bcast(dy)              db = sum_bcast(dy)
//   y = a - b    da = sum_bcast(dy)              db = -sum_bcast(dy)
//   y = a * b    da = sum_bcast(dy * b)          db = sum_bcast(dy * a)     saves a, b (only those needed)
//   y = a / b    da = sum_bcast(dy / b)          db = -sum_bcast(dy * y / b) saves b, y
// sum_bcast sums over the axes an input was broadcast along (prim::reduce_to_shape).
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
Tensor add_scalar(const Tensor& x, double s);
Tensor mul_scalar(const Tensor& x, double s);

}  // namespace wb::ops

namespace wb {
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(const Tensor& a, double s);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(const Tensor& a, double s);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(const Tensor& a, double s);
}  // namespace wb
