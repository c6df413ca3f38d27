#include "tensor/shape.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace wb {

namespace {
[[noreturn]] void shape_overflow(const Shape& shape, const char* what) {
  throw std::overflow_error(fmt::format("shape {}: {} does not fit in a 64-bit signed integer (corrupt or absurd "
                                        "shape?)",
                                        shape_str(shape), what));
}
}  // namespace

std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  bool overflow = false;
  for (auto s : shape) {
    if (s == 0) return 0;
    if (__builtin_mul_overflow(n, s, &n)) overflow = true;  // keep looking for a zero dimension
  }
  if (overflow) shape_overflow(shape, "the number of elements");
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  std::int64_t acc = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    st[i] = acc;
    if (i > 0 && __builtin_mul_overflow(acc, shape[i], &acc)) shape_overflow(shape, "a stride");
  }
  return st;
}

std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    throw std::overflow_error(fmt::format("{}: {} * {} does not fit in a 64-bit signed integer", what, a, b));
  return r;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what) {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    throw std::overflow_error(fmt::format("{}: {} + {} does not fit in a 64-bit signed integer", what, a, b));
  return r;
}

std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* what) {
  const std::int64_t a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim)
    throw std::invalid_argument(
        fmt::format("{}: axis {} is out of range for a tensor with {} dimensions", what, axis, ndim));
  return a;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(fmt::format("{}: shapes {} and {} do not broadcast (dimension {}: {} vs {})",
                                              what, shape_str(a), shape_str(b), i, da, db));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

}  // namespace wb
