#include "datasets/subspaces.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb::data {
namespace {

// Columns of a d x m Gaussian matrix, orthonormalized. cols[j] is column j (d values).
// Modified Gram-Schmidt applied twice ("twice is enough", Giraud et al. 2005) keeps U^T U = I to
// machine precision even when columns are nearly dependent.
std::vector<std::vector<double>> gaussian_orthonormal_columns(std::int64_t d, std::int64_t m, Generator& gen) {
  std::vector<std::vector<double>> cols(static_cast<std::size_t>(m), std::vector<double>(static_cast<std::size_t>(d)));
  for (std::int64_t i = 0; i < d; ++i)  // draw row-major, as a d x m matrix
    for (std::int64_t j = 0; j < m; ++j) cols[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)] = gen.normal();
  auto dot = [d](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0.0;
    for (std::int64_t i = 0; i < d; ++i) s += a[static_cast<std::size_t>(i)] * b[static_cast<std::size_t>(i)];
    return s;
  };
  for (std::size_t j = 0; j < cols.size(); ++j) {
    auto& v = cols[j];
    const double norm0 = std::sqrt(dot(v, v));
    for (int pass = 0; pass < 2; ++pass)
      for (std::size_t i = 0; i < j; ++i) {
        const double r = dot(cols[i], v);
        for (std::int64_t t = 0; t < d; ++t) v[static_cast<std::size_t>(t)] -= r * cols[i][static_cast<std::size_t>(t)];
      }
    const double norm = std::sqrt(dot(v, v));
    if (!(norm > 1e-10 * norm0))
      throw std::runtime_error(fmt::format("random_orthonormal: column {} of a {}x{} Gaussian matrix is numerically "
                                           "dependent on the previous ones (norm {} of {})",
                                           j, d, m, norm, norm0));
    for (auto& x : v) x /= norm;
  }
  return cols;
}

void check_options(const SubspaceMixtureOptions& o) {
  const auto fail = [&](const std::string& why) {
    throw std::invalid_argument(
        fmt::format("make_subspace_mixture(d={}, K={}, p={}, N={}, noise={}, scale={}): {}", o.ambient_dim,
                    o.num_subspaces, o.subspace_dim, o.num_tokens, o.noise, o.scale, why));
  };
  if (o.ambient_dim <= 0 || o.num_subspaces <= 0 || o.subspace_dim <= 0 || o.num_tokens <= 0)
    fail("d, K, p and N must be positive");
  if (o.subspace_dim > o.ambient_dim) fail("the subspace dimension p must not exceed the ambient dimension d");
  if (o.orthogonal && o.num_subspaces * o.subspace_dim > o.ambient_dim)
    fail("mutually orthogonal subspaces need K * p <= d");
  if (!(o.noise >= 0.0) || !std::isfinite(o.noise)) fail("noise must be finite and >= 0");
  if (!(o.scale > 0.0) || !std::isfinite(o.scale)) fail("scale must be finite and > 0");
  if (!is_floating(o.dtype)) fail(fmt::format("dtype must be f32 or f64, got {}", dtype_name(o.dtype)));
}

}  // namespace

Tensor SubspaceMixture::basis(std::int64_t k) const { return prim::select(bases, 0, k); }

Tensor random_orthonormal(std::int64_t d, std::int64_t p, Generator& gen) {
  if (d <= 0 || p <= 0 || p > d)
    throw std::invalid_argument(fmt::format("random_orthonormal: need 0 < p <= d, got d={}, p={}", d, p));
  const auto cols = gaussian_orthonormal_columns(d, p, gen);
  std::vector<double> u(static_cast<std::size_t>(d * p));
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < p; ++j)
      u[static_cast<std::size_t>(i * p + j)] = cols[static_cast<std::size_t>(j)][static_cast<std::size_t>(i)];
  return Tensor::from_vector(u, {d, p});
}

SubspaceMixture make_subspace_mixture(const SubspaceMixtureOptions& o, Generator& gen) {
  check_options(o);
  const std::int64_t d = o.ambient_dim, K = o.num_subspaces, p = o.subspace_dim, N = o.num_tokens;
  const auto at = [](std::int64_t i) { return static_cast<std::size_t>(i); };

  // 1. bases (K, d, p): either K independent orthonormal d x p matrices, or one d x Kp split in K.
  std::vector<double> bases(at(K * d * p));
  auto put_basis = [&](std::int64_t k, const std::vector<std::vector<double>>& cols, std::int64_t first_col) {
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < p; ++j) bases[at((k * d + i) * p + j)] = cols[at(first_col + j)][at(i)];
  };
  if (o.orthogonal) {
    const auto cols = gaussian_orthonormal_columns(d, K * p, gen);
    for (std::int64_t k = 0; k < K; ++k) put_basis(k, cols, k * p);
  } else {
    for (std::int64_t k = 0; k < K; ++k) put_basis(k, gaussian_orthonormal_columns(d, p, gen), 0);
  }

  // 2. labels
  std::vector<std::int64_t> labels(at(N));
  if (o.balanced) {
    const auto perm = gen.permutation(N);
    for (std::int64_t n = 0; n < N; ++n) labels[at(perm[at(n)])] = n % K;
  } else {
    for (auto& l : labels) l = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(K)));
  }

  // 3. clean tokens: clean_n = U_{l_n} c_n
  std::vector<double> clean(at(N * d), 0.0), c(at(p));
  for (std::int64_t n = 0; n < N; ++n) {
    double norm2 = 0.0;
    for (auto& v : c) {
      v = gen.normal();
      norm2 += v * v;
    }
    // unit_norm: a normalized Gaussian vector is uniform on the sphere (norm2 > 0 with probability 1;
    // the 1e-300 floor only keeps a zero draw finite).
    const double mult = o.coefficients == Coefficients::gaussian ? o.scale : o.scale / std::sqrt(std::max(norm2, 1e-300));
    const double* U = bases.data() + at(labels[at(n)] * d * p);
    for (std::int64_t i = 0; i < d; ++i) {
      double s = 0.0;
      for (std::int64_t j = 0; j < p; ++j) s += U[at(i * p + j)] * c[at(j)];
      clean[at(n * d + i)] = mult * s;
    }
  }

  // 4. noise
  std::vector<double> tokens = clean;
  if (o.noise > 0.0)
    for (auto& v : tokens) v += o.noise * gen.normal();

  SubspaceMixture out;
  out.tokens = prim::cast(Tensor::from_vector(tokens, {N, d}), o.dtype);
  out.clean = prim::cast(Tensor::from_vector(clean, {N, d}), o.dtype);
  out.bases = prim::cast(Tensor::from_vector(bases, {K, d, p}), o.dtype);
  out.labels = Tensor::from_vector(labels, {N});
  return out;
}

}  // namespace wb::data
