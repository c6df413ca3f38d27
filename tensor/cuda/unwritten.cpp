// CUDA compute kernels that are not written yet. The device seam is in place (tensor/dispatch.cpp
// switches every primitive to wb::cuda::*), and memory and host<->device transfers work
// (tensor/cuda/memory.cu); each compute primitive here reports clearly instead of running. Replace an
// entry by a kernel in tensor/cuda/<prim>.cu and drop it from this file.
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/cuda/kernels.hpp"

namespace wb::cuda {
namespace {
[[noreturn]] void unwritten(const char* prim) {
  throw std::runtime_error(fmt::format(
      "{}: no CUDA kernel is written for this primitive yet; move the tensors to the CPU "
      "(prim::to_device(x, Device::CPU)) to run it",
      prim));
}
}  // namespace

void copy(const Tensor&, const Tensor&) { unwritten("copy_ on cuda"); }
void fill(const Tensor&, double) { unwritten("fill_ on cuda"); }
void unary(prim::Unary, const Tensor&, const Tensor&, double) { unwritten("unary on cuda"); }
void unary_backward(prim::Unary, const Tensor&, const Tensor&, const Tensor&, double) {
  unwritten("unary_backward on cuda");
}
void binary(prim::Binary, const Tensor&, const Tensor&, const Tensor&) { unwritten("binary on cuda"); }
void axpy(const Tensor&, const Tensor&, double) { unwritten("axpy_ on cuda"); }
void masked_fill(const Tensor&, const Tensor&, double, const Tensor&) { unwritten("masked_fill on cuda"); }
void gemm(const cpu::GemmBatch&, const Tensor&, const Tensor&, const Tensor&) { unwritten("matmul on cuda"); }
void gram(const Tensor&, const cpu::MatrixBatch&, prim::Gram, double, double, const Tensor&) { unwritten("gram on cuda"); }
cpu::CholeskyStatus cholesky(const Tensor&, std::int64_t, std::int64_t) { unwritten("cholesky on cuda"); }
void cholesky_logdet(const Tensor&, std::int64_t, std::int64_t, const Tensor&) { unwritten("cholesky_logdet on cuda"); }
cpu::CholeskyStatus gram_cholesky(const Tensor&, const cpu::MatrixBatch&, prim::Gram, double, double, const Tensor&,
                                  const Tensor&) {
  unwritten("gram_cholesky on cuda");
}
void cholesky_solve(const Tensor&, std::int64_t, const Tensor&, const cpu::MatrixBatch&, prim::Side, double) {
  unwritten("cholesky_solve on cuda");
}
cpu::CholeskyStatus cholesky_inverse(const Tensor&, std::int64_t, std::int64_t, const Tensor&) {
  unwritten("cholesky_inverse on cuda");
}
void sum_axis(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&) { unwritten("sum on cuda"); }
void max_axis(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("max on cuda");
}
double sum_all(const Tensor&) { unwritten("sum_all on cuda"); }
void softmax(const Tensor&, std::int64_t, std::int64_t, std::int64_t, bool, const Tensor&) {
  unwritten("softmax on cuda");
}
void softmax_backward(const Tensor&, const Tensor&, std::int64_t, std::int64_t, std::int64_t, bool, const Tensor&) {
  unwritten("softmax_backward on cuda");
}
void layer_norm(const Tensor&, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&) {
  unwritten("layer_norm on cuda");
}
void layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         const Tensor&, const Tensor&) {
  unwritten("layer_norm_backward on cuda");
}
void attention(const Tensor&, const Tensor&, const Tensor&, std::int64_t, double, const Tensor&, const Tensor&) {
  unwritten("attention on cuda");
}
void attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, std::int64_t, double,
                        const Tensor&, const Tensor&, const Tensor&) {
  unwritten("attention_backward on cuda");
}
double cross_entropy(const Tensor&, const Tensor&, std::int64_t, double, const Tensor&, std::int64_t&) {
  unwritten("cross_entropy on cuda");
}
void cross_entropy_backward(double, const Tensor&, const Tensor&, std::int64_t, double, std::int64_t, const Tensor&) {
  unwritten("cross_entropy_backward on cuda");
}
void index_select(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("index_select on cuda");
}
void index_add(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("index_add_ on cuda");
}
void gather(const Tensor&, std::int64_t, const Tensor&, const Tensor&) { unwritten("gather on cuda"); }
void scatter_add(const Tensor&, std::int64_t, const Tensor&, const Tensor&) { unwritten("scatter_add_ on cuda"); }

}  // namespace wb::cuda
