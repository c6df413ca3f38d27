// prim: the non-recording primitives of the tensor layer.
//
// Everything here computes on tensor data and records nothing for autograd; differentiable versions
// live in ops/ and call these in both their forward and backward. Compute primitives take any layout
// and make inputs contiguous on entry where their kernels need it; outputs are new contiguous tensors
// unless the name ends in `_` (in place). Each compute primitive has one switch on the device in
// tensor/dispatch/<section>.cpp; the CPU kernels are in tensor/cpu/, the CUDA ones in tensor/cuda/.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::prim {

// ---------------- views: metadata only, no copy (view.cpp) ----------------
Tensor view(const Tensor& x, Shape shape);  // one -1 allowed; throws if the strides do not allow a view
Tensor reshape(const Tensor& x, Shape shape);  // a view when possible, else a contiguous copy
std::optional<Tensor> try_view(const Tensor& x, const Shape& shape);  // nullopt when a view is impossible
Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims);
Tensor transpose(const Tensor& x, std::int64_t a, std::int64_t b);
Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step = 1);
Tensor select(const Tensor& x, std::int64_t axis, std::int64_t index);  // drops the axis
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast view, stride 0 on expanded axes; -1 keeps a size
Tensor unsqueeze(const Tensor& x, std::int64_t axis);
Tensor squeeze(const Tensor& x, std::int64_t axis);
// True when the last two axes of x can be handed to ?gemm as-is (row-major or transposed).
bool gemm_compatible(const Tensor& x);

// ---------------- memory ----------------
Tensor contiguous(const Tensor& x);  // x itself when already contiguous
Tensor clone(const Tensor& x);       // always a fresh contiguous copy
Tensor empty_like(const Tensor& x);
Tensor zeros_like(const Tensor& x);
void copy_(const Tensor& dst, const Tensor& src);  // src broadcast to dst's shape, cast to its dtype
Tensor cast(const Tensor& x, DType dtype);
Tensor to_device(const Tensor& x, Device device);
void fill_(const Tensor& x, double value);

// ---------------- elementwise ----------------
enum class Unary {
  neg, exp, log, sqrt, abs, sign, relu, gelu, tanh, square, reciprocal,
  pow,             // x^p
  add_scalar,      // x + p
  mul_scalar,      // x * p
  soft_threshold,  // max(x - p, 0): the nonnegative soft threshold ReLU(x - p)
  gt_scalar,       // 1 where x > p, else 0
};
Tensor unary(Unary op, const Tensor& x, double p = 0.0);
void unary_(Unary op, const Tensor& x, double p = 0.0);  // in place (x must be contiguous)

// Fused backward of a unary map: dx = dy * f'(.), where `saved` is the input x or output y:
//   relu, soft_threshold, abs(sign): saved = y or x (only its sign pattern is used)
//   gelu, tanh(y), exp(y), log(x), sqrt(y), pow(x), reciprocal(y), square(x)
Tensor unary_backward(Unary op, const Tensor& dy, const Tensor& saved, double p = 0.0);

enum class Binary { add, sub, mul, div, maximum, minimum, pow, eq, gt, lt };
Tensor binary(Binary op, const Tensor& a, const Tensor& b);  // NumPy broadcasting
void binary_(Binary op, const Tensor& a, const Tensor& b);   // a = a op b; b broadcast to a's shape
void axpy_(const Tensor& y, const Tensor& x, double alpha);  // y += alpha * x (same shape)
void scale_(const Tensor& x, double alpha);                  // x *= alpha
// out = where(mask != 0, value, x); mask broadcast to x's shape, any dtype.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---------------- reductions ----------------
// Sum over `axes` (empty: all axes). Sums accumulate in double.
Tensor sum(const Tensor& x, std::vector<std::int64_t> axes, bool keepdim = false);
struct MaxResult {
  Tensor values;
  Tensor indices;  // i64
};
MaxResult max(const Tensor& x, std::int64_t axis, bool keepdim = false);
// Sums g over the axes it was broadcast along, giving a tensor of `shape` (broadcast backward).
Tensor reduce_to_shape(const Tensor& g, const Shape& shape);
double sum_all(const Tensor& x);  // accumulated in double
// Inclusive running sum along `axis` (accumulated in double): y_i = sum_{j<=i} x_j, or with reverse
// y_i = sum_{j>=i} x_j (the backward of the forward sum). Same shape as x.
Tensor cumsum(const Tensor& x, std::int64_t axis, bool reverse = false);

// ---------------- matrix products ----------------
// a: (..., M, S), b: (..., S, R) with broadcast batch axes -> (..., M, R). Transposed operands
// (e.g. prim::transpose(w, -1, -2)) are passed to ?gemm as transpose flags, never copied.
Tensor matmul(const Tensor& a, const Tensor& b);
// c = alpha * a @ b + beta * c for 2-D operands; c must be contiguous.
void gemm_(const Tensor& c, const Tensor& a, const Tensor& b, double alpha, double beta);

// ---------------- symmetric (positive-definite) linear algebra (cpu/linalg.cpp) ----------------
// Batched over leading axes; f32 and f64. Matrix operands may be strided views whose last two axes
// can be handed to BLAS (one unit stride); batch axes may have any strides. Many small matrices run
// as one parallel loop of single-threaded BLAS/LAPACK calls, a few large ones let OpenBLAS thread.
enum class Gram {
  xtx,  // X^T X: (..., M, S) -> (..., S, S)
  xxt,  // X X^T: (..., M, S) -> (..., M, M)
};
// beta I + alpha * (X^T X or X X^T) through ?syrk; the full symmetric matrix is written.
Tensor gram(const Tensor& x, Gram form, double alpha, double beta = 0.0);
// Cholesky factor of symmetric positive-definite A (..., n, n): A = L L^T with L lower triangular
// (?potrf; only A's lower triangle is read; L's upper triangle is zero). A matrix that is not positive
// definite throws std::runtime_error naming the batch index and the failing pivot. `what` names the
// caller in that message. cholesky_ factors a contiguous A in place.
Tensor cholesky(const Tensor& a, const char* what = "cholesky");
void cholesky_(const Tensor& a, const char* what = "cholesky_");
// logdet A = 2 sum_i log L_ii from the factor L (..., n, n) -> (...), accumulated in double.
Tensor cholesky_logdet(const Tensor& l);
// Fused gram + cholesky + cholesky_logdet, one matrix at a time while it is in cache (what the
// coding-rate ops run): L of beta I + alpha (X^T X or X X^T) and its logdet. Failures as cholesky.
struct GramCholesky {
  Tensor l;       // (..., n, n), lower, upper triangle zero
  Tensor logdet;  // (...)
};
GramCholesky gram_cholesky(const Tensor& x, Gram form, double alpha, double beta, const char* what = "gram_cholesky");
enum class Side {
  left,   // X = A^{-1} B,  B: (..., n, m)
  right,  // X = B A^{-1},  B: (..., m, n)
};
// B <- alpha * A^{-1} B (left) or alpha * B A^{-1} (right), A = L L^T, by two triangular solves
// (?trsm), in place on b (any view; l and b have the same batch shape).
void cholesky_solve_(const Tensor& l, const Tensor& b, Side side, double alpha = 1.0);
Tensor cholesky_solve(const Tensor& l, const Tensor& b, Side side, double alpha = 1.0);
// A^{-1} (full symmetric) from the factor L (..., n, n), through ?potri.
Tensor cholesky_inverse(const Tensor& l);

// Eigendecomposition A = V diag(w) V^T of symmetric A (..., n, n), any symmetric matrix (not only
// positive definite), through ?syev (jobz 'V', uplo 'L', LAPACK's row-major layout: only A's lower
// triangle is read). Values (..., n) ascending; column j of the vectors (..., n, n) is the unit
// eigenvector of value j. A failure (?syev info != 0: NaN or Inf in A, or no convergence) throws
// std::runtime_error naming the batch index.
struct SymmetricEigen {
  Tensor values;   // (..., n), ascending
  Tensor vectors;  // (..., n, n), column j for values[j]
};
SymmetricEigen symmetric_eigen(const Tensor& a);

// ---------------- fused kernels ----------------
Tensor softmax(const Tensor& x, std::int64_t axis);
Tensor softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis);  // y = softmax output
Tensor log_softmax(const Tensor& x, std::int64_t axis);
Tensor log_softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t axis);  // y = log_softmax output

struct LayerNormResult {
  Tensor y, mean, rstd;  // mean, rstd: x's shape without the last axis
};
// Normalizes over the last axis; gamma, beta of shape (D) or undefined.
LayerNormResult layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps);
struct LayerNormGrads {
  Tensor dx, dgamma, dbeta;  // dgamma/dbeta undefined when gamma was undefined
};
LayerNormGrads layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& gamma);

// Multi-head attention fused per (batch, head): q, k, v are (B, n, H p) with heads side by side on the
// last axis (any row stride, last stride 1: e.g. slices of one qkv projection, or one tensor for all
// three). For each (b, h): A = softmax_row(scale * Q_h K_h^T) (n x n), O_h = A V_h. Returns O (B, n, H p)
// and the maps A (B, H, n, n), saved for the backward. causal: each token i attends to tokens j <= i only
// (scores above the diagonal are -inf: the maps hold zeros there), applied inside the kernel, which
// computes no tile above the diagonal and builds no mask tensor.
struct AttentionResult {
  Tensor out, maps;
};
AttentionResult attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale,
                          bool causal = false);
// dA = dO V^T, dV = A^T dO, dS = scale * A * (dA - rowsum(dA * A)), dQ = dS K, dK = dS^T Q.
// With tied = true (q, k, v the same tensor, CRATE's MSSA) the three are summed into one gradient
// (returned as dq; dk and dv undefined).
struct AttentionGrads {
  Tensor dq, dk, dv;
};
AttentionGrads attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& maps, std::int64_t heads, double scale, bool tied, bool causal = false);

// Cross-entropy of logits (B, C) against class indices (B, i64), averaged over targets that are not
// ignore_index, with label smoothing s: target distribution (1-s) onehot + s/C.
struct CrossEntropyResult {
  Tensor loss;      // scalar
  Tensor log_prob;  // (B, C), saved for the backward
  std::int64_t count = 0;  // targets that were not ignored
};
CrossEntropyResult cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index,
                                 double label_smoothing);
Tensor cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target,
                              std::int64_t ignore_index, double label_smoothing, std::int64_t count);

// ---------------- indexing ----------------
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index);  // index: 1-D i64
// out[.., index[i], ..] += src[.., i, ..] along axis; out is modified in place.
void index_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src);
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);  // index: same rank as x, i64
void scatter_add_(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src);

// ---------------- random fills (project RNG, same stream on every machine) ----------------
void uniform_(const Tensor& x, double lo, double hi, Generator& gen);
void normal_(const Tensor& x, double mean, double stddev, Generator& gen);
void bernoulli_(const Tensor& x, double p, Generator& gen);  // 1 with probability p, else 0

}  // namespace wb::prim
