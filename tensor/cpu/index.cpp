// Index kernels: index_select / index_add_ along the middle axis of (outer, n, inner), and
// gather / scatter_add_ along one axis of equal-rank contiguous tensors. Indices are checked here and
// reported with their position.
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

void check_index(std::int64_t v, std::int64_t n, std::int64_t pos, const char* what) {
  if (v < 0 || v >= n)
    throw std::invalid_argument(fmt::format("{}: index[{}] = {} is out of range [0, {})", what, pos, v, n));
}

// Splits a contiguous tensor of `shape` at `axis` into (outer, n, inner).
void split3(const Shape& shape, std::int64_t axis, std::int64_t& outer, std::int64_t& n, std::int64_t& inner) {
  outer = 1;
  inner = 1;
  for (std::int64_t i = 0; i < axis; ++i) outer *= shape[static_cast<std::size_t>(i)];
  n = shape[static_cast<std::size_t>(axis)];
  for (std::size_t i = static_cast<std::size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void index_select<Device::CPU>(const Tensor& x, std::int64_t outer, std::int64_t n, std::int64_t inner,
                               const Tensor& index, const Tensor& out) {
  const std::int64_t* idx = index.data<std::int64_t>();
  const std::int64_t m = index.numel();
  for (std::int64_t i = 0; i < m; ++i) check_index(idx[i], n, i, "index_select");
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    parallel_for(outer * m, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, inner)), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t j = b; j < e; ++j) {
        const std::int64_t o = j / m, i = j % m;
        const T* src = px + (o * n + idx[i]) * inner;
        T* dst = po + j * inner;
        for (std::int64_t k = 0; k < inner; ++k) dst[k] = src[k];
      }
    });
  });
}

template <>
void index_add<Device::CPU>(const Tensor& out, std::int64_t outer, std::int64_t n, std::int64_t inner,
                            const Tensor& index, const Tensor& src) {
  const std::int64_t* idx = index.data<std::int64_t>();
  const std::int64_t m = index.numel();
  for (std::int64_t i = 0; i < m; ++i) check_index(idx[i], n, i, "index_add_");
  dispatch_floating(out.dtype(), "index_add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.raw_data());
    const T* ps = static_cast<const T*>(src.raw_data());
    // Parallel over the outer axis only: repeated indices within one outer slice stay on one thread,
    // in order, so the result is deterministic.
    parallel_for(outer, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t o = b; o < e; ++o)
        for (std::int64_t i = 0; i < m; ++i) {
          T* dst = po + (o * n + idx[i]) * inner;
          const T* s = ps + (o * m + i) * inner;
          for (std::int64_t k = 0; k < inner; ++k) dst[k] += s[k];
        }
    });
  });
}

template <>
void gather<Device::CPU>(const Tensor& x, std::int64_t axis, const Tensor& index, const Tensor& out) {
  std::int64_t outer, n, inner, io, m, ii;
  split3(x.shape(), axis, outer, n, inner);
  split3(index.shape(), axis, io, m, ii);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = static_cast<const T*>(x.raw_data());
    T* po = static_cast<T*>(out.raw_data());
    for (std::int64_t o = 0; o < io; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t k = 0; k < ii; ++k) {
          const std::int64_t pos = (o * m + j) * ii + k;
          check_index(idx[pos], n, pos, "gather");
          po[pos] = px[(o * n + idx[pos]) * inner + k];
        }
  });
}

template <>
void scatter_add<Device::CPU>(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src) {
  std::int64_t outer, n, inner, io, m, ii;
  split3(out.shape(), axis, outer, n, inner);
  split3(index.shape(), axis, io, m, ii);
  const std::int64_t* idx = index.data<std::int64_t>();
  dispatch_floating(out.dtype(), "scatter_add_", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* po = static_cast<T*>(out.raw_data());
    const T* ps = static_cast<const T*>(src.raw_data());
    for (std::int64_t o = 0; o < io; ++o)
      for (std::int64_t j = 0; j < m; ++j)
        for (std::int64_t k = 0; k < ii; ++k) {
          const std::int64_t pos = (o * m + j) * ii + k;
          check_index(idx[pos], n, pos, "scatter_add_");
          po[(o * n + idx[pos]) * inner + k] += ps[pos];
        }
  });
}

}  // namespace wb::kernel
