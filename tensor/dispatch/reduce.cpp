// Dispatch of the reductions: sum over axes (runs of consecutive axes in one pass each), max with its
// indices, cumsum (running sums), reduce_to_shape (the broadcast backward) and sum_all.
#include <algorithm>

#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

Tensor sum(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim) {
  check_defined(x, "sum", "x");
  check_floating(x, "sum");
  const std::int64_t nd = x.dim();
  if (axes.empty())
    for (std::int64_t i = 0; i < nd; ++i) axes.push_back(i);
  for (auto& a : axes) a = normalize_axis(a, nd, "sum");
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());

  Tensor cur = contiguous(x);
  Shape kept = x.shape();  // shape with reduced axes set to 1
  // Reduce runs of consecutive axes in one pass each, last run first so earlier axes keep their index.
  std::size_t i = axes.size();
  while (i > 0) {
    std::size_t j = i - 1;
    while (j > 0 && axes[j - 1] + 1 == axes[j]) --j;
    const std::int64_t first = axes[j], last = axes[i - 1];
    std::int64_t outer = 1, r = 1, inner = 1;
    for (std::int64_t k = 0; k < nd; ++k) {
      const auto n = kept[static_cast<std::size_t>(k)];
      if (k < first) outer *= n;
      else if (k <= last) r *= n;
      else inner *= n;
    }
    for (std::int64_t k = first; k <= last; ++k) kept[static_cast<std::size_t>(k)] = 1;
    Tensor out = Tensor::empty(kept, x.dtype(), x.device());
    switch (x.device()) {
      case Device::CPU: kernel::sum_axis<Device::CPU>(cur, outer, r, inner, out); break;
      case Device::CUDA: kernel::sum_axis<Device::CUDA>(cur, outer, r, inner, out); break;
    }
    cur = out;
    i = j;
  }
  if (keepdim) return cur;
  Shape out_shape;
  for (std::int64_t k = 0; k < nd; ++k)
    if (!std::binary_search(axes.begin(), axes.end(), k)) out_shape.push_back(x.shape()[static_cast<std::size_t>(k)]);
  return view(cur, out_shape);
}

MaxResult max(const Tensor& x, std::int64_t axis, bool keepdim) {
  check_defined(x, "max", "x");
  check_floating(x, "max");
  const std::int64_t a = normalize_axis(axis, x.dim(), "max");
  if (x.shape()[static_cast<std::size_t>(a)] == 0)
    throw std::invalid_argument(fmt::format("max: axis {} of shape {} is empty", a, shape_str(x.shape())));
  const Tensor xc = contiguous(x);
  const Split3 s = split_at(x.shape(), a);
  Shape kept = x.shape();
  kept[static_cast<std::size_t>(a)] = 1;
  MaxResult res{Tensor::empty(kept, x.dtype(), x.device()), Tensor::empty(kept, DType::i64, x.device())};
  switch (x.device()) {
    case Device::CPU: kernel::max_axis<Device::CPU>(xc, s.outer, s.r, s.inner, res.values, res.indices); break;
    case Device::CUDA: kernel::max_axis<Device::CUDA>(xc, s.outer, s.r, s.inner, res.values, res.indices); break;
  }
  if (!keepdim) {
    res.values = squeeze(res.values, a);
    res.indices = squeeze(res.indices, a);
  }
  return res;
}

Tensor cumsum(const Tensor& x, std::int64_t axis, bool reverse) {
  check_defined(x, "cumsum", "x");
  check_floating(x, "cumsum");
  const std::int64_t a = normalize_axis(axis, x.dim(), "cumsum");
  const Tensor xc = contiguous(x);
  const Split3 s = split_at(x.shape(), a);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: kernel::cumsum_axis<Device::CPU>(xc, s.outer, s.r, s.inner, reverse, out); break;
    case Device::CUDA: kernel::cumsum_axis<Device::CUDA>(xc, s.outer, s.r, s.inner, reverse, out); break;
  }
  return out;
}

Tensor reduce_to_shape(const Tensor& g, const Shape& shape) {
  check_defined(g, "reduce_to_shape", "g");
  if (g.shape() == shape) return g.detach();
  const auto nd = g.dim();
  const auto lead = nd - static_cast<std::int64_t>(shape.size());
  if (lead < 0)
    throw std::invalid_argument(fmt::format("reduce_to_shape: gradient {} has fewer axes than target {}",
                                            shape_str(g.shape()), shape_str(shape)));
  std::vector<std::int64_t> axes;
  for (std::int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      axes.push_back(i);
      continue;
    }
    const auto ts = shape[static_cast<std::size_t>(i - lead)];
    const auto gs = g.shape()[static_cast<std::size_t>(i)];
    if (ts == 1 && gs != 1) axes.push_back(i);
    else if (ts != gs)
      throw std::invalid_argument(fmt::format("reduce_to_shape: gradient {} does not broadcast from {}",
                                              shape_str(g.shape()), shape_str(shape)));
  }
  if (axes.empty()) return view(g.detach(), shape);
  return reshape(sum(g, axes, true), shape);
}

double sum_all(const Tensor& x) {
  check_defined(x, "sum_all", "x");
  const Tensor xc = contiguous(x);
  switch (x.device()) {
    case Device::CPU: return kernel::sum_all<Device::CPU>(xc);
    case Device::CUDA: return kernel::sum_all<Device::CUDA>(xc);
  }
  return 0.0;
}

}  // namespace wb::prim
