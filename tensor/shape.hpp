// Shape and stride arithmetic. Row-major, last dimension fastest, shapes written outermost first
// (NumPy/PyTorch order). Strides and offsets are counted in elements, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb {

using Shape = std::vector<std::int64_t>;

// The number of elements; throws std::overflow_error naming the shape when the product does not fit
// in int64 (a zero dimension makes it 0 whatever the others are).
std::int64_t numel_of(const Shape& shape);
// Throws std::overflow_error like numel_of when a stride does not fit in int64.
Shape contiguous_strides(const Shape& shape);
// a * b and a + b of sizes, counts and byte totals; throw std::overflow_error naming `what` instead of
// wrapping around.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const char* what);
std::int64_t checked_add(std::int64_t a, std::int64_t b, const char* what);
// Maps a possibly negative axis into [0, ndim); throws naming `what` when out of range.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* what);
// NumPy broadcasting of two shapes; throws naming `what` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what);
std::string shape_str(const Shape& shape);

}  // namespace wb
