// Batched symmetric kernels: Gram matrices (?syrk), Cholesky (?potrf), logdet from the factor, solves
// (?trsm), inverse (?potri) and the eigendecomposition (?syev).
//
// Layout trick: a row-major lower-triangular L is, byte for byte, the column-major upper-triangular
// U = L^T. LAPACK is called column-major with uplo 'U' on our row-major 'lower' data, so no transposed
// copies are made (LAPACKE's row-major path would transpose every matrix in and out). ?syev is the
// exception: with 'U' it would reduce the matrix in another order, so it takes LAPACKE's row-major path
// with 'L', bit for bit what LAPACKE_?syev(LAPACK_ROW_MAJOR, 'V', 'L', ...) gives a caller.
//
// Threads: OpenBLAS is single-threaded (tensor/parallel.hpp); a batch runs as one wb::parallel_for
// over its matrices. With fewer matrices than threads, the big single-matrix steps are split over the
// pool instead: a Gram matrix over many rows as partial ?syrk over fixed blocks of 8192 rows summed in
// order (so the result does not depend on the thread count), and solves over independent blocks of
// right-hand sides (rows for X A^-1, columns for A^-1 X; bit-identical to one call).
#include <cblas.h>
#include <lapacke.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
using kernel::CholeskyStatus;
using kernel::EigenStatus;
using kernel::MatrixBatch;

namespace {

template <class F>
void for_each_matrix(std::int64_t batch, F&& one) {
  if (batch <= 1 || num_threads() <= 1) {
    for (std::int64_t i = 0; i < batch; ++i) one(i);
    return;
  }
  parallel_for(batch, 1, [&](std::int64_t s, std::int64_t e) {
    for (std::int64_t i = s; i < e; ++i) one(i);
  });
}

// Splits a single large matrix's work over the pool only when the batch does not already fill it.
bool split_single(std::int64_t batch) { return batch < num_threads() && num_threads() > 1; }

// Copies the lower triangle of a row-major n x n matrix onto its upper triangle, in 32 x 32 tiles so the
// column-wise reads stay within a few cache lines.
template <class T>
void mirror_lower(T* a, std::int64_t n) {
  constexpr std::int64_t tile = 32;
  for (std::int64_t i0 = 0; i0 < n; i0 += tile)
    for (std::int64_t j0 = i0; j0 < n; j0 += tile)
      for (std::int64_t i = i0; i < std::min(i0 + tile, n); ++i)
        for (std::int64_t j = std::max(j0, i + 1); j < std::min(j0 + tile, n); ++j) a[i * n + j] = a[j * n + i];
}

template <class T>
void syrk(bool trans, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda, T* c) {
  const auto t = trans ? CblasTrans : CblasNoTrans;
  const auto bn = static_cast<blasint>(n), bk = static_cast<blasint>(k), blda = static_cast<blasint>(lda);
  if constexpr (std::is_same_v<T, float>)
    cblas_ssyrk(CblasRowMajor, CblasLower, t, bn, bk, alpha, a, blda, 0.0f, c, bn);
  else
    cblas_dsyrk(CblasRowMajor, CblasLower, t, bn, bk, alpha, a, blda, 0.0, c, bn);
}

template <class T>
void trsm(CBLAS_SIDE side, CBLAS_TRANSPOSE trans, std::int64_t m, std::int64_t n, T alpha, const T* l,
          std::int64_t ldl, T* b, std::int64_t ldb) {
  const auto bm = static_cast<blasint>(m), bn = static_cast<blasint>(n);
  if constexpr (std::is_same_v<T, float>)
    cblas_strsm(CblasRowMajor, side, CblasLower, trans, CblasNonUnit, bm, bn, alpha, l, static_cast<blasint>(ldl), b,
                static_cast<blasint>(ldb));
  else
    cblas_dtrsm(CblasRowMajor, side, CblasLower, trans, CblasNonUnit, bm, bn, alpha, l, static_cast<blasint>(ldl), b,
                static_cast<blasint>(ldb));
}

// Row-major lower Cholesky in place (column-major 'U'); returns ?potrf's info.
template <class T>
lapack_int potrf(T* a, std::int64_t n) {
  const auto bn = static_cast<lapack_int>(n);
  if constexpr (std::is_same_v<T, float>) return LAPACKE_spotrf_work(LAPACK_COL_MAJOR, 'U', bn, a, bn);
  else return LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', bn, a, bn);
}

template <class T>
lapack_int potri(T* a, std::int64_t n) {
  const auto bn = static_cast<lapack_int>(n);
  if constexpr (std::is_same_v<T, float>) return LAPACKE_spotri_work(LAPACK_COL_MAJOR, 'U', bn, a, bn);
  else return LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'U', bn, a, bn);
}

CholeskyStatus first_failure(const std::vector<lapack_int>& info, const std::vector<double>& value) {
  CholeskyStatus st;
  for (std::size_t i = 0; i < info.size(); ++i) {
    if (info[i] != 0) {
      st.batch = static_cast<std::int64_t>(i);
      st.pivot = info[i];
      st.value = value[i];
      break;
    }
  }
  return st;
}

// One Gram matrix, lower triangle only: c = beta I + alpha (X^T X or X X^T) of the view at x. The view is
// rows x cols; the stored row-major matrix is the view itself, or its transpose when xb.trans, so
// X^T X of the view is syrk 'T' on a non-transposed view and 'N' otherwise.
constexpr std::int64_t kGramBlock = 8192;  // rows summed by one partial ?syrk when a Gram is split

template <class T>
void gram_lower(const T* x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta, T* c, bool split) {
  const bool xtx = form == prim::Gram::xtx;
  const std::int64_t n = xtx ? xb.cols : xb.rows, k = xtx ? xb.rows : xb.cols;
  const bool trans = xtx != xb.trans;  // syrk 'T' sums over the stored rows, 'N' over the stored columns
  if (k == 0) {
    for (std::int64_t j = 0; j < n * n; ++j) c[j] = T(0);
  } else if (!split || k < 2 * kGramBlock) {
    syrk<T>(trans, n, k, static_cast<T>(alpha), x, xb.ld, c);
  } else {
    const std::int64_t blocks = (k + kGramBlock - 1) / kGramBlock;
    std::vector<T> part(static_cast<std::size_t>(blocks * n * n));
    parallel_for(blocks, 1, [&](std::int64_t s, std::int64_t e) {
      for (std::int64_t b = s; b < e; ++b) {
        const std::int64_t k0 = b * kGramBlock, kb = std::min(kGramBlock, k - k0);
        syrk<T>(trans, n, kb, static_cast<T>(alpha), x + (trans ? k0 * xb.ld : k0), xb.ld, part.data() + b * n * n);
      }
    });
    for (std::int64_t r = 0; r < n; ++r)
      for (std::int64_t col = 0; col <= r; ++col) {
        T acc = T(0);
        for (std::int64_t b = 0; b < blocks; ++b) acc += part[static_cast<std::size_t>(b * n * n + r * n + col)];
        c[r * n + col] = acc;
      }
  }
  for (std::int64_t j = 0; j < n; ++j) c[j * n + j] += static_cast<T>(beta);
}

std::int64_t gram_size(const MatrixBatch& xb, prim::Gram form) { return form == prim::Gram::xtx ? xb.cols : xb.rows; }

template <class T>
void gram_t(const T* x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta, T* out) {
  const std::int64_t n = gram_size(xb, form), batch = static_cast<std::int64_t>(xb.offsets.size());
  const bool split = split_single(batch);
  for_each_matrix(batch, [&](std::int64_t i) {
    T* c = out + i * n * n;
    gram_lower(x + xb.offsets[static_cast<std::size_t>(i)], xb, form, alpha, beta, c, split);
    mirror_lower(c, n);
  });
}

// Factors one matrix in place (row-major lower), zeroes its upper triangle and returns ?potrf's info;
// on failure *value is the pivot found not positive.
template <class T>
lapack_int factor_one(T* m, std::int64_t n, double* value) {
  const lapack_int r = potrf(m, n);
  if (r > 0) *value = static_cast<double>(m[(r - 1) * (n + 1)]);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t col = row + 1; col < n; ++col) m[row * n + col] = T(0);
  return r;
}

template <class T>
double logdet_one(const T* l, std::int64_t n) {
  double s = 0.0;
  for (std::int64_t j = 0; j < n; ++j) s += std::log(static_cast<double>(l[j * (n + 1)]));
  return 2.0 * s;
}

template <class T>
CholeskyStatus gram_cholesky_t(const T* x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta, T* l,
                               T* logdet) {
  const std::int64_t n = gram_size(xb, form), batch = static_cast<std::int64_t>(xb.offsets.size());
  std::vector<lapack_int> info(static_cast<std::size_t>(batch), 0);
  std::vector<double> value(static_cast<std::size_t>(batch), 0.0);
  const bool split = split_single(batch);
  for_each_matrix(batch, [&](std::int64_t i) {
    const auto ui = static_cast<std::size_t>(i);
    T* c = l + i * n * n;
    gram_lower(x + xb.offsets[ui], xb, form, alpha, beta, c, split);
    info[ui] = factor_one(c, n, &value[ui]);
    logdet[i] = info[ui] == 0 ? static_cast<T>(logdet_one(c, n)) : T(0);
  });
  return first_failure(info, value);
}

template <class T>
CholeskyStatus cholesky_t(T* a, std::int64_t batch, std::int64_t n) {
  std::vector<lapack_int> info(static_cast<std::size_t>(batch), 0);
  std::vector<double> value(static_cast<std::size_t>(batch), 0.0);
  for_each_matrix(batch, [&](std::int64_t i) {
    const auto ui = static_cast<std::size_t>(i);
    info[ui] = factor_one(a + i * n * n, n, &value[ui]);
  });
  return first_failure(info, value);
}

template <class T>
void solve_t(const T* l, std::int64_t n, T* b, const MatrixBatch& bb, prim::Side side, double alpha) {
  // A stored transpose turns A^{-1} B into (B^T A^{-1})^T: the side flips on the stored matrix.
  const bool left = (side == prim::Side::left) != bb.trans;
  const std::int64_t m = bb.trans ? bb.cols : bb.rows, c = bb.trans ? bb.rows : bb.cols;
  const auto batch = static_cast<std::int64_t>(bb.offsets.size());
  // Solves the right-hand sides [lo, hi) (columns for the left side, rows for the right side).
  auto solve = [&](const T* li, T* bi, std::int64_t lo, std::int64_t hi) {
    if (left) {  // L L^T X = B: L Y = B, then L^T X = Y
      trsm<T>(CblasLeft, CblasNoTrans, m, hi - lo, static_cast<T>(alpha), li, n, bi + lo, bb.ld);
      trsm<T>(CblasLeft, CblasTrans, m, hi - lo, T(1), li, n, bi + lo, bb.ld);
    } else {  // X L L^T = B: Y L^T = B, then X L = Y
      trsm<T>(CblasRight, CblasTrans, hi - lo, c, static_cast<T>(alpha), li, n, bi + lo * bb.ld, bb.ld);
      trsm<T>(CblasRight, CblasNoTrans, hi - lo, c, T(1), li, n, bi + lo * bb.ld, bb.ld);
    }
  };
  const std::int64_t rhs = left ? c : m;
  if (split_single(batch) && rhs >= 64) {
    for (std::int64_t i = 0; i < batch; ++i) {
      const T* li = l + i * n * n;
      T* bi = b + bb.offsets[static_cast<std::size_t>(i)];
      const std::int64_t blocks = std::min<std::int64_t>(num_threads(), rhs / 32);
      parallel_for(blocks, 1, [&](std::int64_t s, std::int64_t e) {
        for (std::int64_t k = s; k < e; ++k) solve(li, bi, rhs * k / blocks, rhs * (k + 1) / blocks);
      });
    }
    return;
  }
  for_each_matrix(batch, [&](std::int64_t i) { solve(l + i * n * n, b + bb.offsets[static_cast<std::size_t>(i)], 0, rhs); });
}

template <class T>
CholeskyStatus inverse_t(const T* l, std::int64_t batch, std::int64_t n, T* out) {
  std::vector<lapack_int> info(static_cast<std::size_t>(batch), 0);
  std::vector<double> value(static_cast<std::size_t>(batch), 0.0);
  for_each_matrix(batch, [&](std::int64_t i) {
    T* m = out + i * n * n;
    const T* src = l + i * n * n;
    for (std::int64_t j = 0; j < n * n; ++j) m[j] = src[j];
    const lapack_int r = potri(m, n);
    info[static_cast<std::size_t>(i)] = r;
    if (r == 0) mirror_lower(m, n);
  });
  return first_failure(info, value);
}

// Eigenvalues w (ascending) and eigenvectors of a symmetric n x n matrix, in place, by LAPACKE's row-major
// ?syev (jobz 'V', uplo 'L'): LAPACKE hands LAPACK a column-major copy, so it reads A's row-major lower
// triangle, and writes eigenvector j to column j. Returns ?syev's info.
template <class T>
lapack_int syev(T* a, T* w, std::int64_t n) {
  const auto bn = static_cast<lapack_int>(n);
  if constexpr (std::is_same_v<T, float>) return LAPACKE_ssyev(LAPACK_ROW_MAJOR, 'V', 'L', bn, a, bn, w);
  else return LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L', bn, a, bn, w);
}

template <class T>
EigenStatus eigen_t(T* a, std::int64_t batch, std::int64_t n, T* w) {
  std::vector<lapack_int> info(static_cast<std::size_t>(batch), 0);
  if (n > 0)
    for_each_matrix(batch, [&](std::int64_t i) { info[static_cast<std::size_t>(i)] = syev(a + i * n * n, w + i * n, n); });
  EigenStatus st;
  for (std::size_t i = 0; i < info.size() && st.batch < 0; ++i)
    if (info[i] != 0) st = {static_cast<std::int64_t>(i), info[i]};
  return st;
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
void gram<Device::CPU>(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha, double beta,
                       const Tensor& out) {
  dispatch_floating(x.dtype(), "gram", [&](auto tag) {
    using T = typename decltype(tag)::type;
    gram_t<T>(static_cast<const T*>(x.raw_data()), xb, form, alpha, beta, static_cast<T*>(out.raw_data()));
  });
}

template <>
CholeskyStatus cholesky<Device::CPU>(const Tensor& a, std::int64_t batch, std::int64_t n) {
  return dispatch_floating(a.dtype(), "cholesky", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return cholesky_t<T>(static_cast<T*>(a.raw_data()), batch, n);
  });
}

template <>
void cholesky_logdet<Device::CPU>(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out) {
  dispatch_floating(l.dtype(), "cholesky_logdet", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* lp = static_cast<const T*>(l.raw_data());
    T* o = static_cast<T*>(out.raw_data());
    for (std::int64_t i = 0; i < batch; ++i) o[i] = static_cast<T>(logdet_one(lp + i * n * n, n));
  });
}

template <>
CholeskyStatus gram_cholesky<Device::CPU>(const Tensor& x, const MatrixBatch& xb, prim::Gram form, double alpha,
                                          double beta, const Tensor& l, const Tensor& logdet) {
  return dispatch_floating(x.dtype(), "gram_cholesky", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return gram_cholesky_t<T>(static_cast<const T*>(x.raw_data()), xb, form, alpha, beta, static_cast<T*>(l.raw_data()),
                              static_cast<T*>(logdet.raw_data()));
  });
}

template <>
void cholesky_solve<Device::CPU>(const Tensor& l, std::int64_t n, const Tensor& b, const MatrixBatch& bb,
                                 prim::Side side, double alpha) {
  dispatch_floating(b.dtype(), "cholesky_solve", [&](auto tag) {
    using T = typename decltype(tag)::type;
    solve_t<T>(static_cast<const T*>(l.raw_data()), n, static_cast<T*>(b.raw_data()), bb, side, alpha);
  });
}

template <>
CholeskyStatus cholesky_inverse<Device::CPU>(const Tensor& l, std::int64_t batch, std::int64_t n, const Tensor& out) {
  return dispatch_floating(l.dtype(), "cholesky_inverse", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return inverse_t<T>(static_cast<const T*>(l.raw_data()), batch, n, static_cast<T*>(out.raw_data()));
  });
}

template <>
EigenStatus symmetric_eigen<Device::CPU>(const Tensor& a, std::int64_t batch, std::int64_t n, const Tensor& values) {
  return dispatch_floating(a.dtype(), "symmetric_eigen", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return eigen_t<T>(static_cast<T*>(a.raw_data()), batch, n, static_cast<T*>(values.raw_data()));
  });
}

}  // namespace wb::kernel
