// LayerNorm over the last axis of (rows, D), fused forward and backward (the llm.c derivation):
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = gamma * xhat + beta
//   dxhat = dy * gamma
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   dgamma = sum_rows dy * xhat,  dbeta = sum_rows dy
// Statistics accumulate in double. The parameter gradients are summed over fixed row blocks in order,
// so they do not depend on the number of threads. Float rows with D >= simd::W take a vectorized path:
// one-pass shifted statistics in double for the forward, and for the backward float partial sums of at
// most 8 terms widened into double sums (see the two functions for the error bounds).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "tensor/cpu/simd.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

constexpr std::int64_t kRowBlock = 64;

// Forward of rows [0, rows) of x (rows, d), d >= simd::W; gamma, beta may be null. One pass over each
// row sums a = x - k and a^2 in double with the shift k = x[0] (every a is exact in double), then
// mean = k + sum(a)/d and var = sum(a^2)/d - (sum(a)/d)^2. The shift bounds the cancellation in that
// difference by (x[0] - mean)^2 / var <= d, so its relative error stays below d^2 2^-53 (1e-12 at
// D = 96), far under float rounding: the same float mean and rstd as the two-pass loop, in one read.
// Rows go in blocks of kStatRows, statistics first, so the rows' reduction chains overlap.
constexpr std::int64_t kStatRows = 8;

void layer_norm_rows_f32(const float* x, const float* gamma, const float* beta, double eps, std::int64_t rows,
                         std::int64_t d, float* y, float* mean, float* rstd) {
  using namespace simd;
  const std::int64_t full = d / W * W;
  const int tail = static_cast<int>(d - full);
  const double inv_d = 1.0 / static_cast<double>(d);
  for (std::int64_t b0 = 0; b0 < rows; b0 += kStatRows) {
    const std::int64_t nb = std::min(kStatRows, rows - b0);
    for (std::int64_t r = b0; r < b0 + nb; ++r) {
      const float* px = x + r * d;
      const double k = px[0];
      f64v s0{}, s1{}, q0{}, q1{};
      for (std::int64_t i = 0; i < full; i += W) {
        const f64v a0 = load_widen(px + i) - k, a1 = load_widen(px + i + 8) - k;
        s0 += a0;
        s1 += a1;
        q0 += a0 * a0;
        q1 += a1 * a1;
      }
      if (tail) {
        const f64v a0 = keep_last_lo(load_widen(px + d - W) - k, tail);
        const f64v a1 = keep_last_hi(load_widen(px + d - 8) - k, tail);
        s0 += a0;
        s1 += a1;
        q0 += a0 * a0;
        q1 += a1 * a1;
      }
      const double sa = reduce_add(s0 + s1) * inv_d;
      const double var = std::max(0.0, reduce_add(q0 + q1) * inv_d - sa * sa);
      mean[r] = static_cast<float>(k + sa);
      rstd[r] = static_cast<float>(1.0 / std::sqrt(var + eps));
    }
    for (std::int64_t r = b0; r < b0 + nb; ++r) {
      const float* px = x + r * d;
      float* py = y + r * d;
      const float m = mean[r], q = rstd[r];
      auto at = [&](std::int64_t i) {  // the tail's overlapping lanes are written twice with the same values
        f32v v = (load(px + i) - m) * q;
        if (gamma != nullptr) v *= load(gamma + i);
        if (beta != nullptr) v += load(beta + i);
        store(py + i, v);
      };
      for (std::int64_t i = 0; i < full; i += W) at(i);
      if (tail) at(d - W);
    }
  }
}

// Backward of rows [0, rows) (one block of at most kRowBlock rows), d >= simd::W. Writes dx and, when g
// and bsum (double, length d) are not null, adds the block's dgamma = sum dy xhat and dbeta = sum dy to
// them. Rows go in groups of 8 that stay in L1 through three passes:
//   1. per row, mean(dxhat) and mean(dxhat xhat);
//   2. per strip of 16 columns, the group's dgamma and dbeta terms, added to g and bsum;
//   3. per row, dx.
// Widening every term to double (what the scalar loop does) costs four conversions per 16 values and
// made this kernel conversion-bound, so the sums are float partials of at most 8 terms per lane (8
// vectors of a row, or the 8 rows of a group), each widened into a double sum: the error stays below
// 8 * 2^-24 of the summed magnitudes whatever D and the row count, and the order is fixed, so results
// do not depend on the thread count.
void layer_norm_backward_rows_f32(const float* dy, const float* x, const float* mean, const float* rstd,
                                  const float* gamma, std::int64_t rows, std::int64_t d, float* dx, double* g,
                                  double* bsum) {
  using namespace simd;
  constexpr std::int64_t kGroup = 8;
  const std::int64_t full = d / W * W;
  const int tail = static_cast<int>(d - full);
  const double inv_d = 1.0 / static_cast<double>(d);
  auto xhat = [&](std::int64_t r, std::int64_t i) { return (load(x + r * d + i) - mean[r]) * rstd[r]; };
  auto dxhat = [&](std::int64_t r, std::int64_t i) {
    return gamma != nullptr ? load(dy + r * d + i) * load(gamma + i) : load(dy + r * d + i);
  };
  float ma[kGroup], mc[kGroup];
  for (std::int64_t r0 = 0; r0 < rows; r0 += kGroup) {
    const std::int64_t re = std::min(rows, r0 + kGroup);
    for (std::int64_t r = r0; r < re; ++r) {
      f64v a0{}, a1{}, c0{}, c1{};
      f32v sa{}, sc{};
      int pending = 0;
      auto flush = [&] {
        a0 += lo_f64(sa);
        a1 += hi_f64(sa);
        c0 += lo_f64(sc);
        c1 += hi_f64(sc);
        sa = sc = f32v{};
        pending = 0;
      };
      auto add = [&](std::int64_t i, bool last) {
        const f32v dh = dxhat(r, i), p = dh * xhat(r, i);
        sa += last ? keep_last(dh, tail, 0.0f) : dh;
        sc += last ? keep_last(p, tail, 0.0f) : p;
        if (++pending == 8) flush();
      };
      for (std::int64_t i = 0; i < full; i += W) add(i, false);
      if (tail) add(d - W, true);
      if (pending) flush();
      ma[r - r0] = static_cast<float>(reduce_add(a0 + a1) * inv_d);
      mc[r - r0] = static_cast<float>(reduce_add(c0 + c1) * inv_d);
    }
    if (g != nullptr) {
      auto strip = [&](std::int64_t c, bool last) {
        f32v gs{}, bs{};
        for (std::int64_t r = r0; r < re; ++r) {
          const f32v v = load(dy + r * d + c);
          gs += v * xhat(r, c);
          bs += v;
        }
        f64v gl = lo_f64(gs), gh = hi_f64(gs), bl = lo_f64(bs), bh = hi_f64(bs);
        if (last) {  // the overlapped columns were added by the previous strip
          gl = keep_last_lo(gl, tail), gh = keep_last_hi(gh, tail);
          bl = keep_last_lo(bl, tail), bh = keep_last_hi(bh, tail);
        }
        store(g + c, load(g + c) + gl);
        store(g + c + 8, load(g + c + 8) + gh);
        store(bsum + c, load(bsum + c) + bl);
        store(bsum + c + 8, load(bsum + c + 8) + bh);
      };
      for (std::int64_t c = 0; c < full; c += W) strip(c, false);
      if (tail) strip(d - W, true);
    }
    for (std::int64_t r = r0; r < re; ++r) {
      const float q = rstd[r], a = ma[r - r0], c = mc[r - r0];
      auto at = [&](std::int64_t i) { store(dx + r * d + i, q * (dxhat(r, i) - a - xhat(r, i) * c)); };
      for (std::int64_t i = 0; i < full; i += W) at(i);
      if (tail) at(d - W);
    }
  }
}

template <class T>
void layer_norm_t(const T* x, const T* gamma, const T* beta, double eps, std::int64_t rows, std::int64_t d, T* y,
                  T* mean, T* rstd) {
  if constexpr (std::is_same_v<T, float>) {
    if (d >= simd::W) {
      parallel_for(rows, std::max<std::int64_t>(1, 4096 / d), [&](std::int64_t b, std::int64_t e) {
        layer_norm_rows_f32(x + b * d, gamma, beta, eps, e - b, d, y + b * d, mean + b, rstd + b);
      });
      return;
    }
  }
  parallel_for(rows, std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, d)), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) {
      const T* px = x + r * d;
      T* py = y + r * d;
      double s = 0.0;
      for (std::int64_t i = 0; i < d; ++i) s += static_cast<double>(px[i]);
      const double mu = s / static_cast<double>(d);
      double v = 0.0;
      for (std::int64_t i = 0; i < d; ++i) {
        const double c = static_cast<double>(px[i]) - mu;
        v += c * c;
      }
      const double rs = 1.0 / std::sqrt(v / static_cast<double>(d) + eps);
      const T m = static_cast<T>(mu), q = static_cast<T>(rs);
      if (gamma != nullptr) {
        for (std::int64_t i = 0; i < d; ++i) py[i] = (px[i] - m) * q * gamma[i] + (beta != nullptr ? beta[i] : T(0));
      } else {
        for (std::int64_t i = 0; i < d; ++i) py[i] = (px[i] - m) * q + (beta != nullptr ? beta[i] : T(0));
      }
      mean[r] = m;
      rstd[r] = q;
    }
  });
}

template <class T>
void layer_norm_backward_t(const T* dy, const T* x, const T* mean, const T* rstd, const T* gamma, std::int64_t rows,
                           std::int64_t d, T* dx, T* dgamma, T* dbeta) {
  const std::int64_t nblocks = (rows + kRowBlock - 1) / kRowBlock;
  const bool want_params = dgamma != nullptr || dbeta != nullptr;
  std::vector<double> pg(want_params ? static_cast<std::size_t>(nblocks * d) : 0, 0.0);
  std::vector<double> pb(want_params ? static_cast<std::size_t>(nblocks * d) : 0, 0.0);
  parallel_for(nblocks, 1, [&](std::int64_t bb, std::int64_t be) {
    std::vector<T> dxhat(static_cast<std::size_t>(d));
    for (std::int64_t blk = bb; blk < be; ++blk) {
      double* g = want_params ? pg.data() + blk * d : nullptr;
      double* bsum = want_params ? pb.data() + blk * d : nullptr;
      if constexpr (std::is_same_v<T, float>) {
        if (d >= simd::W) {
          const std::int64_t r0 = blk * kRowBlock, n = std::min(rows, r0 + kRowBlock) - r0;
          layer_norm_backward_rows_f32(dy + r0 * d, x + r0 * d, mean + r0, rstd + r0, gamma, n, d, dx + r0 * d, g, bsum);
          continue;
        }
      }
      for (std::int64_t r = blk * kRowBlock, re = std::min(rows, r + kRowBlock); r < re; ++r) {
        const T* pdy = dy + r * d;
        const T* px = x + r * d;
        const T m = mean[r], q = rstd[r];
        double s1 = 0.0, s2 = 0.0;
        for (std::int64_t i = 0; i < d; ++i) {
          const T xh = (px[i] - m) * q;
          const T dh = gamma != nullptr ? pdy[i] * gamma[i] : pdy[i];
          dxhat[static_cast<std::size_t>(i)] = dh;
          s1 += static_cast<double>(dh);
          s2 += static_cast<double>(dh) * static_cast<double>(xh);
          if (g != nullptr) {
            g[i] += static_cast<double>(pdy[i]) * static_cast<double>(xh);
            bsum[i] += static_cast<double>(pdy[i]);
          }
        }
        const T a = static_cast<T>(s1 / static_cast<double>(d)), c = static_cast<T>(s2 / static_cast<double>(d));
        T* pdx = dx + r * d;
        for (std::int64_t i = 0; i < d; ++i) {
          const T xh = (px[i] - m) * q;
          pdx[i] = q * (dxhat[static_cast<std::size_t>(i)] - a - xh * c);
        }
      }
    }
  });
  if (want_params) {
    for (std::int64_t i = 0; i < d; ++i) {
      double g = 0.0, b = 0.0;
      for (std::int64_t blk = 0; blk < nblocks; ++blk) {
        g += pg[static_cast<std::size_t>(blk * d + i)];
        b += pb[static_cast<std::size_t>(blk * d + i)];
      }
      if (dgamma != nullptr) dgamma[i] = static_cast<T>(g);
      if (dbeta != nullptr) dbeta[i] = static_cast<T>(b);
    }
  }
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* mut_ptr_or_null(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void layer_norm<Device::CPU>(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                             const Tensor& mean, const Tensor& rstd) {
  const std::int64_t d = x.size(-1), rows = x.numel() / std::max<std::int64_t>(1, d);
  dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_t<T>(static_cast<const T*>(x.raw_data()), ptr_or_null<T>(gamma), ptr_or_null<T>(beta), eps, rows, d,
                    static_cast<T*>(y.raw_data()), static_cast<T*>(mean.raw_data()), static_cast<T*>(rstd.raw_data()));
  });
}

template <>
void layer_norm_backward<Device::CPU>(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                      const Tensor& gamma, const Tensor& dx, const Tensor& dgamma,
                                      const Tensor& dbeta) {
  const std::int64_t d = x.size(-1), rows = x.numel() / std::max<std::int64_t>(1, d);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_backward_t<T>(static_cast<const T*>(dy.raw_data()), static_cast<const T*>(x.raw_data()),
                             static_cast<const T*>(mean.raw_data()), static_cast<const T*>(rstd.raw_data()),
                             ptr_or_null<T>(gamma), rows, d, static_cast<T*>(dx.raw_data()), mut_ptr_or_null<T>(dgamma),
                             mut_ptr_or_null<T>(dbeta));
  });
}

}  // namespace wb::kernel
