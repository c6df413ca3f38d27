#include "crate/instruments/subspace_fit.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/subspaces.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

SymmetricEigen symmetric_eigen(const Tensor& a) {
  if (a.dim() != 2 || a.size(0) != a.size(1))
    throw std::invalid_argument(fmt::format("symmetric_eigen: expects a square (n, n) matrix, got {}", shape_str(a.shape())));
  const prim::SymmetricEigen e = prim::symmetric_eigen(prim::cast(a, DType::f64));
  return {e.values.to_vector<double>(), e.vectors.to_vector<double>(), a.size(0)};
}

Tensor bases_to_rows(const Tensor& bases) {
  if (bases.dim() != 3)
    throw std::invalid_argument(fmt::format("bases_to_rows: expects (K, d, p) bases, got {}", shape_str(bases.shape())));
  return prim::contiguous(prim::permute(bases, {0, 2, 1}));
}

Tensor fit_pca_subspaces(const Tensor& tokens, const Tensor& labels, std::int64_t num_subspaces, std::int64_t p) {
  if (tokens.dim() < 2)
    throw std::invalid_argument(fmt::format("fit_pca_subspaces: tokens must be (N, d) or (B, N, d), got {}",
                                            shape_str(tokens.shape())));
  const std::int64_t d = tokens.size(-1), n = tokens.numel() / std::max<std::int64_t>(1, d);
  if (p < 1 || p > d)
    throw std::invalid_argument(fmt::format("fit_pca_subspaces: subspace dimension p = {} must be in [1, d = {}]", p, d));
  if (num_subspaces < 1) throw std::invalid_argument("fit_pca_subspaces: needs at least one cluster");
  if (labels.dtype() != DType::i64 || labels.numel() != n)
    throw std::invalid_argument(fmt::format("fit_pca_subspaces: needs one i64 label per token ({} tokens), got {} of {}",
                                            n, shape_str(labels.shape()), dtype_name(labels.dtype())));
  const std::vector<double> z = prim::contiguous(tokens).to_vector<double>();
  const std::vector<std::int64_t> lab = prim::contiguous(labels).to_vector<std::int64_t>();
  const auto k_count = static_cast<std::size_t>(num_subspaces), du = static_cast<std::size_t>(d);
  std::vector<std::vector<double>> second(k_count, std::vector<double>(du * du, 0.0));
  std::vector<std::int64_t> count(k_count, 0);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = lab[static_cast<std::size_t>(i)];
    if (k < 0 || k >= num_subspaces)
      throw std::invalid_argument(fmt::format("fit_pca_subspaces: label {} of token {} is outside [0, {})", k, i, num_subspaces));
    ++count[static_cast<std::size_t>(k)];
    const double* row = z.data() + static_cast<std::size_t>(i) * du;
    auto& s = second[static_cast<std::size_t>(k)];
    for (std::size_t a = 0; a < du; ++a)
      for (std::size_t b = 0; b <= a; ++b) s[a * du + b] += row[a] * row[b];
  }
  std::vector<double> u(k_count * static_cast<std::size_t>(p) * du);
  for (std::size_t k = 0; k < k_count; ++k) {
    if (count[k] < p)
      throw std::invalid_argument(fmt::format("fit_pca_subspaces: cluster {} has {} tokens, fewer than p = {}; use fewer "
                                              "clusters or a smaller subspace dimension", k, count[k], p));
    for (double& v : second[k]) v /= static_cast<double>(count[k]);
    const SymmetricEigen e = symmetric_eigen(Tensor::from_vector(second[k], {d, d}));
    for (std::int64_t r = 0; r < p; ++r) {  // row r = eigenvector of the r-th largest eigenvalue
      const std::size_t col = du - 1 - static_cast<std::size_t>(r);
      for (std::size_t c = 0; c < du; ++c)
        u[(k * static_cast<std::size_t>(p) + static_cast<std::size_t>(r)) * du + c] = e.vectors[c * du + col];
    }
  }
  return prim::cast(Tensor::from_vector(u, {num_subspaces, p, d}), tokens.dtype() == DType::f32 ? DType::f32 : DType::f64);
}

Tensor random_subspaces(std::int64_t num_subspaces, std::int64_t p, std::int64_t d, Generator& gen, DType dtype) {
  if (num_subspaces < 1 || p < 1 || p > d)
    throw std::invalid_argument(fmt::format("random_subspaces: needs K >= 1 and 1 <= p <= d, got K = {}, p = {}, d = {}",
                                            num_subspaces, p, d));
  std::vector<Tensor> rows;
  for (std::int64_t k = 0; k < num_subspaces; ++k)
    rows.push_back(prim::unsqueeze(prim::transpose(data::random_orthonormal(d, p, gen), 0, 1), 0));
  Tensor u = Tensor::empty({num_subspaces, p, d}, DType::f64);
  for (std::int64_t k = 0; k < num_subspaces; ++k) prim::copy_(prim::slice(u, 0, k, k + 1), rows[static_cast<std::size_t>(k)]);
  return prim::cast(u, dtype);
}

std::vector<double> principal_cosines(const Tensor& a, const Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
    throw std::invalid_argument(fmt::format("principal_cosines: expects (p, d) and (q, d) bases, got {} and {}",
                                            shape_str(a.shape()), shape_str(b.shape())));
  const Tensor a64 = prim::cast(a, DType::f64), b64 = prim::cast(b, DType::f64);
  const Tensor m = prim::matmul(a64, prim::transpose(b64, 0, 1));  // (p, q)
  const SymmetricEigen e = symmetric_eigen(prim::matmul(m, prim::transpose(m, 0, 1)));
  std::vector<double> cos;
  for (auto it = e.values.rbegin(); it != e.values.rend(); ++it) cos.push_back(std::sqrt(std::max(0.0, *it)));
  return cos;
}

double stacked_spectral_norm_squared(const Tensor& u) {
  if (u.dim() != 3) throw std::invalid_argument(fmt::format("stacked_spectral_norm_squared: expects U (K, p, d), got {}",
                                                            shape_str(u.shape())));
  const Tensor flat = prim::reshape(prim::cast(u, DType::f64), {u.size(0) * u.size(1), u.size(2)});
  const SymmetricEigen e = symmetric_eigen(prim::matmul(prim::transpose(flat, 0, 1), flat));
  return e.values.empty() ? 0.0 : std::max(0.0, e.values.back());
}

}  // namespace wb::crate
