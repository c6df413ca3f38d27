// The CUDA specializations of the kernels of tensor/kernels.hpp that are not written yet. The device
// seam is in place (tensor/dispatch/ calls kernel::f<Device::CUDA> for every primitive), and memory and
// host<->device transfers work (tensor/cuda/memory.cu); each compute kernel here reports clearly
// instead of running. Every entry is an explicit specialization, so the compiler checks it against
// the one list, and dropping one without writing the kernel fails the link. To write a kernel, move
// its entry to tensor/cuda/<prim>.cu and give it a body.
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/kernels.hpp"

namespace wb::kernel {
namespace {
[[noreturn]] void unwritten(const char* prim) {
  throw std::runtime_error(fmt::format(
      "{}: no CUDA kernel is written for this primitive yet; move the tensors to the CPU "
      "(prim::to_device(x, Device::CPU)) to run it",
      prim));
}
constexpr Device CUDA = Device::CUDA;
}  // namespace

template <> void copy<CUDA>(const Tensor&, const Tensor&) { unwritten("copy_ on cuda"); }
template <> void fill<CUDA>(const Tensor&, double) { unwritten("fill_ on cuda"); }
template <> void unary<CUDA>(prim::Unary, const Tensor&, const Tensor&, double) { unwritten("unary on cuda"); }
template <> void unary_backward<CUDA>(prim::Unary, const Tensor&, const Tensor&, const Tensor&, double) {
  unwritten("unary_backward on cuda");
}
template <> void binary<CUDA>(prim::Binary, const Tensor&, const Tensor&, const Tensor&) { unwritten("binary on cuda"); }
template <> void axpy<CUDA>(const Tensor&, const Tensor&, double) { unwritten("axpy_ on cuda"); }
template <> void masked_fill<CUDA>(const Tensor&, const Tensor&, double, const Tensor&) {
  unwritten("masked_fill on cuda");
}

template <> void sum_axis<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&) {
  unwritten("sum on cuda");
}
template <> void cumsum_axis<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, bool, const Tensor&) {
  unwritten("cumsum on cuda");
}
template <> void max_axis<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("max on cuda");
}
template <> double sum_all<CUDA>(const Tensor&) { unwritten("sum_all on cuda"); }

template <> void gemm<CUDA>(const GemmBatch&, const Tensor&, const Tensor&, const Tensor&) { unwritten("matmul on cuda"); }

template <> void gram<CUDA>(const Tensor&, const MatrixBatch&, prim::Gram, double, double, const Tensor&) {
  unwritten("gram on cuda");
}
template <> CholeskyStatus cholesky<CUDA>(const Tensor&, std::int64_t, std::int64_t) { unwritten("cholesky on cuda"); }
template <> void cholesky_logdet<CUDA>(const Tensor&, std::int64_t, std::int64_t, const Tensor&) {
  unwritten("cholesky_logdet on cuda");
}
template <>
CholeskyStatus gram_cholesky<CUDA>(const Tensor&, const MatrixBatch&, prim::Gram, double, double, const Tensor&,
                                   const Tensor&) {
  unwritten("gram_cholesky on cuda");
}
template <> void cholesky_solve<CUDA>(const Tensor&, std::int64_t, const Tensor&, const MatrixBatch&, prim::Side, double) {
  unwritten("cholesky_solve on cuda");
}
template <> CholeskyStatus cholesky_inverse<CUDA>(const Tensor&, std::int64_t, std::int64_t, const Tensor&) {
  unwritten("cholesky_inverse on cuda");
}
template <> EigenStatus symmetric_eigen<CUDA>(const Tensor&, std::int64_t, std::int64_t, const Tensor&) {
  unwritten("symmetric_eigen on cuda");
}

template <> void softmax<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, bool, const Tensor&) {
  unwritten("softmax on cuda");
}
template <>
void softmax_backward<CUDA>(const Tensor&, const Tensor&, std::int64_t, std::int64_t, std::int64_t, bool, const Tensor&) {
  unwritten("softmax_backward on cuda");
}
template <>
void layer_norm<CUDA>(const Tensor&, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, const Tensor&) {
  unwritten("layer_norm on cuda");
}
template <>
void layer_norm_backward<CUDA>(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                               const Tensor&, const Tensor&) {
  unwritten("layer_norm_backward on cuda");
}
template <>
void attention<CUDA>(const Tensor&, const Tensor&, const Tensor&, std::int64_t, double, bool, const Tensor&,
                     const Tensor&) {
  unwritten("attention on cuda");
}
template <>
void attention_backward<CUDA>(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, std::int64_t,
                              double, bool, const Tensor&, const Tensor&, const Tensor&) {
  unwritten("attention_backward on cuda");
}
template <>
double cross_entropy<CUDA>(const Tensor&, const Tensor&, std::int64_t, double, const Tensor&, std::int64_t&) {
  unwritten("cross_entropy on cuda");
}
template <>
void cross_entropy_backward<CUDA>(double, const Tensor&, const Tensor&, std::int64_t, double, std::int64_t,
                                  const Tensor&) {
  unwritten("cross_entropy_backward on cuda");
}

template <>
void index_select<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("index_select on cuda");
}
template <>
void index_add<CUDA>(const Tensor&, std::int64_t, std::int64_t, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("index_add_ on cuda");
}
template <> void gather<CUDA>(const Tensor&, std::int64_t, const Tensor&, const Tensor&) { unwritten("gather on cuda"); }
template <> void scatter_add<CUDA>(const Tensor&, std::int64_t, const Tensor&, const Tensor&) {
  unwritten("scatter_add_ on cuda");
}

}  // namespace wb::kernel
