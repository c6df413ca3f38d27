// View primitives: new shape/strides/offset over the same Storage, never a copy (except reshape's
// documented fallback).
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/prim.hpp"

namespace wb::prim {
namespace {

Tensor with_layout(const Tensor& x, std::int64_t offset, Shape shape, Shape strides) {
  return Tensor(x.storage(), offset, std::move(shape), std::move(strides), x.dtype());
}

Shape infer_shape(const Tensor& x, Shape shape, const char* what) {
  std::int64_t known = 1;
  int infer = -1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) throw std::invalid_argument(fmt::format("{}: more than one -1 in {}", what, shape_str(shape)));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument(fmt::format("{}: negative size in {}", what, shape_str(shape)));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw std::invalid_argument(fmt::format("{}: cannot infer -1 in {} for {} elements (input shape {})", what,
                                              shape_str(shape), x.numel(), shape_str(x.shape())));
    shape[static_cast<std::size_t>(infer)] = x.numel() / known;
  }
  if (numel_of(shape) != x.numel())
    throw std::invalid_argument(fmt::format("{}: shape {} has {} elements but the input {} has {}", what,
                                            shape_str(shape), numel_of(shape), shape_str(x.shape()), x.numel()));
  return shape;
}

// Strides for viewing x as `shape` without a copy, or empty when impossible (the PyTorch
// computeStride algorithm: match chunks of old dims that are contiguous among themselves).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape, Shape& out) {
  out.assign(shape.size(), 0);
  if (numel_of(old_shape) == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  std::int64_t view_d = static_cast<std::int64_t>(shape.size()) - 1;
  std::int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  std::int64_t tensor_numel = 1, view_numel = 1;
  for (std::int64_t d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[static_cast<std::size_t>(d)];
    if (d == 0 || (old_shape[static_cast<std::size_t>(d - 1)] != 1 &&
                   old_strides[static_cast<std::size_t>(d - 1)] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[static_cast<std::size_t>(view_d)] == 1)) {
        out[static_cast<std::size_t>(view_d)] = view_numel * chunk_base_stride;
        view_numel *= shape[static_cast<std::size_t>(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[static_cast<std::size_t>(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

}  // namespace

Tensor view(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "view");
  Shape st;
  if (!view_strides(x.shape(), x.strides(), shape, st))
    throw std::invalid_argument(fmt::format(
        "view: a tensor of shape {} and strides {} cannot be viewed as {} without a copy (use reshape)",
        shape_str(x.shape()), shape_str(x.strides()), shape_str(shape)));
  return with_layout(x, x.offset(), std::move(shape), std::move(st));
}

std::optional<Tensor> try_view(const Tensor& x, const Shape& shape) {
  if (numel_of(shape) != x.numel()) return std::nullopt;
  Shape st;
  if (!view_strides(x.shape(), x.strides(), shape, st)) return std::nullopt;
  return with_layout(x, x.offset(), shape, std::move(st));
}

Tensor reshape(const Tensor& x, Shape shape) {
  shape = infer_shape(x, std::move(shape), "reshape");
  Shape st;
  if (view_strides(x.shape(), x.strides(), shape, st)) return with_layout(x, x.offset(), std::move(shape), std::move(st));
  Tensor c = clone(x);
  return with_layout(c, c.offset(), shape, contiguous_strides(shape));
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims) {
  const auto nd = x.dim();
  if (static_cast<std::int64_t>(dims.size()) != nd)
    throw std::invalid_argument(
        fmt::format("permute: {} axes given for a tensor of rank {} ({})", dims.size(), nd, shape_str(x.shape())));
  Shape shape(dims.size()), st(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const auto a = static_cast<std::size_t>(normalize_axis(dims[i], nd, "permute"));
    if (seen[a]) throw std::invalid_argument(fmt::format("permute: axis {} repeated in [{}]", a, fmt::join(dims, ", ")));
    seen[a] = true;
    shape[i] = x.shape()[a];
    st[i] = x.strides()[a];
  }
  return with_layout(x, x.offset(), std::move(shape), std::move(st));
}

Tensor transpose(const Tensor& x, std::int64_t a, std::int64_t b) {
  const auto nd = x.dim();
  const auto ia = static_cast<std::size_t>(normalize_axis(a, nd, "transpose"));
  const auto ib = static_cast<std::size_t>(normalize_axis(b, nd, "transpose"));
  Shape shape = x.shape(), st = x.strides();
  std::swap(shape[ia], shape[ib]);
  std::swap(st[ia], st[ib]);
  return with_layout(x, x.offset(), std::move(shape), std::move(st));
}

Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, x.dim(), "slice"));
  const std::int64_t n = x.shape()[a];
  if (step <= 0) throw std::invalid_argument(fmt::format("slice: step must be positive, got {}", step));
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<std::int64_t>(start, 0, n);
  end = std::clamp<std::int64_t>(end, start, n);
  Shape shape = x.shape(), st = x.strides();
  shape[a] = (end - start + step - 1) / step;
  st[a] = x.strides()[a] * step;
  return with_layout(x, x.offset() + start * x.strides()[a], std::move(shape), std::move(st));
}

Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, x.dim(), "select"));
  const std::int64_t n = x.shape()[a];
  if (index < -n || index >= n)
    throw std::invalid_argument(fmt::format("select: index {} out of range for axis {} of size {}", index, a, n));
  if (index < 0) index += n;
  Shape shape = x.shape(), st = x.strides();
  const std::int64_t off = x.offset() + index * st[a];
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(a));
  st.erase(st.begin() + static_cast<std::ptrdiff_t>(a));
  return with_layout(x, off, std::move(shape), std::move(st));
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  const auto nd = static_cast<std::int64_t>(shape_in.size());
  if (nd < x.dim())
    throw std::invalid_argument(fmt::format("expand: cannot expand shape {} to fewer dimensions {}",
                                            shape_str(x.shape()), shape_str(shape_in)));
  Shape shape = shape_in, st(shape_in.size(), 0);
  const std::int64_t lead = nd - x.dim();
  for (std::int64_t i = 0; i < nd; ++i) {
    std::int64_t& ts = shape[static_cast<std::size_t>(i)];
    if (ts == -1 && i >= lead) ts = x.shape()[static_cast<std::size_t>(i - lead)];  // -1 keeps the size
    if (ts < 0)
      throw std::invalid_argument(fmt::format("expand: size {} at axis {} of {} (-1 keeps an existing axis)", ts, i,
                                              shape_str(shape_in)));
    if (i < lead) continue;
    const auto j = static_cast<std::size_t>(i - lead);
    const std::int64_t xs = x.shape()[j];
    if (xs == ts)
      st[static_cast<std::size_t>(i)] = x.strides()[j];
    else if (xs != 1)
      throw std::invalid_argument(fmt::format("expand: cannot expand shape {} to {} (axis {}: {} vs {})",
                                              shape_str(x.shape()), shape_str(shape), i, xs, ts));
  }
  return with_layout(x, x.offset(), shape, std::move(st));
}

Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, x.dim() + 1, "unsqueeze"));
  Shape shape = x.shape(), st = x.strides();
  const std::int64_t s = a < st.size() ? st[a] * shape[a] : 1;
  shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(a), 1);
  st.insert(st.begin() + static_cast<std::ptrdiff_t>(a), s);
  return with_layout(x, x.offset(), std::move(shape), std::move(st));
}

Tensor squeeze(const Tensor& x, std::int64_t axis) {
  const auto a = static_cast<std::size_t>(normalize_axis(axis, x.dim(), "squeeze"));
  if (x.shape()[a] != 1)
    throw std::invalid_argument(
        fmt::format("squeeze: axis {} of shape {} has size {}, not 1", a, shape_str(x.shape()), x.shape()[a]));
  Shape shape = x.shape(), st = x.strides();
  shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(a));
  st.erase(st.begin() + static_cast<std::ptrdiff_t>(a));
  return with_layout(x, x.offset(), std::move(shape), std::move(st));
}

bool gemm_compatible(const Tensor& x) {
  if (x.dim() < 2) return false;
  const std::int64_t r = x.size(-2), c = x.size(-1);
  const std::int64_t sr = x.stride(-2), sc = x.stride(-1);
  const bool row_major = (sc == 1 || c == 1) && sr >= std::max<std::int64_t>(1, c);
  const bool col_major = (sr == 1 || r == 1) && sc >= std::max<std::int64_t>(1, r);
  return row_major || col_major;
}

}  // namespace wb::prim
