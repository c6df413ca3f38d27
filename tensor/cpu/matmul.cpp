// Batched GEMM through OpenBLAS cblas_?gemm (held at one thread, see tensor/parallel.hpp). Transposed
// operands arrive as transpose flags with their leading dimension, never as copies. A batch of at least
// as many products as threads runs as one parallel loop of GEMMs; otherwise each product that is large
// enough is split into blocks of rows of C (or of columns, when C is wide), one GEMM per block; every
// element of C is still one GEMM's dot product over all of k (tests/ops/test_parallel_paths.cpp checks
// that 1 and 3 threads agree bit for bit).
#include <algorithm>
#include <atomic>

#include <cblas.h>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
using kernel::GemmBatch;

namespace {

// Below this many multiply-adds a product is not worth splitting (the same threshold OpenBLAS uses
// for threading one call: 65536 * GEMM_MULTITHREAD_THRESHOLD).
constexpr std::int64_t kSmallGemm = 262144;

template <class T>
void gemm_one(const GemmBatch& g, const T* a, const T* b, T* c) {
  const auto ta = g.ta ? CblasTrans : CblasNoTrans;
  const auto tb = g.tb ? CblasTrans : CblasNoTrans;
  const auto m = static_cast<blasint>(g.m), n = static_cast<blasint>(g.n), k = static_cast<blasint>(g.k);
  const auto lda = static_cast<blasint>(g.lda), ldb = static_cast<blasint>(g.ldb), ldc = static_cast<blasint>(g.ldc);
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, static_cast<float>(g.alpha), a, lda, b, ldb,
                static_cast<float>(g.beta), c, ldc);
  else
    cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, g.alpha, a, lda, b, ldb, g.beta, c, ldc);
}

// One product split into blocks of C over the pool: rows [r0, r1) use A's rows (or columns when A is
// transposed) and C's rows; columns [c0, c1) use B's columns (or rows when B is transposed).
template <class T>
void gemm_split(const GemmBatch& g, const T* a, const T* b, T* c) {
  const auto threads = static_cast<std::int64_t>(num_threads());
  const bool by_rows = g.m >= g.n;
  const std::int64_t extent = by_rows ? g.m : g.n;
  const std::int64_t blocks = std::min(threads, std::max<std::int64_t>(1, extent / 16));
  parallel_for(blocks, 1, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t blk = s; blk < e; ++blk) {
      // block boundaries on multiples of 16 (the kernels' register tile)
      const std::int64_t lo = (extent * blk / blocks) / 16 * 16;
      const std::int64_t hi = blk + 1 == blocks ? extent : (extent * (blk + 1) / blocks) / 16 * 16;
      if (hi <= lo) continue;
      GemmBatch part = g;
      part.batch = 1;
      if (by_rows) {
        part.m = hi - lo;
        gemm_one<T>(part, a + (g.ta ? lo : lo * g.lda), b, c + lo * g.ldc);
      } else {
        part.n = hi - lo;
        gemm_one<T>(part, a, b + (g.tb ? lo * g.ldb : lo), c + lo);
      }
    }
  });
}

template <class T>
void gemm_t(const GemmBatch& g, const T* a, const T* b, T* c) {
  auto one = [&](std::int64_t i) { gemm_one<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c); };
  const auto threads = static_cast<std::int64_t>(num_threads());
  if (g.batch < threads && threads > 1 && g.m * g.n * g.k >= kSmallGemm) {
    for (std::int64_t i = 0; i < g.batch; ++i)
      gemm_split<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c);
    return;
  }
  if (g.batch > 1) {
    // Each thread takes the next few products from a shared counter rather than a fixed half of the batch,
    // so a thread delayed by another process on its core (the machines are shared) holds up only its last
    // few products. Each product is computed the same way whoever runs it.
    const std::int64_t chunk = std::max<std::int64_t>(1, g.batch / (threads * 16));
    std::atomic<std::int64_t> next{0};
    parallel_for(std::min(threads, g.batch), 1, [&](std::int64_t, std::int64_t) {
      for (std::int64_t s; (s = next.fetch_add(chunk, std::memory_order_relaxed)) < g.batch;)
        for (std::int64_t i = s, e = std::min(g.batch, s + chunk); i < e; ++i) one(i);
    });
  } else {
    for (std::int64_t i = 0; i < g.batch; ++i) one(i);
  }
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void gemm<Device::CPU>(const GemmBatch& g, const Tensor& a, const Tensor& b, const Tensor& c) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  dispatch_floating(c.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm_t<T>(g, static_cast<const T*>(a.raw_data()), static_cast<const T*>(b.raw_data()), static_cast<T*>(c.raw_data()));
  });
}

}  // namespace wb::kernel
