// Elementwise maps y = f(x), each with its derivative from prim::unary_backward:
//   exp     y = e^x          dx = dy * y           saves y
//   log     y = ln x         dx = dy / x           saves x
//   sqrt    y = sqrt x       dx = dy / (2 y)       saves y
//   pow     y = x^p          dx = dy * p x^(p-1)   saves x   (scalar exponent p)
//   abs     y = |x|          dx = dy * sign(x)     saves x   (0 at x = 0)
//   tanh    y = tanh x       dx = dy * (1 - y^2)   saves y
//   square  y = x^2          dx = 2 x dy           saves x
#pragma once

#include "tensor/prim.hpp"
#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor pow(const Tensor& x, double p);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor square(const Tensor& x);

// Shared by the activation ops: y = prim::unary(op, x, p), recording a node that saves x or y
// (save_output) and differentiates with prim::unary_backward.
Tensor unary_map(prim::Unary op, const Tensor& x, double p, bool save_output, const char* name);

}  // namespace wb::ops
