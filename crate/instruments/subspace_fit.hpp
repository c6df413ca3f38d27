// Subspaces for the coding-rate operators, fitted to data or drawn at random, and how to compare them.
//
// Layout (ops/coding_rate.hpp): U is (K, p, d), U[k] a p x d matrix whose rows span subspace k; tokens
// are the rows of Z (N, d). datasets/subspaces.hpp stores bases as (K, d, p) columns: bases_to_rows
// converts.
//
//   PCA per cluster   U[k] = the top-p eigenvectors (as rows) of cluster k's second-moment matrix
//                     S_k = (1/n_k) sum_{n in k} z_n z_n^T (d x d). Uncentred on purpose: the subspaces
//                     of R^c pass through the origin, and for tokens drawn on a p-dimensional linear
//                     subspace (no noise, at least p tokens in general position) span(U[k]) is exactly
//                     that subspace.
//   principal angles  cos theta_i between span(A) and span(B) (orthonormal rows, p x d each) are the
//                     singular values of A B^T, computed as sqrt of the eigenvalues of (A B^T)(A B^T)^T.
//   spectral norm     ||U||_2^2 = lambda_max(sum_k U[k]^T U[k]), the largest eigenvalue of the stacked
//                     (K p, d) matrix's Gram: 1 for orthonormal, mutually orthogonal subspaces, at most K.
//
// Eigendecompositions are LAPACK dsyev in double on the host (inputs of any dtype/device are copied).
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::crate {

struct SymmetricEigen {
  std::vector<double> values;   // ascending
  std::vector<double> vectors;  // n x n row-major; column j is the unit eigenvector of values[j]
  std::int64_t n = 0;
};
// Eigendecomposition of a symmetric (n, n) matrix (only its lower triangle is read), in float64, as
// plain vectors: prim::symmetric_eigen (LAPACK ?syev), the one eigensolver of the project. Throws
// std::invalid_argument on a non-square input and std::runtime_error when ?syev does not converge.
SymmetricEigen symmetric_eigen(const Tensor& a);

// (K, d, p) column bases (datasets::SubspaceMixture::bases) -> (K, p, d) rows, contiguous.
Tensor bases_to_rows(const Tensor& bases);

// PCA per cluster: tokens (N, d) or (B, N, d) (batch axes are pooled), labels one i64 per token
// (N or B*N, in the tokens' row-major order) in [0, K). Returns U (K, p, d) in the tokens' dtype.
// Throws std::invalid_argument when p > d, a label is out of range or a cluster has fewer than p tokens.
Tensor fit_pca_subspaces(const Tensor& tokens, const Tensor& labels, std::int64_t num_subspaces, std::int64_t p);

// K independent uniformly random p-dimensional subspaces of R^d (Gaussian then Gram-Schmidt), (K, p, d).
Tensor random_subspaces(std::int64_t num_subspaces, std::int64_t p, std::int64_t d, Generator& gen,
                        DType dtype = DType::f64);

// Cosines of the principal angles between span(a) and span(b), a and b (p, d) with orthonormal rows,
// in descending order (1 = the subspaces share that direction).
std::vector<double> principal_cosines(const Tensor& a, const Tensor& b);

// lambda_max(sum_k U[k]^T U[k]) for U (K, p, d): the squared spectral norm of U as a (K p, d) matrix.
double stacked_spectral_norm_squared(const Tensor& u);

}  // namespace wb::crate
