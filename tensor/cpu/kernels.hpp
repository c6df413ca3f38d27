// CPU kernels behind the primitives of tensor/prim.hpp. Called only from tensor/dispatch.cpp, which
// validates arguments, allocates outputs and makes inputs contiguous where a kernel says so.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/prim.hpp"

namespace wb::cpu {

// copy.cpp: dst and src have the same shape (src may be an expanded view); any layout, any dtypes.
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& x, double value);  // any layout

// elementwise.cpp
void unary(prim::Unary op, const Tensor& x, const Tensor& out, double p);  // x, out contiguous (may alias)
void unary_backward(prim::Unary op, const Tensor& dy, const Tensor& saved, const Tensor& dx, double p);  // contiguous
void binary(prim::Binary op, const Tensor& a, const Tensor& b, const Tensor& out);  // a, b: views of out's shape
void axpy(const Tensor& y, const Tensor& x, double alpha);                            // contiguous
void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out);  // x, mask views of out's shape

// reduce.cpp: x contiguous, viewed as (outer, r, inner); out (outer, inner)
void sum_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& out);
void max_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& values,
              const Tensor& indices);
double sum_all(const Tensor& x);  // contiguous

// matmul.cpp: c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] for i < batch, with element offsets
// a_off(i), b_off(i), c_off(i) given by batch strides (0 for a broadcast operand).
struct GemmBatch {
  bool ta = false, tb = false;   // transpose flags for ?gemm
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::int64_t batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};
void gemm(const GemmBatch& g, const Tensor& a, const Tensor& b, const Tensor& c);

// linalg.cpp: batched symmetric positive-definite kernels. A MatrixBatch describes offsets.size()
// matrices of rows x cols inside one tensor: element offsets from raw_data() and the ?gemm-style
// layout (trans: the view is the transpose of a row-major matrix with leading dimension ld).
struct MatrixBatch {
  std::vector<std::int64_t> offsets;
  std::int64_t rows = 0, cols = 0;
  bool trans = false;
  std::int64_t ld = 0;
};
// out contiguous (batch, n, n) = beta I + alpha (X^T X or X X^T), full symmetric.
void gram(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta, const Tensor& out);
// In place on a contiguous (batch, n, n), lower factor, upper triangle zeroed. Reports the first failing
// matrix: its batch index, the 1-based order of the leading minor that is not positive definite (?potrf
// info) and the pivot value found there; batch == -1 when every matrix factored.
struct CholeskyStatus {
  std::int64_t batch = -1;
  std::int64_t pivot = 0;
  double value = 0.0;
};
CholeskyStatus cholesky(const Tensor& a, std::int64_t batch, std::int64_t n);
void cholesky_logdet(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);  // l contiguous; out (batch)
// gram, then cholesky and cholesky_logdet of each matrix while it is in cache; l (batch, n, n), logdet (batch).
CholeskyStatus gram_cholesky(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta,
                             const Tensor& l, const Tensor& logdet);
// In place on the matrices of b; l contiguous (bb.offsets.size(), n, n).
void cholesky_solve(const Tensor& l, std::int64_t n, const Tensor& b, const MatrixBatch& bb, prim::Side side,
                    double alpha);
// out contiguous (batch, n, n), full symmetric; reports a zero diagonal of L like cholesky (value 0).
CholeskyStatus cholesky_inverse(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);

// softmax.cpp: x contiguous viewed as (outer, r, inner), softmax over r.
void softmax(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, const Tensor& y);
void softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r, std::int64_t inner,
                      bool log, const Tensor& dx);
// Serial softmax of `rows` contiguous rows of length r, for kernels that fuse it. Outputs must not
// alias inputs (the vector path re-reads an overlapping tail of its input).
template <class T> void softmax_rows(const T* x, T* y, std::int64_t rows, std::int64_t r);
template <class T> void softmax_backward_rows(const T* dy, const T* y, T* dx, std::int64_t rows, std::int64_t r);

// layer_norm.cpp: x contiguous (rows, D)
void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                const Tensor& mean, const Tensor& rstd);
void layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor& gamma, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta);

// attention.cpp: q, k, v (B, n, H p) views with last stride 1 (row stride / batch stride arbitrary);
// out (B, n, H p) and maps (B, H, n, n) contiguous. Backward grads contiguous (B, n, H p).
void attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale, const Tensor& out,
               const Tensor& maps);
void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& maps,
                        std::int64_t heads, double scale, const Tensor& dq, const Tensor& dk, const Tensor& dv);

// cross_entropy.cpp: logits contiguous (B, C), target (B) i64
double cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index, double smoothing,
                     const Tensor& log_prob, std::int64_t& count);
void cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target, std::int64_t ignore_index,
                            double smoothing, std::int64_t count, const Tensor& dlogits);

// index.cpp: x contiguous viewed as (outer, n, inner); index 1-D i64 contiguous
void index_select(const Tensor& x, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
                  const Tensor& out);
void index_add(const Tensor& out, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
               const Tensor& src);
// gather / scatter_add along `axis` of contiguous tensors of equal rank.
void gather(const Tensor& x, std::int64_t axis, const Tensor& index, const Tensor& out);
void scatter_add(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src);

}  // namespace wb::cpu
