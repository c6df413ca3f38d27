// Shape and stride arithmetic. Row-major, last dimension fastest, shapes written outermost first
// (NumPy/PyTorch order). Strides and offsets are counted in elements, not bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb {

using Shape = std::vector<std::int64_t>;

std::int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
// Maps a possibly negative axis into [0, ndim); throws naming `what` when out of range.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, const char* what);
// NumPy broadcasting of two shapes; throws naming `what` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* what);
std::string shape_str(const Shape& shape);

}  // namespace wb
