// Dispatch of the indexing primitives: index_select, index_add_, gather and scatter_add_.
#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

namespace {
void check_index_tensor(const Tensor& index, const char* what) {
  if (!index.defined() || index.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format("{}: index must be an i64 tensor", what));
}
}  // namespace

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_defined(x, "index_select", "x");
  check_index_tensor(index, "index_select");
  if (index.dim() != 1)
    throw std::invalid_argument(fmt::format("index_select: index must be 1-D, got {}", shape_str(index.shape())));
  check_same_device(x, index, "index_select");
  const std::int64_t a = normalize_axis(axis, x.dim(), "index_select");
  const Tensor xc = contiguous(x), ic = contiguous(index);
  const Split3 s = split_at(x.shape(), a);
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(a)] = index.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: kernel::index_select<Device::CPU>(xc, s.outer, s.r, s.inner, ic, out); break;
    case Device::CUDA: kernel::index_select<Device::CUDA>(xc, s.outer, s.r, s.inner, ic, out); break;
  }
  return out;
}

void index_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src) {
  check_defined(out, "index_add_", "out");
  check_index_tensor(index, "index_add_");
  const std::int64_t a = normalize_axis(axis, out.dim(), "index_add_");
  Shape expect = out.shape();
  expect[static_cast<std::size_t>(a)] = index.numel();
  if (!out.is_contiguous() || index.dim() != 1 || src.shape() != expect)
    throw std::invalid_argument(fmt::format("index_add_: expects a contiguous out {}, a 1-D index and src of shape {}, got {}",
                                            shape_str(out.shape()), shape_str(expect), shape_str(src.shape())));
  check_same_dtype(out, src, "index_add_");
  const Split3 s = split_at(out.shape(), a);
  const Tensor sc = contiguous(src), ic = contiguous(index);
  switch (out.device()) {
    case Device::CPU: kernel::index_add<Device::CPU>(out, s.outer, s.r, s.inner, ic, sc); return;
    case Device::CUDA: kernel::index_add<Device::CUDA>(out, s.outer, s.r, s.inner, ic, sc); return;
  }
}

namespace {
void check_gather_shapes(const Tensor& x, std::int64_t a, const Tensor& index, const char* what) {
  bool ok = index.dim() == x.dim();
  for (std::int64_t i = 0; ok && i < x.dim(); ++i)
    if (i != a) ok = index.size(i) == x.size(i);
  if (!ok)
    throw std::invalid_argument(fmt::format("{}: index {} must match {} on every axis except {}", what,
                                            shape_str(index.shape()), shape_str(x.shape()), a));
}
}  // namespace

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_defined(x, "gather", "x");
  check_index_tensor(index, "gather");
  const std::int64_t a = normalize_axis(axis, x.dim(), "gather");
  check_gather_shapes(x, a, index, "gather");
  const Tensor xc = contiguous(x), ic = contiguous(index);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: kernel::gather<Device::CPU>(xc, a, ic, out); break;
    case Device::CUDA: kernel::gather<Device::CUDA>(xc, a, ic, out); break;
  }
  return out;
}

void scatter_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src) {
  check_defined(out, "scatter_add_", "out");
  check_index_tensor(index, "scatter_add_");
  const std::int64_t a = normalize_axis(axis, out.dim(), "scatter_add_");
  check_gather_shapes(out, a, index, "scatter_add_");
  check_same_shape(index, src, "scatter_add_");
  if (!out.is_contiguous()) throw std::invalid_argument("scatter_add_: out must be contiguous");
  const Tensor ic = contiguous(index), sc = contiguous(src);
  switch (out.device()) {
    case Device::CPU: kernel::scatter_add<Device::CPU>(out, a, ic, sc); return;
    case Device::CUDA: kernel::scatter_add<Device::CUDA>(out, a, ic, sc); return;
  }
}

}  // namespace wb::prim
