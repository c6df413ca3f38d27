// CPU-internal: the serial row softmax of tensor/cpu/softmax.cpp, for kernels that fuse it (attention).
#pragma once

#include <cstdint>

namespace wb::cpu {

// Softmax of `rows` contiguous rows of length r, on the calling thread. Outputs must not alias inputs
// (the vector path re-reads an overlapping tail of its input).
template <class T> void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t r);
template <class T> void softmax_backward_rows(const T* dy, const T* y, T* dx, std::int64_t rows, std::int64_t r);

}  // namespace wb::cpu
