// LayerNorm over the last axis of (rows, D), fused forward and backward (the llm.c derivation):
//   xhat = (x - mean) * rstd,  rstd = 1 / sqrt(var + eps),  y = gamma * xhat + beta
//   dxhat = dy * gamma
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   dgamma = sum_rows dy * xhat,  dbeta = sum_rows dy
// Statistics accumulate in double. The parameter gradients are summed over fixed row blocks in order,
// so they do not depend on the number of threads.
#include <cmath>
#include <vector>

#include "tensor/cpu/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

constexpr std::int64_t kRowBlock = 64;

template <class T>
void layer_norm_t(const T* x, const T* gamma, const T* beta, double eps, std::int64_t rows, std::int64_t d, T* y,
                  T* mean, T* rstd) {
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

void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                const Tensor& mean, const Tensor& rstd) {
  const std::int64_t d = x.size(-1), rows = x.numel() / std::max<std::int64_t>(1, d);
  dispatch_floating(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_t<T>(static_cast<const T*>(x.raw_data()), ptr_or_null<T>(gamma), ptr_or_null<T>(beta), eps, rows, d,
                    static_cast<T*>(y.raw_data()), static_cast<T*>(mean.raw_data()), static_cast<T*>(rstd.raw_data()));
  });
}

void layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor& gamma, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  const std::int64_t d = x.size(-1), rows = x.numel() / std::max<std::int64_t>(1, d);
  dispatch_floating(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer_norm_backward_t<T>(static_cast<const T*>(dy.raw_data()), static_cast<const T*>(x.raw_data()),
                             static_cast<const T*>(mean.raw_data()), static_cast<const T*>(rstd.raw_data()),
                             ptr_or_null<T>(gamma), rows, d, static_cast<T*>(dx.raw_data()), mut_ptr_or_null<T>(dgamma),
                             mut_ptr_or_null<T>(dbeta));
  });
}

}  // namespace wb::cpu
