// Batched GEMM through OpenBLAS cblas_?gemm. Transposed operands arrive as transpose flags with their
// leading dimension, never as copies. Many small products (attention: batch x heads of N x N) run as
// one parallel loop of single-threaded GEMMs; large ones run one after another and let OpenBLAS
// thread each.
#include <algorithm>
#include <atomic>

#include <cblas.h>

#include "tensor/cpu/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

// OpenBLAS runs a GEMM on one thread below m*n*k = 65536 * GEMM_MULTITHREAD_THRESHOLD (4).
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

template <class T>
void gemm_t(const GemmBatch& g, const T* a, const T* b, T* c) {
  auto one = [&](std::int64_t i) { gemm_one<T>(g, a + i * g.stride_a, b + i * g.stride_b, c + i * g.stride_c); };
  if (g.batch > 1 && g.m * g.n * g.k < kSmallGemm) {
    // Each thread takes the next few products from a shared counter rather than a fixed half of the batch,
    // so a thread delayed by another process on its core (the machines are shared) holds up only its last
    // few products. Each product is computed the same way whoever runs it.
    const auto threads = static_cast<std::int64_t>(num_threads());
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

void gemm(const GemmBatch& g, const Tensor& a, const Tensor& b, const Tensor& c) {
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  dispatch_floating(c.dtype(), "matmul", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gemm_t<T>(g, static_cast<const T*>(a.raw_data()), static_cast<const T*>(b.raw_data()), static_cast<T*>(c.raw_data()));
  });
}

}  // namespace wb::cpu
