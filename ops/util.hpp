// Small helpers shared by the op files.
#pragma once

#include "tensor/tensor.hpp"

namespace wb::ops {

// True when gradients flow through t (a leaf that requires grad, or the output of a recorded op).
// Nodes use it to save an operand only when the other operand's gradient needs it.
inline bool tracks_grad(const Tensor& t) { return t.defined() && (t.requires_grad() || t.grad_fn() != nullptr); }

}  // namespace wb::ops
