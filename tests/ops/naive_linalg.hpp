// Independent float64 references for the log-det and coding-rate tests: plain loops over row-major
// std::vector<double> matrices, with Gaussian elimination (partial pivoting) in place of Cholesky so
// they share no code path with tensor/cpu/linalg.cpp.
//   Mat{rows, cols, v}                matrix; at(i, j)
//   matmul(a, b), transpose(a)        products
//   plus_scaled_identity(a, s, c)     c I + s A
//   logdet(a)                          log |det A| by elimination
//   inverse(a)                         Gauss-Jordan
//   rate(z, scale)                     1/2 logdet(I_d + scale Z^T Z) on the d x d side, Z (N, d)
//   normalize_rows(z)                  each row / max(||row||, 1e-12)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

#include "tensor/tensor.hpp"

namespace naive {

struct Mat {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Mat() = default;
  Mat(std::int64_t r, std::int64_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), 0.0) {}
  double& at(std::int64_t i, std::int64_t j) { return v[static_cast<std::size_t>(i * cols + j)]; }
  double at(std::int64_t i, std::int64_t j) const { return v[static_cast<std::size_t>(i * cols + j)]; }
};

// Matrix `index` of a (..., R, C) tensor, in row-major batch order.
inline Mat matrix(const wb::Tensor& t, std::int64_t index = 0) {
  const std::int64_t r = t.size(-2), c = t.size(-1);
  const std::vector<double> all = t.to_vector<double>();
  Mat m(r, c);
  std::copy_n(all.begin() + static_cast<std::ptrdiff_t>(index * r * c), r * c, m.v.begin());
  return m;
}

inline Mat matmul(const Mat& a, const Mat& b) {
  Mat c(a.rows, b.cols);
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t k = 0; k < a.cols; ++k)
      for (std::int64_t j = 0; j < b.cols; ++j) c.at(i, j) += a.at(i, k) * b.at(k, j);
  return c;
}

inline Mat transpose(const Mat& a) {
  Mat t(a.cols, a.rows);
  for (std::int64_t i = 0; i < a.rows; ++i)
    for (std::int64_t j = 0; j < a.cols; ++j) t.at(j, i) = a.at(i, j);
  return t;
}

inline Mat plus_scaled_identity(const Mat& a, double s, double c) {
  Mat r = a;
  for (auto& x : r.v) x *= s;
  for (std::int64_t i = 0; i < a.rows; ++i) r.at(i, i) += c;
  return r;
}

inline double logdet(Mat a) {
  const std::int64_t n = a.rows;
  double s = 0.0;
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t piv = k;
    for (std::int64_t i = k + 1; i < n; ++i)
      if (std::abs(a.at(i, k)) > std::abs(a.at(piv, k))) piv = i;
    if (a.at(piv, k) == 0.0) throw std::runtime_error("naive::logdet: singular matrix");
    if (piv != k)
      for (std::int64_t j = 0; j < n; ++j) std::swap(a.at(k, j), a.at(piv, j));
    s += std::log(std::abs(a.at(k, k)));
    for (std::int64_t i = k + 1; i < n; ++i) {
      const double f = a.at(i, k) / a.at(k, k);
      for (std::int64_t j = k; j < n; ++j) a.at(i, j) -= f * a.at(k, j);
    }
  }
  return s;
}

inline Mat inverse(Mat a) {
  const std::int64_t n = a.rows;
  Mat inv = plus_scaled_identity(Mat(n, n), 0.0, 1.0);
  for (std::int64_t k = 0; k < n; ++k) {
    std::int64_t piv = k;
    for (std::int64_t i = k + 1; i < n; ++i)
      if (std::abs(a.at(i, k)) > std::abs(a.at(piv, k))) piv = i;
    for (std::int64_t j = 0; j < n; ++j) {
      std::swap(a.at(k, j), a.at(piv, j));
      std::swap(inv.at(k, j), inv.at(piv, j));
    }
    const double d = a.at(k, k);
    for (std::int64_t j = 0; j < n; ++j) {
      a.at(k, j) /= d;
      inv.at(k, j) /= d;
    }
    for (std::int64_t i = 0; i < n; ++i) {
      if (i == k) continue;
      const double f = a.at(i, k);
      for (std::int64_t j = 0; j < n; ++j) {
        a.at(i, j) -= f * a.at(k, j);
        inv.at(i, j) -= f * inv.at(k, j);
      }
    }
  }
  return inv;
}

inline double rate(const Mat& z, double scale) {
  return 0.5 * logdet(plus_scaled_identity(matmul(transpose(z), z), scale, 1.0));
}

inline Mat normalize_rows(Mat z) {
  for (std::int64_t i = 0; i < z.rows; ++i) {
    double s = 0.0;
    for (std::int64_t j = 0; j < z.cols; ++j) s += z.at(i, j) * z.at(i, j);
    const double r = std::max(std::sqrt(s), 1e-12);
    for (std::int64_t j = 0; j < z.cols; ++j) z.at(i, j) /= r;
  }
  return z;
}

inline wb::Tensor to_tensor(const Mat& m) { return wb::Tensor::from_vector(m.v, {m.rows, m.cols}); }

}  // namespace naive
