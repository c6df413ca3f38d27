// Stable softmax / log-softmax over the middle axis of (outer, r, inner), fused forward and backward.
//   softmax:      y = exp(x - max) / sum exp(x - max)        dx = y * (dy - sum(dy * y))
//   log_softmax:  y = x - max - log sum exp(x - max)         dx = dy - exp(y) * sum(dy)
#include <cmath>
#include <limits>

#include "tensor/cpu/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

template <class T>
void softmax_t(const T* x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, T* y) {
  parallel_for(outer * inner, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, r)),
               [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t o = j / inner, i = j % inner;
      const T* px = x + o * r * inner + i;
      T* py = y + o * r * inner + i;
      T mx = -std::numeric_limits<T>::infinity();
      for (std::int64_t k = 0; k < r; ++k) mx = std::max(mx, px[k * inner]);
      if (mx == -std::numeric_limits<T>::infinity()) mx = 0;  // fully masked row: keep it finite
      T s = 0;
      if (log) {
        for (std::int64_t k = 0; k < r; ++k) s += std::exp(px[k * inner] - mx);
        const T lse = mx + std::log(s);
        for (std::int64_t k = 0; k < r; ++k) py[k * inner] = px[k * inner] - lse;
      } else {
        for (std::int64_t k = 0; k < r; ++k) {
          const T v = std::exp(px[k * inner] - mx);
          py[k * inner] = v;
          s += v;
        }
        const T inv = T(1) / s;
        for (std::int64_t k = 0; k < r; ++k) py[k * inner] *= inv;
      }
    }
  });
}

template <class T>
void softmax_backward_t(const T* dy, const T* y, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log,
                        T* dx) {
  parallel_for(outer * inner, std::max<std::int64_t>(1, 8192 / std::max<std::int64_t>(1, r)),
               [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t o = j / inner, i = j % inner;
      const std::int64_t base = o * r * inner + i;
      T s = 0;
      if (log) {
        for (std::int64_t k = 0; k < r; ++k) s += dy[base + k * inner];
        for (std::int64_t k = 0; k < r; ++k) dx[base + k * inner] = dy[base + k * inner] - std::exp(y[base + k * inner]) * s;
      } else {
        for (std::int64_t k = 0; k < r; ++k) s += dy[base + k * inner] * y[base + k * inner];
        for (std::int64_t k = 0; k < r; ++k) dx[base + k * inner] = y[base + k * inner] * (dy[base + k * inner] - s);
      }
    }
  });
}

}  // namespace

void softmax(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, const Tensor& y) {
  dispatch_floating(x.dtype(), "softmax", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_t<T>(static_cast<const T*>(x.raw_data()), outer, r, inner, log, static_cast<T*>(y.raw_data()));
  });
}

void softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r, std::int64_t inner,
                      bool log, const Tensor& dx) {
  dispatch_floating(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_backward_t<T>(static_cast<const T*>(dy.raw_data()), static_cast<const T*>(y.raw_data()), outer, r, inner,
                          log, static_cast<T*>(dx.raw_data()));
  });
}

}  // namespace wb::cpu
