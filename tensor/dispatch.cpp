// The device seam: every compute primitive of prim.hpp validates its arguments here, allocates its
// output on the input's device, and switches once on the device to the CPU kernel (tensor/cpu/) or
// the CUDA kernel (tensor/cuda/). No other file branches on the device.
#include "tensor/dispatch.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tensor/cpu/kernels.hpp"
#include "tensor/cuda/kernels.hpp"
#include "tensor/prim.hpp"

namespace wb {

bool cuda_available() { return cuda_built() && cuda::device_count() > 0; }

namespace dispatch {

void* device_alloc(std::size_t nbytes, Device device) {
  if (device != Device::CUDA) throw std::logic_error("device_alloc: host memory is allocated by Storage");
  return cuda::alloc(nbytes);
}

void device_free(void* p, Device device) {
  if (device == Device::CUDA) cuda::free(p);
}

void memcpy_between(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device == Device::CPU && src_device == Device::CPU) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  const auto kind = dst_device == Device::CUDA
                        ? (src_device == Device::CUDA ? cuda::CopyKind::device_to_device : cuda::CopyKind::host_to_device)
                        : cuda::CopyKind::device_to_host;
  cuda::memcpy(dst, src, nbytes, kind);
}

}  // namespace dispatch

namespace prim {
namespace {

void check_defined(const Tensor& t, const char* what, const char* arg) {
  if (!t.defined()) throw std::invalid_argument(fmt::format("{}: argument '{}' is an undefined tensor", what, arg));
}

void check_same_device(const Tensor& a, const Tensor& b, const char* what) {
  if (a.device() != b.device())
    throw std::invalid_argument(fmt::format("{}: tensors are on different devices ({} and {})", what,
                                            device_name(a.device()), device_name(b.device())));
}

void check_same_dtype(const Tensor& a, const Tensor& b, const char* what) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("{}: dtypes differ ({} {} and {} {}); cast one with prim::cast / ops::cast",
                                            what, shape_str(a.shape()), dtype_name(a.dtype()), shape_str(b.shape()),
                                            dtype_name(b.dtype())));
}

void check_floating(const Tensor& t, const char* what) {
  if (!is_floating(t.dtype()))
    throw std::invalid_argument(
        fmt::format("{}: expected a floating tensor, got {} {}", what, shape_str(t.shape()), dtype_name(t.dtype())));
}

void check_same_shape(const Tensor& a, const Tensor& b, const char* what) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(
        fmt::format("{}: shapes differ ({} and {})", what, shape_str(a.shape()), shape_str(b.shape())));
}

// Op names for the messages of the elementwise primitives, so an error from ops::relu says "relu".
const char* op_name(Unary op) {
  static constexpr const char* names[] = {"neg",  "exp",  "log",  "sqrt",   "abs",        "sign",
                                          "relu", "gelu", "tanh", "square", "reciprocal", "pow",
                                          "add_scalar", "mul_scalar", "soft_threshold", "gt_scalar"};
  static_assert(std::size(names) == static_cast<std::size_t>(Unary::gt_scalar) + 1);
  return names[static_cast<std::size_t>(op)];
}
const char* op_name(Binary op) {
  static constexpr const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "gt", "lt"};
  static_assert(std::size(names) == static_cast<std::size_t>(Binary::lt) + 1);
  return names[static_cast<std::size_t>(op)];
}

// (outer, r, inner) split of `shape` at `axis`.
struct Split3 {
  std::int64_t outer = 1, r = 1, inner = 1;
};
Split3 split_at(const Shape& shape, std::int64_t axis) {
  Split3 s;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(shape.size()); ++i) {
    const auto n = shape[static_cast<std::size_t>(i)];
    if (i < axis) s.outer *= n;
    else if (i == axis) s.r = n;
    else s.inner *= n;
  }
  return s;
}

}  // namespace

// ---------------- memory ----------------

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous", "x");
  return x.is_contiguous() ? x.detach() : clone(x);
}

Tensor clone(const Tensor& x) {
  check_defined(x, "clone", "x");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

Tensor empty_like(const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), x.device()); }
Tensor zeros_like(const Tensor& x) { return Tensor::zeros(x.shape(), x.dtype(), x.device()); }

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined(dst, "copy_", "dst");
  check_defined(src, "copy_", "src");
  if (dst.device() != src.device()) {
    // Stage through a contiguous buffer of dst's dtype on the source device, then move the bytes.
    Tensor staged_src = Tensor::empty(dst.shape(), dst.dtype(), src.device());
    copy_(staged_src, src);
    Tensor staged_dst = Tensor::empty(dst.shape(), dst.dtype(), dst.device());
    dispatch::memcpy_between(staged_dst.raw_data(), dst.device(), staged_src.raw_data(), src.device(),
                             static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()));
    copy_(dst, staged_dst);
    return;
  }
  const Tensor s = expand(src, dst.shape());
  switch (dst.device()) {
    case Device::CPU: cpu::copy(dst, s); return;
    case Device::CUDA: cuda::copy(dst, s); return;
  }
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "x");
  if (x.dtype() == dtype) return x.detach();
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  copy_(out, x);
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to_device", "x");
  if (x.device() == device) return x.detach();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  copy_(out, x);
  return out;
}

void fill_(const Tensor& x, double value) {
  check_defined(x, "fill_", "x");
  switch (x.device()) {
    case Device::CPU: cpu::fill(x, value); return;
    case Device::CUDA: cuda::fill(x, value); return;
  }
}

// ---------------- elementwise ----------------

Tensor unary(Unary op, const Tensor& x, double p) {
  check_defined(x, op_name(op), "x");
  check_floating(x, op_name(op));
  const Tensor xc = contiguous(x);
  Tensor out = empty_like(xc);
  switch (x.device()) {
    case Device::CPU: cpu::unary(op, xc, out, p); break;
    case Device::CUDA: cuda::unary(op, xc, out, p); break;
  }
  return out;
}

void unary_(Unary op, const Tensor& x, double p) {
  check_defined(x, "unary_", "x");
  check_floating(x, "unary_");
  if (!x.is_contiguous()) {
    copy_(x, unary(op, x, p));
    return;
  }
  switch (x.device()) {
    case Device::CPU: cpu::unary(op, x, x, p); return;
    case Device::CUDA: cuda::unary(op, x, x, p); return;
  }
}

Tensor unary_backward(Unary op, const Tensor& dy, const Tensor& saved, double p) {
  check_defined(dy, "unary_backward", "dy");
  check_floating(dy, "unary_backward");
  const Tensor dyc = contiguous(dy);
  Tensor sc;
  if (saved.defined()) {
    check_same_shape(dy, saved, "unary_backward");
    check_same_dtype(dy, saved, "unary_backward");
    sc = contiguous(saved);
  }
  Tensor dx = empty_like(dyc);
  switch (dy.device()) {
    case Device::CPU: cpu::unary_backward(op, dyc, sc, dx, p); break;
    case Device::CUDA: cuda::unary_backward(op, dyc, sc, dx, p); break;
  }
  return dx;
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  const char* what = op_name(op);
  check_defined(a, what, "a");
  check_defined(b, what, "b");
  check_same_dtype(a, b, what);
  check_same_device(a, b, what);
  check_floating(a, what);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const Tensor ea = expand(a, shape), eb = expand(b, shape);
  switch (a.device()) {
    case Device::CPU: cpu::binary(op, ea, eb, out); break;
    case Device::CUDA: cuda::binary(op, ea, eb, out); break;
  }
  return out;
}

void binary_(Binary op, const Tensor& a, const Tensor& b) {
  check_defined(a, "binary_", "a");
  check_defined(b, "binary_", "b");
  check_same_dtype(a, b, "binary_");
  check_same_device(a, b, "binary_");
  check_floating(a, "binary_");
  const Tensor eb = expand(b, a.shape());
  switch (a.device()) {
    case Device::CPU: cpu::binary(op, a, eb, a); return;
    case Device::CUDA: cuda::binary(op, a, eb, a); return;
  }
}

void axpy_(const Tensor& y, const Tensor& x, double alpha) {
  check_defined(y, "axpy_", "y");
  check_defined(x, "axpy_", "x");
  check_same_shape(y, x, "axpy_");
  check_same_dtype(y, x, "axpy_");
  check_same_device(y, x, "axpy_");
  if (!y.is_contiguous() || !x.is_contiguous()) {
    binary_(Binary::add, y, alpha == 1.0 ? x : unary(Unary::mul_scalar, x, alpha));
    return;
  }
  switch (y.device()) {
    case Device::CPU: cpu::axpy(y, x, alpha); return;
    case Device::CUDA: cuda::axpy(y, x, alpha); return;
  }
}

void scale_(const Tensor& x, double alpha) { unary_(Unary::mul_scalar, x, alpha); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "x");
  check_defined(mask, "masked_fill", "mask");
  check_floating(x, "masked_fill");
  check_same_device(x, mask, "masked_fill");
  if (broadcast_shapes(x.shape(), mask.shape(), "masked_fill") != x.shape())
    throw std::invalid_argument(fmt::format("masked_fill: mask {} does not broadcast to the input's shape {}",
                                            shape_str(mask.shape()), shape_str(x.shape())));
  Tensor out = empty_like(x);
  const Tensor em = expand(mask, x.shape());
  switch (x.device()) {
    case Device::CPU: cpu::masked_fill(x, em, value, out); break;
    case Device::CUDA: cuda::masked_fill(x, em, value, out); break;
  }
  return out;
}

// ---------------- reductions ----------------

Tensor sum(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim) {
  check_defined(x, "sum", "x");
  check_floating(x, "sum");
  const std::int64_t nd = x.dim();
  if (axes.empty())
    for (std::int64_t i = 0; i < nd; ++i) axes.push_back(i);
  for (auto& a : axes) a = normalize_axis(a, nd, "sum");
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());

  Tensor cur = contiguous(x);
  Shape kept = x.shape();  // shape with reduced axes set to 1
  // Reduce runs of consecutive axes in one pass each, last run first so earlier axes keep their index.
  std::size_t i = axes.size();
  while (i > 0) {
    std::size_t j = i - 1;
    while (j > 0 && axes[j - 1] + 1 == axes[j]) --j;
    const std::int64_t first = axes[j], last = axes[i - 1];
    std::int64_t outer = 1, r = 1, inner = 1;
    for (std::int64_t k = 0; k < nd; ++k) {
      const auto n = kept[static_cast<std::size_t>(k)];
      if (k < first) outer *= n;
      else if (k <= last) r *= n;
      else inner *= n;
    }
    for (std::int64_t k = first; k <= last; ++k) kept[static_cast<std::size_t>(k)] = 1;
    Tensor out = Tensor::empty(kept, x.dtype(), x.device());
    switch (x.device()) {
      case Device::CPU: cpu::sum_axis(cur, outer, r, inner, out); break;
      case Device::CUDA: cuda::sum_axis(cur, outer, r, inner, out); break;
    }
    cur = out;
    i = j;
  }
  if (keepdim) return cur;
  Shape out_shape;
  for (std::int64_t k = 0; k < nd; ++k)
    if (!std::binary_search(axes.begin(), axes.end(), k)) out_shape.push_back(x.shape()[static_cast<std::size_t>(k)]);
  return view(cur, out_shape);
}

MaxResult max(const Tensor& x, std::int64_t axis, bool keepdim) {
  check_defined(x, "max", "x");
  check_floating(x, "max");
  const std::int64_t a = normalize_axis(axis, x.dim(), "max");
  if (x.shape()[static_cast<std::size_t>(a)] == 0)
    throw std::invalid_argument(fmt::format("max: axis {} of shape {} is empty", a, shape_str(x.shape())));
  const Tensor xc = contiguous(x);
  const Split3 s = split_at(x.shape(), a);
  Shape kept = x.shape();
  kept[static_cast<std::size_t>(a)] = 1;
  MaxResult res{Tensor::empty(kept, x.dtype(), x.device()), Tensor::empty(kept, DType::i64, x.device())};
  switch (x.device()) {
    case Device::CPU: cpu::max_axis(xc, s.outer, s.r, s.inner, res.values, res.indices); break;
    case Device::CUDA: cuda::max_axis(xc, s.outer, s.r, s.inner, res.values, res.indices); break;
  }
  if (!keepdim) {
    res.values = squeeze(res.values, a);
    res.indices = squeeze(res.indices, a);
  }
  return res;
}

Tensor reduce_to_shape(const Tensor& g, const Shape& shape) {
  check_defined(g, "reduce_to_shape", "g");
  if (g.shape() == shape) return g.detach();
  const auto nd = g.dim();
  const auto lead = nd - static_cast<std::int64_t>(shape.size());
  if (lead < 0)
    throw std::invalid_argument(fmt::format("reduce_to_shape: gradient {} has fewer axes than target {}",
                                            shape_str(g.shape()), shape_str(shape)));
  std::vector<std::int64_t> axes;
  for (std::int64_t i = 0; i < nd; ++i) {
    if (i < lead) {
      axes.push_back(i);
      continue;
    }
    const auto ts = shape[static_cast<std::size_t>(i - lead)];
    const auto gs = g.shape()[static_cast<std::size_t>(i)];
    if (ts == 1 && gs != 1) axes.push_back(i);
    else if (ts != gs)
      throw std::invalid_argument(fmt::format("reduce_to_shape: gradient {} does not broadcast from {}",
                                              shape_str(g.shape()), shape_str(shape)));
  }
  if (axes.empty()) return view(g.detach(), shape);
  return reshape(sum(g, axes, true), shape);
}

double sum_all(const Tensor& x) {
  check_defined(x, "sum_all", "x");
  const Tensor xc = contiguous(x);
  switch (x.device()) {
    case Device::CPU: return cpu::sum_all(xc);
    case Device::CUDA: return cuda::sum_all(xc);
  }
  return 0.0;
}

// ---------------- matrix products ----------------

namespace {

// Describes a (rows x cols) matrix view for ?gemm: transpose flag and leading dimension, or false
// when its layout cannot be passed directly.
bool gemm_layout(std::int64_t rows, std::int64_t cols, std::int64_t sr, std::int64_t sc, bool& trans, std::int64_t& ld) {
  if ((sc == 1 || cols == 1) && (rows == 1 || sr >= std::max<std::int64_t>(1, cols))) {
    trans = false;
    ld = rows == 1 ? std::max<std::int64_t>(1, cols) : sr;
    return ld >= std::max<std::int64_t>(1, cols);
  }
  if ((sr == 1 || rows == 1) && (cols == 1 || sc >= std::max<std::int64_t>(1, rows))) {
    trans = true;
    ld = cols == 1 ? std::max<std::int64_t>(1, rows) : sc;
    return ld >= std::max<std::int64_t>(1, rows);
  }
  return false;
}

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
  if (a_in.dim() == 2 && b_in.dim() == 2) {
    // Two matrices, the common case: no batch axes, no handle copies, so small products stay cheap.
    cpu::GemmBatch g;
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
      case Device::CPU: cpu::gemm(g, *pa, *pb, c); break;
      case Device::CUDA: cuda::gemm(g, *pa, *pb, c); break;
    }
    return c;
  }
  Tensor a = a_in.detach(), b = b_in.detach();
  // (..., M, K) @ (K, N) with a batch that folds into the rows: one GEMM of (batch*M, K) @ (K, N).
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

  cpu::GemmBatch g;
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
    case Device::CPU: cpu::gemm(g, a, b, c); break;
    case Device::CUDA: cuda::gemm(g, a, b, c); break;
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
  cpu::GemmBatch g;
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
    case Device::CPU: cpu::gemm(g, a, b, c); return;
    case Device::CUDA: cuda::gemm(g, a, b, c); return;
  }
}

// ---------------- symmetric positive-definite linear algebra ----------------

namespace {

Shape batch_shape_of(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 2); }

// Element offsets (from raw_data()) of the matrices in x's last two axes, in row-major batch order.
std::vector<std::int64_t> matrix_offsets(const Tensor& x) {
  const std::int64_t nb = x.dim() - 2;
  const std::int64_t count = numel_of(batch_shape_of(x));
  std::vector<std::int64_t> off(static_cast<std::size_t>(count));
  std::vector<std::int64_t> idx(static_cast<std::size_t>(nb), 0);
  std::int64_t cur = 0;
  for (std::int64_t c = 0; c < count; ++c) {
    off[static_cast<std::size_t>(c)] = cur;
    for (std::int64_t a = nb - 1; a >= 0; --a) {
      const auto ua = static_cast<std::size_t>(a);
      if (++idx[ua] < x.size(a)) {
        cur += x.stride(a);
        break;
      }
      cur -= x.stride(a) * (x.size(a) - 1);
      idx[ua] = 0;
    }
  }
  return off;
}

// Describes x (..., R, C) for BLAS, or false when its last two axes cannot be passed as they are.
bool matrix_batch(const Tensor& x, cpu::MatrixBatch& mb) {
  mb.rows = x.size(-2);
  mb.cols = x.size(-1);
  if (mb.rows == 0 || mb.cols == 0) {  // nothing is read: any layout will do
    mb.trans = false;
    mb.ld = std::max<std::int64_t>(1, mb.cols);
  } else if (!gemm_layout(mb.rows, mb.cols, x.stride(-2), x.stride(-1), mb.trans, mb.ld)) {
    return false;
  }
  mb.offsets = matrix_offsets(x);
  return true;
}

void check_matrices(const Tensor& x, const char* what, const char* arg, bool square) {
  check_defined(x, what, arg);
  check_floating(x, what);
  if (x.dim() < 2 || (square && x.size(-1) != x.size(-2)))
    throw std::invalid_argument(fmt::format("{}: '{}' must be {} matrices (..., {}), got {} {}", what, arg,
                                            square ? "square" : "a batch of", square ? "n, n" : "M, K",
                                            shape_str(x.shape()), dtype_name(x.dtype())));
}

// "batch index 5 = [1, 2] of batch shape (2, 3)" for a flat index into x's batch axes.
std::string batch_position(const Tensor& x, std::int64_t flat) {
  const Shape bs = batch_shape_of(x);
  if (bs.empty()) return "the matrix";
  std::vector<std::int64_t> idx(bs.size());
  std::int64_t r = flat;
  for (std::size_t a = bs.size(); a-- > 0;) {
    idx[a] = r % bs[a];
    r /= bs[a];
  }
  return fmt::format("batch index {} = [{}] of batch shape {}", flat, fmt::join(idx, ", "), shape_str(bs));
}

// `batched` supplies the batch axes; `operand` describes the matrices in the message.
[[noreturn]] void throw_not_positive_definite(const char* what, const Tensor& batched, const std::string& operand,
                                              const cpu::CholeskyStatus& st) {
  throw std::runtime_error(fmt::format(
      "{}: {} of {} is not positive definite: ?potrf failed at pivot {} (0-based), where the leading {}x{} minor is "
      "not positive definite (pivot value {:.6g}). Hint: a Gram matrix plus a positive multiple of the identity "
      "always factors; NaN or Inf in the input, or an indefinite matrix, ends here",
      what, batch_position(batched, st.batch), operand, st.pivot - 1, st.pivot, st.pivot, st.value));
}

// x as a batch of matrices BLAS can read in place (a contiguous copy only when its layout forbids it).
Tensor matrix_operand(const Tensor& x, const char* what, cpu::MatrixBatch& xb) {
  check_matrices(x, what, "x", false);
  Tensor xv = x.detach();
  if (!matrix_batch(xv, xb)) {
    xv = contiguous(xv);
    matrix_batch(xv, xb);
  }
  return xv;
}

}  // namespace

Tensor gram(const Tensor& x, Gram form, double alpha, double beta) {
  cpu::MatrixBatch xb;
  const Tensor xv = matrix_operand(x, "gram", xb);
  const std::int64_t n = form == Gram::xtx ? x.size(-1) : x.size(-2);
  Shape out_shape = batch_shape_of(x);
  out_shape.insert(out_shape.end(), {n, n});
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: cpu::gram(xv, xb, form, alpha, beta, out); break;
    case Device::CUDA: cuda::gram(xv, xb, form, alpha, beta, out); break;
  }
  return out;
}

GramCholesky gram_cholesky(const Tensor& x, Gram form, double alpha, double beta, const char* what) {
  cpu::MatrixBatch xb;
  const Tensor xv = matrix_operand(x, what, xb);
  const std::int64_t n = form == Gram::xtx ? x.size(-1) : x.size(-2);
  Shape l_shape = batch_shape_of(x);
  l_shape.insert(l_shape.end(), {n, n});
  GramCholesky r{Tensor::empty(l_shape, x.dtype(), x.device()), Tensor::empty(batch_shape_of(x), x.dtype(), x.device())};
  cpu::CholeskyStatus st;
  switch (x.device()) {
    case Device::CPU: st = cpu::gram_cholesky(xv, xb, form, alpha, beta, r.l, r.logdet); break;
    case Device::CUDA: st = cuda::gram_cholesky(xv, xb, form, alpha, beta, r.l, r.logdet); break;
  }
  if (st.batch >= 0)
    throw_not_positive_definite(what, x,
                                fmt::format("{} I + {} {} of X {} {}", beta, alpha, form == Gram::xtx ? "X^T X" : "X X^T",
                                            shape_str(x.shape()), dtype_name(x.dtype())),
                                st);
  return r;
}

void cholesky_(const Tensor& a, const char* what) {
  check_matrices(a, what, "a", true);
  if (!a.is_contiguous())
    throw std::invalid_argument(fmt::format("{}: factors in place and needs a contiguous tensor, got a view of {}; "
                                            "use prim::cholesky",
                                            what, shape_str(a.shape())));
  const std::int64_t n = a.size(-1), batch = numel_of(batch_shape_of(a));
  cpu::CholeskyStatus st;
  switch (a.device()) {
    case Device::CPU: st = cpu::cholesky(a, batch, n); break;
    case Device::CUDA: st = cuda::cholesky(a, batch, n); break;
  }
  if (st.batch >= 0) throw_not_positive_definite(what, a, fmt::format("{} {}", shape_str(a.shape()), dtype_name(a.dtype())), st);
}

Tensor cholesky(const Tensor& a, const char* what) {
  check_matrices(a, what, "a", true);
  Tensor l = clone(a);
  cholesky_(l, what);
  return l;
}

Tensor cholesky_logdet(const Tensor& l) {
  check_matrices(l, "cholesky_logdet", "l", true);
  const Tensor lc = contiguous(l);
  const std::int64_t n = l.size(-1), batch = numel_of(batch_shape_of(l));
  Tensor out = Tensor::empty(batch_shape_of(l), l.dtype(), l.device());
  switch (l.device()) {
    case Device::CPU: cpu::cholesky_logdet(lc, batch, n, out); break;
    case Device::CUDA: cuda::cholesky_logdet(lc, batch, n, out); break;
  }
  return out;
}

void cholesky_solve_(const Tensor& l, const Tensor& b, Side side, double alpha) {
  check_matrices(l, "cholesky_solve_", "l", true);
  check_matrices(b, "cholesky_solve_", "b", false);
  check_same_dtype(l, b, "cholesky_solve_");
  check_same_device(l, b, "cholesky_solve_");
  const std::int64_t n = l.size(-1);
  const std::int64_t along = side == Side::left ? b.size(-2) : b.size(-1);
  if (batch_shape_of(l) != batch_shape_of(b) || along != n)
    throw std::invalid_argument(fmt::format(
        "cholesky_solve_: factor {} and right-hand side {} do not match for a {} solve (need the same batch axes and "
        "b's {} axis of size {})",
        shape_str(l.shape()), shape_str(b.shape()), side == Side::left ? "left (A^-1 B)" : "right (B A^-1)",
        side == Side::left ? "row" : "column", n));
  for (std::int64_t a = 0; a + 2 < b.dim(); ++a)
    if (b.size(a) > 1 && b.stride(a) == 0)
      throw std::invalid_argument(fmt::format("cholesky_solve_: b {} is an expanded view (axis {} has stride 0); "
                                              "solving in place would write aliased memory",
                                              shape_str(b.shape()), a));
  const Tensor lc = contiguous(l);
  cpu::MatrixBatch bb;
  if (!matrix_batch(b, bb)) {
    const Tensor tmp = contiguous(b);
    cholesky_solve_(lc, tmp, side, alpha);
    copy_(b, tmp);
    return;
  }
  switch (b.device()) {
    case Device::CPU: cpu::cholesky_solve(lc, n, b, bb, side, alpha); return;
    case Device::CUDA: cuda::cholesky_solve(lc, n, b, bb, side, alpha); return;
  }
}

Tensor cholesky_solve(const Tensor& l, const Tensor& b, Side side, double alpha) {
  check_matrices(b, "cholesky_solve", "b", false);
  Tensor x = clone(b);
  cholesky_solve_(l, x, side, alpha);
  return x;
}

Tensor cholesky_inverse(const Tensor& l) {
  check_matrices(l, "cholesky_inverse", "l", true);
  const Tensor lc = contiguous(l);
  const std::int64_t n = l.size(-1), batch = numel_of(batch_shape_of(l));
  Tensor out = empty_like(lc);
  cpu::CholeskyStatus st;
  switch (l.device()) {
    case Device::CPU: st = cpu::cholesky_inverse(lc, batch, n, out); break;
    case Device::CUDA: st = cuda::cholesky_inverse(lc, batch, n, out); break;
  }
  if (st.batch >= 0)
    throw std::runtime_error(fmt::format("cholesky_inverse: {} of factor {} {} has a zero on its diagonal at {} "
                                         "(0-based), so the matrix is singular; pass the factor from prim::cholesky",
                                         batch_position(l, st.batch), shape_str(l.shape()), dtype_name(l.dtype()),
                                         st.pivot - 1));
  return out;
}

// ---------------- fused kernels ----------------

namespace {
Tensor softmax_impl(const Tensor& x, std::int64_t axis, bool log) {
  const char* what = log ? "log_softmax" : "softmax";
  check_defined(x, what, "x");
  check_floating(x, what);
  const std::int64_t a = normalize_axis(axis, x.dim(), what);
  const Tensor xc = contiguous(x);
  const Split3 s = split_at(x.shape(), a);
  Tensor y = empty_like(xc);
  switch (x.device()) {
    case Device::CPU: cpu::softmax(xc, s.outer, s.r, s.inner, log, y); break;
    case Device::CUDA: cuda::softmax(xc, s.outer, s.r, s.inner, log, y); break;
  }
  return y;
}
Tensor softmax_backward_impl(const Tensor& dy, const Tensor& y, std::int64_t axis, bool log) {
  check_same_shape(dy, y, "softmax_backward");
  const std::int64_t a = normalize_axis(axis, y.dim(), "softmax_backward");
  const Tensor dyc = contiguous(dy), yc = contiguous(y);
  const Split3 s = split_at(y.shape(), a);
  Tensor dx = empty_like(yc);
  switch (y.device()) {
    case Device::CPU: cpu::softmax_backward(dyc, yc, s.outer, s.r, s.inner, log, dx); break;
    case Device::CUDA: cuda::softmax_backward(dyc, yc, s.outer, s.r, s.inner, log, dx); break;
  }
  return dx;
}
}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, false); }
Tensor softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis) {
  return softmax_backward_impl(dy, y, axis, false);
}
Tensor log_softmax(const Tensor& x, std::int64_t axis) { return softmax_impl(x, axis, true); }
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis) {
  return softmax_backward_impl(dy, y, axis, true);
}

LayerNormResult layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_defined(x, "layer_norm", "x");
  check_floating(x, "layer_norm");
  if (x.dim() < 1) throw std::invalid_argument("layer_norm: input must have at least one axis");
  const std::int64_t d = x.size(-1);
  for (const Tensor* p : {&gamma, &beta}) {
    if (!p->defined()) continue;
    if (p->dim() != 1 || p->size(0) != d)
      throw std::invalid_argument(fmt::format("layer_norm: weight/bias of shape {} do not match the last axis {} of {}",
                                              shape_str(p->shape()), d, shape_str(x.shape())));
    check_same_dtype(x, *p, "layer_norm");
    check_same_device(x, *p, "layer_norm");
  }
  const Tensor xc = contiguous(x);
  const Tensor g = gamma.defined() ? contiguous(gamma) : Tensor();
  const Tensor b = beta.defined() ? contiguous(beta) : Tensor();
  Shape stat(x.shape().begin(), x.shape().end() - 1);
  LayerNormResult r{empty_like(xc), Tensor::empty(stat, x.dtype(), x.device()), Tensor::empty(stat, x.dtype(), x.device())};
  switch (x.device()) {
    case Device::CPU: cpu::layer_norm(xc, g, b, eps, r.y, r.mean, r.rstd); break;
    case Device::CUDA: cuda::layer_norm(xc, g, b, eps, r.y, r.mean, r.rstd); break;
  }
  return r;
}

LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& gamma) {
  check_same_shape(dy, x, "layer_norm_backward");
  const Tensor dyc = contiguous(dy), xc = contiguous(x);
  const Tensor g = gamma.defined() ? contiguous(gamma) : Tensor();
  LayerNormGrads r;
  r.dx = empty_like(xc);
  const Shape pshape{x.size(-1)};
  r.dgamma = Tensor::empty(pshape, x.dtype(), x.device());
  r.dbeta = Tensor::empty(pshape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: cpu::layer_norm_backward(dyc, xc, contiguous(mean), contiguous(rstd), g, r.dx, r.dgamma, r.dbeta); break;
    case Device::CUDA: cuda::layer_norm_backward(dyc, xc, contiguous(mean), contiguous(rstd), g, r.dx, r.dgamma, r.dbeta); break;
  }
  if (!gamma.defined()) r.dgamma = Tensor();
  return r;
}

namespace {
// q, k, v as (B, n, H p) views the attention kernel can read in place: rank 3, last stride 1.
Tensor attention_operand(const Tensor& t, const Shape& shape, const char* what) {
  if (t.dim() != 3 || t.shape() != shape)
    throw std::invalid_argument(fmt::format("{}: q, k and v must all be (B, n, H p) = {}, got {}", what,
                                            shape_str(shape), shape_str(t.shape())));
  return t.stride(2) == 1 || t.size(2) == 1 ? t.detach() : contiguous(t);
}
}  // namespace

AttentionResult attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, std::int64_t heads, double scale) {
  check_defined(q_in, "attention", "q");
  check_floating(q_in, "attention");
  check_same_dtype(q_in, k_in, "attention");
  check_same_dtype(q_in, v_in, "attention");
  check_same_device(q_in, k_in, "attention");
  check_same_device(q_in, v_in, "attention");
  if (q_in.dim() != 3 || heads <= 0 || q_in.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format("attention: q must be (B, n, H p) with H = {} dividing the last axis, got {}",
                                            heads, shape_str(q_in.shape())));
  const Tensor q = attention_operand(q_in, q_in.shape(), "attention");
  const Tensor k = attention_operand(k_in, q_in.shape(), "attention");
  const Tensor v = attention_operand(v_in, q_in.shape(), "attention");
  const std::int64_t b = q.size(0), n = q.size(1);
  AttentionResult r{Tensor::empty(q.shape(), q.dtype(), q.device()), Tensor::empty({b, heads, n, n}, q.dtype(), q.device())};
  switch (q.device()) {
    case Device::CPU: cpu::attention(q, k, v, heads, scale, r.out, r.maps); break;
    case Device::CUDA: cuda::attention(q, k, v, heads, scale, r.out, r.maps); break;
  }
  return r;
}

AttentionGrads attention_backward(const Tensor& dout, const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                  const Tensor& maps, std::int64_t heads, double scale, bool tied) {
  check_same_shape(dout, q_in, "attention_backward");
  const Tensor q = attention_operand(q_in, q_in.shape(), "attention_backward");
  const Tensor k = tied ? q : attention_operand(k_in, q_in.shape(), "attention_backward");
  const Tensor v = tied ? q : attention_operand(v_in, q_in.shape(), "attention_backward");
  const Tensor d = contiguous(dout), a = contiguous(maps);
  AttentionGrads g;
  g.dq = empty_like(d);
  if (!tied) {
    g.dk = empty_like(d);
    g.dv = empty_like(d);
  }
  switch (q.device()) {
    case Device::CPU: cpu::attention_backward(d, q, k, v, a, heads, scale, g.dq, g.dk, g.dv); break;
    case Device::CUDA: cuda::attention_backward(d, q, k, v, a, heads, scale, g.dq, g.dk, g.dv); break;
  }
  return g;
}

CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index,
                                 double label_smoothing) {
  check_defined(logits, "cross_entropy", "logits");
  check_defined(target, "cross_entropy", "target");
  check_floating(logits, "cross_entropy");
  if (logits.dim() != 2 || target.dim() != 1 || target.size(0) != logits.size(0) || target.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format(
        "cross_entropy: expects logits (B, C) and i64 targets (B), got logits {} and targets {} {}",
        shape_str(logits.shape()), shape_str(target.shape()), dtype_name(target.dtype())));
  if (label_smoothing < 0.0 || label_smoothing > 1.0)
    throw std::invalid_argument(fmt::format("cross_entropy: label_smoothing {} is outside [0, 1]", label_smoothing));
  check_same_device(logits, target, "cross_entropy");
  const Tensor lc = contiguous(logits), tc = contiguous(target);
  CrossEntropyResult r;
  r.log_prob = empty_like(lc);
  double loss = 0.0;
  switch (logits.device()) {
    case Device::CPU: loss = cpu::cross_entropy(lc, tc, ignore_index, label_smoothing, r.log_prob, r.count); break;
    case Device::CUDA: loss = cuda::cross_entropy(lc, tc, ignore_index, label_smoothing, r.log_prob, r.count); break;
  }
  r.loss = to_device(Tensor::scalar(loss, logits.dtype()), logits.device());
  return r;
}

Tensor cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target, std::int64_t ignore_index,
                              double label_smoothing, std::int64_t count) {
  const Tensor lp = contiguous(log_prob), tc = contiguous(target);
  Tensor dx = empty_like(lp);
  switch (lp.device()) {
    case Device::CPU: cpu::cross_entropy_backward(dloss, lp, tc, ignore_index, label_smoothing, count, dx); break;
    case Device::CUDA: cuda::cross_entropy_backward(dloss, lp, tc, ignore_index, label_smoothing, count, dx); break;
  }
  return dx;
}

// ---------------- indexing ----------------

namespace {
void check_index_tensor(const Tensor& index, const char* what) {
  if (!index.defined() || index.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format("{}: index must be an i64 tensor", what));
}
}  // namespace

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_defined(x, "index_select", "x");
  check_index_tensor(index, "index_select");
  if (index.dim() != 1)
    throw std::invalid_argument(fmt::format("index_select: index must be 1-D, got {}", shape_str(index.shape())));
  check_same_device(x, index, "index_select");
  const std::int64_t a = normalize_axis(axis, x.dim(), "index_select");
  const Tensor xc = contiguous(x), ic = contiguous(index);
  const Split3 s = split_at(x.shape(), a);
  Shape out_shape = x.shape();
  out_shape[static_cast<std::size_t>(a)] = index.numel();
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: cpu::index_select(xc, s.outer, s.r, s.inner, ic, out); break;
    case Device::CUDA: cuda::index_select(xc, s.outer, s.r, s.inner, ic, out); break;
  }
  return out;
}

void index_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src) {
  check_defined(out, "index_add_", "out");
  check_index_tensor(index, "index_add_");
  const std::int64_t a = normalize_axis(axis, out.dim(), "index_add_");
  Shape expect = out.shape();
  expect[static_cast<std::size_t>(a)] = index.numel();
  if (!out.is_contiguous() || index.dim() != 1 || src.shape() != expect)
    throw std::invalid_argument(fmt::format("index_add_: expects a contiguous out {}, a 1-D index and src of shape {}, got {}",
                                            shape_str(out.shape()), shape_str(expect), shape_str(src.shape())));
  check_same_dtype(out, src, "index_add_");
  const Split3 s = split_at(out.shape(), a);
  const Tensor sc = contiguous(src), ic = contiguous(index);
  switch (out.device()) {
    case Device::CPU: cpu::index_add(out, s.outer, s.r, s.inner, ic, sc); return;
    case Device::CUDA: cuda::index_add(out, s.outer, s.r, s.inner, ic, sc); return;
  }
}

namespace {
void check_gather_shapes(const Tensor& x, std::int64_t a, const Tensor& index, const char* what) {
  bool ok = index.dim() == x.dim();
  for (std::int64_t i = 0; ok && i < x.dim(); ++i)
    if (i != a) ok = index.size(i) == x.size(i);
  if (!ok)
    throw std::invalid_argument(fmt::format("{}: index {} must match {} on every axis except {}", what,
                                            shape_str(index.shape()), shape_str(x.shape()), a));
}
}  // namespace

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
  check_defined(x, "gather", "x");
  check_index_tensor(index, "gather");
  const std::int64_t a = normalize_axis(axis, x.dim(), "gather");
  check_gather_shapes(x, a, index, "gather");
  const Tensor xc = contiguous(x), ic = contiguous(index);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: cpu::gather(xc, a, ic, out); break;
    case Device::CUDA: cuda::gather(xc, a, ic, out); break;
  }
  return out;
}

void scatter_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src) {
  check_defined(out, "scatter_add_", "out");
  check_index_tensor(index, "scatter_add_");
  const std::int64_t a = normalize_axis(axis, out.dim(), "scatter_add_");
  check_gather_shapes(out, a, index, "scatter_add_");
  check_same_shape(index, src, "scatter_add_");
  if (!out.is_contiguous()) throw std::invalid_argument("scatter_add_: out must be contiguous");
  const Tensor ic = contiguous(index), sc = contiguous(src);
  switch (out.device()) {
    case Device::CPU: cpu::scatter_add(out, a, ic, sc); return;
    case Device::CUDA: cuda::scatter_add(out, a, ic, sc); return;
  }
}

// ---------------- random fills ----------------
// Values are drawn on the host in row-major order of x's shape and copied in, so a seed gives the same
// tensor on every device.

namespace {
template <class Draw>
void random_fill(const Tensor& x, Draw draw) {
  check_defined(x, "random fill", "x");
  check_floating(x, "random fill");
  Tensor host = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "random fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = host.data<T>();
    for (std::int64_t i = 0, n = host.numel(); i < n; ++i) p[i] = static_cast<T>(draw());
  });
  copy_(x, host);
}
}  // namespace

void uniform_(const Tensor& x, double lo, double hi, Generator& gen) {
  random_fill(x, [&] { return gen.uniform(lo, hi); });
}

void normal_(const Tensor& x, double mean, double stddev, Generator& gen) {
  random_fill(x, [&] { return mean + stddev * gen.normal(); });
}

void bernoulli_(const Tensor& x, double p, Generator& gen) {
  if (p < 0.0 || p > 1.0) throw std::invalid_argument(fmt::format("bernoulli_: probability {} is outside [0, 1]", p));
  random_fill(x, [&] { return gen.bernoulli(p) ? 1.0 : 0.0; });
}

}  // namespace prim
}  // namespace wb
