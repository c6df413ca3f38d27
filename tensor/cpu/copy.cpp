// Copy and fill CPU kernels: a strided copy with dtype conversion between any two layouts (one memcpy
// when both are contiguous and of one dtype), and a fill of any layout.
#include <cstring>

#include "tensor/cpu/strided.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::kernel {
using cpu::StridedLayout;

template <>
void copy<Device::CPU>(const Tensor& dst, const Tensor& src) {
  const std::int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == src.dtype() && dst.is_contiguous() && src.is_contiguous() && src.shape() == dst.shape()) {
    const auto bytes = static_cast<std::size_t>(n) * dtype_size(dst.dtype());
    char* d = static_cast<char*>(dst.raw_data());
    const char* s = static_cast<const char*>(src.raw_data());
    parallel_for(static_cast<std::int64_t>(bytes), 1 << 20, [&](std::int64_t b, std::int64_t e) {
      std::memcpy(d + b, s + b, static_cast<std::size_t>(e - b));
    });
    return;
  }
  const StridedLayout<2> lay(dst.shape(), {dst.strides(), src.strides()});
  dispatch_all(dst.dtype(), [&](auto dt) {
    using D = typename decltype(dt)::type;
    dispatch_all(src.dtype(), [&](auto st) {
      using S = typename decltype(st)::type;
      D* d = static_cast<D*>(dst.raw_data());
      const S* s = static_cast<const S*>(src.raw_data());
      parallel_for(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
        lay.for_each_run(b, e, [&](const auto& off, const auto& inc, std::int64_t len) {
          D* dp = d + off[0];
          const S* sp = s + off[1];
          if (inc[0] == 1 && inc[1] == 1) {
            for (std::int64_t i = 0; i < len; ++i) dp[i] = static_cast<D>(sp[i]);
          } else {
            for (std::int64_t i = 0; i < len; ++i) dp[i * inc[0]] = static_cast<D>(sp[i * inc[1]]);
          }
        });
      });
    });
  });
}

template <>
void fill<Device::CPU>(const Tensor& x, double value) {
  const std::int64_t n = x.numel();
  if (n == 0) return;
  const StridedLayout<1> lay(x.shape(), {x.strides()});
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(x.raw_data());
    const T v = static_cast<T>(value);
    parallel_for(n, 1 << 16, [&](std::int64_t b, std::int64_t e) {
      lay.for_each_run(b, e, [&](const auto& off, const auto& inc, std::int64_t len) {
        T* q = p + off[0];
        for (std::int64_t i = 0; i < len; ++i) q[i * inc[0]] = v;
      });
    });
  });
}

}  // namespace wb::kernel
