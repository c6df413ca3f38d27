// Internal to tensor/dispatch/: the argument checks every dispatch file shares, the (outer, r, inner)
// split of a shape at an axis, and the test for whether a matrix view can be handed to ?gemm as-is.
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::prim::detail {

inline void check_defined(const Tensor& t, const char* what, const char* arg) {
  if (!t.defined()) throw std::invalid_argument(fmt::format("{}: argument '{}' is an undefined tensor", what, arg));
}

inline void check_same_device(const Tensor& a, const Tensor& b, const char* what) {
  if (a.device() != b.device())
    throw std::invalid_argument(fmt::format("{}: tensors are on different devices ({} and {})", what,
                                            device_name(a.device()), device_name(b.device())));
}

inline void check_same_dtype(const Tensor& a, const Tensor& b, const char* what) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtypes differ ({} {} and {} {}); cast one with prim::cast / ops::cast",
                                            what, shape_str(a.shape()), dtype_name(a.dtype()), shape_str(b.shape()),
                                            dtype_name(b.dtype())));
}

inline void check_floating(const Tensor& t, const char* what) {
  if (!is_floating(t.dtype()))
    throw std::invalid_argument(
        fmt::format("{}: expected a floating tensor, got {} {}", what, shape_str(t.shape()), dtype_name(t.dtype())));
}

inline void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(
        fmt::format("{}: shapes differ ({} and {})", what, shape_str(a.shape()), shape_str(b.shape())));
}


// (outer, r, inner) split of `shape` at `axis`.
struct Split3 {
  std::int64_t outer = 1, r = 1, inner = 1;
};
inline Split3 split_at(const Shape& shape, std::int64_t axis) {
  Split3 s;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(shape.size()); ++i) {
    const auto n = shape[static_cast<std::size_t>(i)];
    if (i < axis) s.outer *= n;
    else if (i == axis) s.r = n;
    else s.inner *= n;
  }
  return s;
}

// Describes a (rows x cols) matrix view for ?gemm: transpose flag and leading dimension, or false
// when its layout cannot be passed directly.
inline bool gemm_layout(std::int64_t rows, std::int64_t cols, std::int64_t sr, std::int64_t sc, bool& trans, std::int64_t& ld) {
  if ((sc == 1 || cols == 1) && (rows == 1 || sr >= std::max<std::int64_t>(1, cols))) {
    trans = false;
    ld = rows == 1 ? std::max<std::int64_t>(1, cols) : sr;
    return ld >= std::max<std::int64_t>(1, cols);
  }
  if ((sr == 1 || rows == 1) && (cols == 1 || sc >= std::max<std::int64_t>(1, rows))) {
    trans = true;
    ld = cols == 1 ? std::max<std::int64_t>(1, rows) : sc;
    return ld >= std::max<std::int64_t>(1, rows);
  }
  return false;
}

}  // namespace wb::prim::detail
