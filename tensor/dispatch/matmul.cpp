// Dispatch of the matrix products: matmul with broadcast batch axes, and gemm_. Strided operands are
// described to ?gemm by transpose flags, leading dimensions and batch strides; only layouts ?gemm
// cannot read are copied.
#include <algorithm>

#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

namespace {

// Collapses the batch axes of an expanded operand into one (count, stride), or false.
bool batch_stride(const Tensor& x, std::int64_t nbatch, std::int64_t& stride) {
  stride = 0;
  bool have = false;
  std::int64_t expect = 0;
  for (std::int64_t i = nbatch - 1; i >= 0; --i) {
    const auto n = x.shape()[static_cast<std::size_t>(i)];
    const auto s = x.strides()[static_cast<std::size_t>(i)];
    if (n == 1) continue;
    if (!have) {
      stride = s;
      expect = s * n;
      have = true;
    } else {
      if (s != expect) return false;
      expect = s * n;
    }
  }
  return true;
}

// Two matrices (m x k) @ (k x n), the common case: no batch axes, no handle copies, so small products
// stay cheap.
Tensor matmul_2d(const Tensor& a_in, const Tensor& b_in, std::int64_t m, std::int64_t k, std::int64_t n) {
  kernel::GemmBatch g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.ldc = std::max<std::int64_t>(1, n);
  const Tensor* pa = &a_in;
  const Tensor* pb = &b_in;
  Tensor ac, bc;
  if (!gemm_layout(m, k, a_in.stride(0), a_in.stride(1), g.ta, g.lda)) {
    ac = contiguous(a_in);
    pa = &ac;
    gemm_layout(m, k, ac.stride(0), ac.stride(1), g.ta, g.lda);
  }
  if (!gemm_layout(k, n, b_in.stride(0), b_in.stride(1), g.tb, g.ldb)) {
    bc = contiguous(b_in);
    pb = &bc;
    gemm_layout(k, n, bc.stride(0), bc.stride(1), g.tb, g.ldb);
  }
  Tensor c = Tensor::empty({m, n}, a_in.dtype(), a_in.device());
  if (k == 0) {
    fill_(c, 0.0);
    return c;
  }
  switch (c.device()) {
    case Device::CPU: kernel::gemm<Device::CPU>(g, *pa, *pb, c); break;
    case Device::CUDA: kernel::gemm<Device::CUDA>(g, *pa, *pb, c); break;
  }
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_defined(a_in, "matmul", "a");
  check_defined(b_in, "matmul", "b");
  check_same_dtype(a_in, b_in, "matmul");
  check_same_device(a_in, b_in, "matmul");
  check_floating(a_in, "matmul");
  if (a_in.dim() < 2 || b_in.dim() < 2)
    throw std::invalid_argument(fmt::format("matmul: both operands need at least 2 axes, got {} and {} (unsqueeze a vector)",
                                            shape_str(a_in.shape()), shape_str(b_in.shape())));
  const std::int64_t m = a_in.size(-2), k = a_in.size(-1), n = b_in.size(-1);
  if (b_in.size(-2) != k)
    throw std::invalid_argument(fmt::format("matmul: inner dimensions differ: {} @ {} ({} vs {})",
                                            shape_str(a_in.shape()), shape_str(b_in.shape()), k, b_in.size(-2)));
  if (a_in.dim() == 2 && b_in.dim() == 2) return matmul_2d(a_in, b_in, m, k, n);
  Tensor a = a_in.detach(), b = b_in.detach();
  // (..., M, S) @ (S, R) with a batch that folds into the rows: one GEMM of (batch*M, S) @ (S, R).
  if (b.dim() == 2 && a.dim() > 2) {
    if (auto a2 = try_view(a, {numel_of(a.shape()) / std::max<std::int64_t>(1, k), k})) {
      Shape out_shape = a.shape();
      out_shape.back() = n;
      return view(matmul(*a2, b), out_shape);
    }
  }
  const Shape abatch(a.shape().begin(), a.shape().end() - 2), bbatch(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(abatch, bbatch, "matmul (batch axes)");
  const auto nb = static_cast<std::int64_t>(batch.size());
  Shape ashape = batch, bshape = batch;
  ashape.insert(ashape.end(), {m, k});
  bshape.insert(bshape.end(), {k, n});
  a = expand(a, ashape);
  b = expand(b, bshape);

  kernel::GemmBatch g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = numel_of(batch);
  if (!gemm_layout(m, k, a.stride(-2), a.stride(-1), g.ta, g.lda) || !batch_stride(a, nb, g.stride_a)) {
    a = contiguous(a);
    gemm_layout(m, k, a.stride(-2), a.stride(-1), g.ta, g.lda);
    batch_stride(a, nb, g.stride_a);
  }
  if (!gemm_layout(k, n, b.stride(-2), b.stride(-1), g.tb, g.ldb) || !batch_stride(b, nb, g.stride_b)) {
    b = contiguous(b);
    gemm_layout(k, n, b.stride(-2), b.stride(-1), g.tb, g.ldb);
    batch_stride(b, nb, g.stride_b);
  }
  Shape out_shape = batch;
  out_shape.insert(out_shape.end(), {m, n});
  Tensor c = Tensor::empty(out_shape, a.dtype(), a.device());
  g.ldc = std::max<std::int64_t>(1, n);
  g.stride_c = m * n;
  if (k == 0) {
    fill_(c, 0.0);
    return c;
  }
  switch (a.device()) {
    case Device::CPU: kernel::gemm<Device::CPU>(g, a, b, c); break;
    case Device::CUDA: kernel::gemm<Device::CUDA>(g, a, b, c); break;
  }
  return c;
}

void gemm_(const Tensor& c, const Tensor& a_in, const Tensor& b_in, double alpha, double beta) {
  check_defined(c, "gemm_", "c");
  check_same_dtype(c, a_in, "gemm_");
  check_same_dtype(c, b_in, "gemm_");
  check_same_device(c, a_in, "gemm_");
  check_same_device(c, b_in, "gemm_");
  if (a_in.dim() != 2 || b_in.dim() != 2 || c.dim() != 2 || !c.is_contiguous())
    throw std::invalid_argument(fmt::format("gemm_: expects 2-D a, b and a contiguous 2-D c, got {} @ {} -> {}",
                                            shape_str(a_in.shape()), shape_str(b_in.shape()), shape_str(c.shape())));
  const std::int64_t m = a_in.size(0), k = a_in.size(1), n = b_in.size(1);
  if (b_in.size(0) != k || c.size(0) != m || c.size(1) != n)
    throw std::invalid_argument(fmt::format("gemm_: shapes {} @ {} -> {} do not match", shape_str(a_in.shape()),
                                            shape_str(b_in.shape()), shape_str(c.shape())));
  Tensor a = a_in.detach(), b = b_in.detach();
  kernel::GemmBatch g;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.beta = beta;
  if (!gemm_layout(m, k, a.stride(0), a.stride(1), g.ta, g.lda)) {
    a = contiguous(a);
    gemm_layout(m, k, a.stride(0), a.stride(1), g.ta, g.lda);
  }
  if (!gemm_layout(k, n, b.stride(0), b.stride(1), g.tb, g.ldb)) {
    b = contiguous(b);
    gemm_layout(k, n, b.stride(0), b.stride(1), g.tb, g.ldb);
  }
  g.ldc = std::max<std::int64_t>(1, n);
  if (k == 0) {
    scale_(c, beta);
    return;
  }
  switch (c.device()) {
    case Device::CPU: kernel::gemm<Device::CPU>(g, a, b, c); return;
    case Device::CUDA: kernel::gemm<Device::CUDA>(g, a, b, c); return;
  }
}

}  // namespace wb::prim
