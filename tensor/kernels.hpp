// The kernel contract: every compute kernel behind the primitives of tensor/prim.hpp, declared once,
// for every device, as a function template on the Device. This is the one list; backends only define.
//
//   tensor/dispatch/<section>.cpp  validates arguments, allocates outputs, makes inputs contiguous where
//                                  a kernel says so, and switches once on the device to kernel::f<D>.
//   tensor/cpu/<prim>.cpp          defines f<Device::CPU> as an explicit specialization.
//   tensor/cuda/<prim>.cu          defines f<Device::CUDA>; until it exists, the specialization lives in
//                                  tensor/cuda/unwritten.cpp and throws "no CUDA kernel is written".
//
// The primary templates have no body, so nothing is ever instantiated from them: a call resolves at
// link time to a backend's specialization, a kernel some backend does not define fails the link (on
// CPU-only builds too, since dispatch names both devices), and a backend definition whose signature
// drifts from this list fails to compile ("does not match any template declaration").
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/device.hpp"
#include "tensor/prim.hpp"

namespace wb::kernel {

// ---------------- plans: how dispatch describes strided operands to a kernel ----------------

// c[i] = alpha * op(a[i]) @ op(b[i]) + beta * c[i] for i < batch, with element offsets
// a_off(i), b_off(i), c_off(i) given by batch strides (0 for a broadcast operand).
struct GemmBatch {
  bool ta = false, tb = false;  // transpose flags for ?gemm
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  std::int64_t batch = 1;
  std::int64_t stride_a = 0, stride_b = 0, stride_c = 0;
  double alpha = 1.0, beta = 0.0;
};

// offsets.size() matrices of rows x cols inside one tensor: element offsets from raw_data() and the
// ?gemm-style layout (trans: the view is the transpose of a row-major matrix with leading dimension ld).
struct MatrixBatch {
  std::vector<std::int64_t> offsets;
  std::int64_t rows = 0, cols = 0;
  bool trans = false;
  std::int64_t ld = 0;
};

// The first matrix of a batch that failed to factor: its batch index, the 1-based order of the leading
// minor that is not positive definite (?potrf info) and the pivot value found there; batch == -1 when
// every matrix factored.
struct CholeskyStatus {
  std::int64_t batch = -1;
  std::int64_t pivot = 0;
  double value = 0.0;
};

// The first matrix of a batch whose eigendecomposition failed and ?syev's info for it (< 0: argument
// -info was illegal, e.g. held a NaN; > 0: info off-diagonal elements did not converge); batch == -1
// when every matrix decomposed.
struct EigenStatus {
  std::int64_t batch = -1;
  std::int64_t info = 0;
};

// ---------------- memory and elementwise (cpu/copy.cpp, cpu/elementwise.cpp) ----------------

// dst and src have the same shape (src may be an expanded view); any layout, any dtypes.
template <Device D> void copy(const Tensor& dst, const Tensor& src);
template <Device D> void fill(const Tensor& x, double value);  // any layout
// x, out contiguous (may alias); the scalar maps are those of tensor/unary_math.hpp.
template <Device D> void unary(prim::Unary op, const Tensor& x, const Tensor& out, double p);
template <Device D> void unary_backward(prim::Unary op, const Tensor& dy, const Tensor& saved, const Tensor& dx, double p);
template <Device D> void binary(prim::Binary op, const Tensor& a, const Tensor& b, const Tensor& out);  // views of out's shape
template <Device D> void axpy(const Tensor& y, const Tensor& x, double alpha);  // contiguous
template <Device D> void masked_fill(const Tensor& x, const Tensor& mask, double value, const Tensor& out);

// ---------------- reductions (cpu/reduce.cpp): x contiguous, viewed as (outer, r, inner); out (outer, inner)
template <Device D> void sum_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& out);
template <Device D>
void max_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, const Tensor& values,
              const Tensor& indices);
template <Device D> double sum_all(const Tensor& x);  // contiguous
// x contiguous (outer, r, inner); out the same shape: running sums along r (from the end with reverse)
template <Device D>
void cumsum_axis(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool reverse, const Tensor& out);

// ---------------- matrix products (cpu/matmul.cpp) ----------------
template <Device D> void gemm(const GemmBatch& g, const Tensor& a, const Tensor& b, const Tensor& c);

// ---------------- symmetric linear algebra (cpu/linalg.cpp) ----------------
// out contiguous (batch, n, n) = beta I + alpha (X^T X or X X^T), full symmetric.
template <Device D>
void gram(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta, const Tensor& out);
// In place on a contiguous (batch, n, n): lower factor, upper triangle zeroed.
template <Device D> CholeskyStatus cholesky(const Tensor& a, std::int64_t batch, std::int64_t n);
template <Device D> void cholesky_logdet(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);
// gram, then cholesky and cholesky_logdet of each matrix while it is in cache; l (batch, n, n), logdet (batch).
template <Device D>
CholeskyStatus gram_cholesky(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta,
                             const Tensor& l, const Tensor& logdet);
// In place on the matrices of b; l contiguous (bb.offsets.size(), n, n).
template <Device D>
void cholesky_solve(const Tensor& l, std::int64_t n, const Tensor& b, const MatrixBatch& bb, prim::Side side,
                    double alpha);
// out contiguous (batch, n, n), full symmetric; reports a zero diagonal of L like cholesky (value 0).
template <Device D> CholeskyStatus cholesky_inverse(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out);
// In place on a contiguous (batch, n, n) holding symmetric A (lower triangle read): the eigenvectors, column
// j for values[j]; values contiguous (batch, n), ascending.
template <Device D>
EigenStatus symmetric_eigen(const Tensor& a, std::int64_t batch, std::int64_t n, const Tensor& values);

// ---------------- fused kernels ----------------
// softmax.cpp: x contiguous viewed as (outer, r, inner), softmax over r.
template <Device D>
void softmax(const Tensor& x, std::int64_t outer, std::int64_t r, std::int64_t inner, bool log, const Tensor& y);
template <Device D>
void softmax_backward(const Tensor& dy, const Tensor& y, std::int64_t outer, std::int64_t r, std::int64_t inner,
                      bool log, const Tensor& dx);
// layer_norm.cpp: x contiguous (rows, D)
template <Device D>
void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                const Tensor& mean, const Tensor& rstd);
template <Device D>
void layer_norm_backward(const Tensor& dy, const Tensor& x, const Tensor& mean, const Tensor& rstd,
                         const Tensor& gamma, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta);
// attention.cpp: q, k, v (B, n, H p) views with last stride 1 (row stride / batch stride arbitrary);
// out (B, n, H p) and maps (B, H, n, n) contiguous. Backward grads contiguous (B, n, H p). causal: token i
// attends to j <= i only (the maps hold zeros above the diagonal; no tile above it is computed).
template <Device D>
void attention(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale, bool causal,
               const Tensor& out, const Tensor& maps);
template <Device D>
void attention_backward(const Tensor& dout, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& maps,
                        std::int64_t heads, double scale, bool causal, const Tensor& dq, const Tensor& dk,
                        const Tensor& dv);
// cross_entropy.cpp: logits contiguous (B, C), target (B) i64
template <Device D>
double cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index, double smoothing,
                     const Tensor& log_prob, std::int64_t& count);
template <Device D>
void cross_entropy_backward(double dloss, const Tensor& log_prob, const Tensor& target, std::int64_t ignore_index,
                            double smoothing, std::int64_t count, const Tensor& dlogits);

// ---------------- indexing (cpu/index.cpp) ----------------
// x contiguous viewed as (outer, n, inner); index 1-D i64 contiguous
template <Device D>
void index_select(const Tensor& x, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
                  const Tensor& out);
template <Device D>
void index_add(const Tensor& out, std::int64_t outer, std::int64_t n, std::int64_t inner, const Tensor& index,
               const Tensor& src);
// gather / scatter_add along `axis` of contiguous tensors of equal rank.
template <Device D> void gather(const Tensor& x, std::int64_t axis, const Tensor& index, const Tensor& out);
template <Device D> void scatter_add(const Tensor& out, std::int64_t axis, const Tensor& index, const Tensor& src);

}  // namespace wb::kernel
