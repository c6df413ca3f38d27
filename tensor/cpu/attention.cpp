// Fused multi-head attention, one (batch, head) at a time so its n x n scores stay in cache:
//   forward   S = scale Q_h K_h^T;  A = softmax_row(S) (kept: the maps);  O_h = A V_h
//   backward  dA = dO_h V_h^T;  dV_h = A^T dO_h;  dS = scale A * (dA - rowsum(dA * A));
//             dQ_h = dS K_h;  dK_h = dS^T Q_h
// Q, K, V are (B, n, H p) views with last stride 1 (heads side by side, as one projection writes them),
// so no head split or merge is ever copied. With q, k, v one tensor (CRATE's tied MSSA) the three
// gradients are accumulated into one buffer by the GEMMs' beta = 1. Jobs (b, h) are split over the
// pool, each calling single-threaded ?gemm (OpenBLAS is held at one thread).
//
// Causal (token i attends to j <= i): rows are taken in tiles of kCausalTile; tile [r0, r1) only meets
// keys [0, r1), so no tile above the diagonal is computed and no mask is stored. The softmax of row i
// runs over its i + 1 valid scores; the maps hold zeros above the diagonal (the few scores the diagonal
// tile's GEMM computes there are discarded). The backward accumulates dV and dK tile by tile.
#include <cblas.h>

#include <algorithm>
#include <vector>

#include "tensor/cpu/softmax.hpp"
#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
          const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const auto cta = ta ? CblasTrans : CblasNoTrans, ctb = tb ? CblasTrans : CblasNoTrans;
  const auto bm = static_cast<blasint>(m), bn = static_cast<blasint>(n), bk = static_cast<blasint>(k);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, cta, ctb, bm, bn, bk, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
  else
    cblas_dgemm(CblasRowMajor, cta, ctb, bm, bn, bk, alpha, a, static_cast<blasint>(lda), b, static_cast<blasint>(ldb),
                beta, c, static_cast<blasint>(ldc));
}

// Base pointer and strides of one (B, n, H p) operand.
template <class T>
struct Operand {
  const T* p;
  std::int64_t batch, row;  // element strides
  const T* head(std::int64_t b, std::int64_t h, std::int64_t dim) const { return p + b * batch + h * dim; }
};

template <class T>
Operand<T> operand(const Tensor& t) {
  return {static_cast<const T*>(t.raw_data()), t.stride(0), t.stride(1)};
}

constexpr std::int64_t kCausalTile = 32;

template <class T>
void causal_attention_head(const Operand<T>& q, const Operand<T>& k, const Operand<T>& v, std::int64_t b,
                           std::int64_t h, std::int64_t n, std::int64_t p, T scale, T* a, T* out_head,
                           std::int64_t width, std::vector<T>& scores) {
  for (std::int64_t r0 = 0; r0 < n; r0 += kCausalTile) {
    const std::int64_t r1 = std::min(n, r0 + kCausalTile), rows = r1 - r0;
    gemm<T>(false, true, rows, r1, p, scale, q.head(b, h, p) + r0 * q.row, q.row, k.head(b, h, p), k.row, T(0),
            scores.data(), r1);
    for (std::int64_t i = r0; i < r1; ++i) {
      T* row = a + i * n;
      softmax_rows<T>(scores.data() + (i - r0) * r1, row, 1, i + 1);
      std::fill(row + i + 1, row + n, T(0));
    }
    gemm<T>(false, false, rows, p, r1, T(1), a + r0 * n, n, v.head(b, h, p), v.row, T(0), out_head + r0 * width, width);
  }
}

template <class T>
void attention_t(const Tensor& qt, const Tensor& kt, const Tensor& vt, std::int64_t heads, double scale_d,
                 bool causal, const Tensor& out_t, const Tensor& maps_t) {
  const auto q = operand<T>(qt), k = operand<T>(kt), v = operand<T>(vt);
  const std::int64_t batch = qt.size(0), n = qt.size(1), width = qt.size(2), p = width / heads;
  const T scale = static_cast<T>(scale_d);
  T* out = static_cast<T*>(out_t.raw_data());
  T* maps = static_cast<T*>(maps_t.raw_data());
  parallel_for(batch * heads, 1, [&](std::int64_t s, std::int64_t e) {
    std::vector<T> scores(static_cast<std::size_t>(n * n));  // softmax_rows must not run in place
    for (std::int64_t job = s; job < e; ++job) {
      const std::int64_t b = job / heads, h = job % heads;
      T* a = maps + job * n * n;
      if (causal) {
        causal_attention_head<T>(q, k, v, b, h, n, p, scale, a, out + b * n * width + h * p, width, scores);
        continue;
      }
      gemm<T>(false, true, n, n, p, scale, q.head(b, h, p), q.row, k.head(b, h, p), k.row, T(0), scores.data(), n);
      softmax_rows<T>(scores.data(), a, n, n);
      gemm<T>(false, false, n, p, n, T(1), a, n, v.head(b, h, p), v.row, T(0), out + b * n * width + h * p, width);
    }
  });
}

template <class T>
void attention_backward_t(const Tensor& dout_t, const Tensor& qt, const Tensor& kt, const Tensor& vt,
                          const Tensor& maps_t, std::int64_t heads, double scale_d, bool causal, const Tensor& dq_t,
                          const Tensor& dk_t, const Tensor& dv_t) {
  const auto q = operand<T>(qt), k = operand<T>(kt), v = operand<T>(vt);
  const std::int64_t batch = qt.size(0), n = qt.size(1), width = qt.size(2), p = width / heads;
  const T scale = static_cast<T>(scale_d);
  const T* dout = static_cast<const T*>(dout_t.raw_data());
  const T* maps = static_cast<const T*>(maps_t.raw_data());
  T* dq = static_cast<T*>(dq_t.raw_data());
  const bool tied = !dk_t.defined();
  T* dk = tied ? dq : static_cast<T*>(dk_t.raw_data());
  T* dv = tied ? dq : static_cast<T*>(dv_t.raw_data());
  parallel_for(batch * heads, 1, [&](std::int64_t s, std::int64_t e) {
    std::vector<T> da(static_cast<std::size_t>(n * n)), ds(static_cast<std::size_t>(n * n));
    for (std::int64_t job = s; job < e; ++job) {
      const std::int64_t b = job / heads, h = job % heads;
      const T* a = maps + job * n * n;
      const T* d = dout + b * n * width + h * p;
      const std::int64_t off = b * n * width + h * p;  // this head's block of the (B, n, H p) gradients
      if (causal) {
        // This head's blocks start at zero (in the tied case, one buffer for all three gradients).
        for (T* g : {dq, dk, dv})
          for (std::int64_t i = 0; i < n; ++i) std::fill(g + off + i * width, g + off + i * width + p, T(0));
        for (std::int64_t r0 = 0; r0 < n; r0 += kCausalTile) {
          const std::int64_t r1 = std::min(n, r0 + kCausalTile), rows = r1 - r0;
          const T* ar = a + r0 * n;  // rows [r0, r1) of A, leading dimension n; columns [0, r1) are valid
          const T* dr = d + r0 * width;
          gemm<T>(false, true, rows, r1, p, T(1), dr, width, v.head(b, h, p), v.row, T(0), da.data(), r1);  // dA
          for (std::int64_t i = r0; i < r1; ++i)
            softmax_backward_rows<T>(da.data() + (i - r0) * r1, a + i * n, ds.data() + (i - r0) * r1, 1, i + 1);
          for (std::int64_t i = r0; i < r1; ++i)
            std::fill(ds.data() + (i - r0) * r1 + i + 1, ds.data() + (i - r0 + 1) * r1, T(0));
          gemm<T>(true, false, r1, p, rows, T(1), ar, n, dr, width, T(1), dv + off, width);  // dV[0:r1] += A^T dO
          gemm<T>(false, false, rows, p, r1, scale, ds.data(), r1, k.head(b, h, p), k.row, T(1), dq + off + r0 * width,
                  width);  // dQ[R] += dS K
          gemm<T>(true, false, r1, p, rows, scale, ds.data(), r1, q.head(b, h, p) + r0 * q.row, q.row, T(1), dk + off,
                  width);  // dK[0:r1] += dS^T Q[R]
        }
        continue;
      }
      // dA = dO V^T, then dS = softmax_backward(dA) (the scale goes into the two GEMMs below)
      gemm<T>(false, true, n, n, p, T(1), d, width, v.head(b, h, p), v.row, T(0), da.data(), n);
      softmax_backward_rows<T>(da.data(), a, ds.data(), n, n);
      gemm<T>(true, false, n, p, n, T(1), a, n, d, width, T(0), dv + off, width);                                // dV
      gemm<T>(false, false, n, p, n, scale, ds.data(), n, k.head(b, h, p), k.row, T(tied ? 1 : 0), dq + off, width);  // dQ
      gemm<T>(true, false, n, p, n, scale, ds.data(), n, q.head(b, h, p), q.row, T(1.0 * tied), dk + off, width);    // dK
    }
  });
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void attention<Device::CPU>(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale,
                            bool causal, const Tensor& out, const Tensor& maps) {
  dispatch_floating(q.dtype(), "attention", [&](auto tag) {
    using T = typename decltype(tag)::type;
    attention_t<T>(q, k, v, heads, scale, causal, out, maps);
  });
}

template <>
void attention_backward<Device::CPU>(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                     const Tensor& maps, std::int64_t heads, double scale, bool causal,
                                     const Tensor& dq, const Tensor& dk, const Tensor& dv) {
  dispatch_floating(q.dtype(), "attention_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    attention_backward_t<T>(dout, q, k, v, maps, heads, scale, causal, dq, dk, dv);
  });
}

}  // namespace wb::kernel
