// Stable softmax and log-softmax along any axis (fused kernels in tensor/cpu/softmax.cpp):
//   softmax      y = exp(x - max) / sum exp(x - max)     dx = y * (dy - sum(dy * y))   saves y
//   log_softmax  y = x - logsumexp(x)                    dx = dy - exp(y) * sum(dy)    saves y
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor softmax(const Tensor& x, std::int64_t axis = -1);
Tensor log_softmax(const Tensor& x, std::int64_t axis = -1);

}  // namespace wb::ops
