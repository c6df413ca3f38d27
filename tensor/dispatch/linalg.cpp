// Dispatch of the batched symmetric linear algebra: gram, cholesky(_), cholesky_logdet, gram_cholesky,
// cholesky_solve(_), cholesky_inverse and symmetric_eigen. Matrix operands are described to BLAS in place (a
// MatrixBatch of offsets and a ?gemm layout); failures name the batch index and the pivot.
#include <string>
#include <vector>

#include <fmt/ranges.h>

#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

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
bool matrix_batch(const Tensor& x, kernel::MatrixBatch& mb) {
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
                                            square ? "square" : "a batch of", square ? "n, n" : "M, S",
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
                                              const kernel::CholeskyStatus& st) {
  throw std::runtime_error(fmt::format(
      "{}: {} of {} is not positive definite: ?potrf failed at pivot {} (0-based), where the leading {}x{} minor is "
      "not positive definite (pivot value {:.6g}). Hint: a Gram matrix plus a positive multiple of the identity "
      "always factors; NaN or Inf in the input, or an indefinite matrix, ends here",
      what, batch_position(batched, st.batch), operand, st.pivot - 1, st.pivot, st.pivot, st.value));
}

// x as a batch of matrices BLAS can read in place (a contiguous copy only when its layout forbids it).
Tensor matrix_operand(const Tensor& x, const char* what, kernel::MatrixBatch& xb) {
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
  kernel::MatrixBatch xb;
  const Tensor xv = matrix_operand(x, "gram", xb);
  const std::int64_t n = form == Gram::xtx ? x.size(-1) : x.size(-2);
  Shape out_shape = batch_shape_of(x);
  out_shape.insert(out_shape.end(), {n, n});
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  switch (x.device()) {
    case Device::CPU: kernel::gram<Device::CPU>(xv, xb, form, alpha, beta, out); break;
    case Device::CUDA: kernel::gram<Device::CUDA>(xv, xb, form, alpha, beta, out); break;
  }
  return out;
}

GramCholesky gram_cholesky(const Tensor& x, Gram form, double alpha, double beta, const char* what) {
  kernel::MatrixBatch xb;
  const Tensor xv = matrix_operand(x, what, xb);
  const std::int64_t n = form == Gram::xtx ? x.size(-1) : x.size(-2);
  Shape l_shape = batch_shape_of(x);
  l_shape.insert(l_shape.end(), {n, n});
  GramCholesky r{Tensor::empty(l_shape, x.dtype(), x.device()), Tensor::empty(batch_shape_of(x), x.dtype(), x.device())};
  kernel::CholeskyStatus st;
  switch (x.device()) {
    case Device::CPU: st = kernel::gram_cholesky<Device::CPU>(xv, xb, form, alpha, beta, r.l, r.logdet); break;
    case Device::CUDA: st = kernel::gram_cholesky<Device::CUDA>(xv, xb, form, alpha, beta, r.l, r.logdet); break;
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
  kernel::CholeskyStatus st;
  switch (a.device()) {
    case Device::CPU: st = kernel::cholesky<Device::CPU>(a, batch, n); break;
    case Device::CUDA: st = kernel::cholesky<Device::CUDA>(a, batch, n); break;
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
    case Device::CPU: kernel::cholesky_logdet<Device::CPU>(lc, batch, n, out); break;
    case Device::CUDA: kernel::cholesky_logdet<Device::CUDA>(lc, batch, n, out); break;
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
  kernel::MatrixBatch bb;
  if (!matrix_batch(b, bb)) {
    const Tensor tmp = contiguous(b);
    cholesky_solve_(lc, tmp, side, alpha);
    copy_(b, tmp);
    return;
  }
  switch (b.device()) {
    case Device::CPU: kernel::cholesky_solve<Device::CPU>(lc, n, b, bb, side, alpha); return;
    case Device::CUDA: kernel::cholesky_solve<Device::CUDA>(lc, n, b, bb, side, alpha); return;
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
  kernel::CholeskyStatus st;
  switch (l.device()) {
    case Device::CPU: st = kernel::cholesky_inverse<Device::CPU>(lc, batch, n, out); break;
    case Device::CUDA: st = kernel::cholesky_inverse<Device::CUDA>(lc, batch, n, out); break;
  }
  if (st.batch >= 0)
    throw std::runtime_error(fmt::format("cholesky_inverse: {} of factor {} {} has a zero on its diagonal at {} "
                                         "(0-based), so the matrix is singular; pass the factor from prim::cholesky",
                                         batch_position(l, st.batch), shape_str(l.shape()), dtype_name(l.dtype()),
                                         st.pivot - 1));
  return out;
}

SymmetricEigen symmetric_eigen(const Tensor& a) {
  check_matrices(a, "symmetric_eigen", "a", true);
  const std::int64_t n = a.size(-1), batch = numel_of(batch_shape_of(a));
  Shape values_shape = batch_shape_of(a);
  values_shape.push_back(n);
  SymmetricEigen r{Tensor::empty(values_shape, a.dtype(), a.device()), clone(a)};
  kernel::EigenStatus st;
  switch (a.device()) {
    case Device::CPU: st = kernel::symmetric_eigen<Device::CPU>(r.vectors, batch, n, r.values); break;
    case Device::CUDA: st = kernel::symmetric_eigen<Device::CUDA>(r.vectors, batch, n, r.values); break;
  }
  if (st.batch >= 0)
    throw std::runtime_error(fmt::format(
        "symmetric_eigen: ?syev failed on {} of {} {} (info {}: {}). Hint: NaN or Inf in the input ends here",
        batch_position(a, st.batch), shape_str(a.shape()), dtype_name(a.dtype()), st.info,
        st.info < 0 ? fmt::format("argument {} had an illegal value", -st.info)
                    : fmt::format("{} off-diagonal elements of the tridiagonal form did not converge", st.info)));
  return r;
}

}  // namespace wb::prim
