// Coding-rate operators of the CRATE papers (spec §2 and §3), with exact gradients.
//
// Layout: tokens are ROWS. Z is (..., N, d): N tokens of dimension d, batched over the leading axes,
// and every rate is one value per batch element, shape (...). (The papers write Z in R^{d x N}, tokens
// as columns; Z here is that matrix transposed.) N is the number of rows passed in: include the class
// token to match the official measurement (n = N + 1 there), or slice it off first.
//
//   R(Z)        = 1/2 logdet(I + d/(N eps^2) Z^T Z) = 1/2 logdet(I + d/(N eps^2) Z Z^T)
//   R^c(Z | U)  = sum_k R_p(Z U[k]^T),   R_p(W) = 1/2 logdet(I + p/(N eps^2) W^T W)   (p, not d)
//   Delta R     = R - R^c                                    rate_reduction
//   MCR^2       = R - sum_j tr(Pi_j)/(2N) logdet(I + d/(tr(Pi_j) eps^2) Z^T Pi_j Z)   mcr2_rate_reduction
//   sparse RR   = R^c + lambda ||Z||_1 - R   (the quantity a CRATE layer lowers; ||Z||_1 per batch element)
//
// Subspaces: U is (K, p, d), U[k] the p x d block of rows k*p .. k*p+p-1 of the CRATE layer's `qkv`
// weight (K*p, d) (spec Appendix B), so pass ops::reshape(qkv_weight, {K, p, d}); head k's projection
// of the tokens is W_k = Z U[k]^T (N, p). In the paper's notation U_k = U[k]^T in R^{d x p}.
// Memberships Pi are (J, N) or (..., J, N) with Z's batch axes: Pi[j, n] >= 0 is token n's weight in
// class j (the diagonal of the paper's Pi_j); they are data, not differentiable.
//
// Conventions (spec §2.1, §3). By default `eps` is the distortion eps and the scale is d/(N eps^2)
// (p/(N eps^2) per subspace), as in the paper. The official measurement code (Ma-Lab-Berkeley/CRATE
// vis_utils/coding_rate.py, like ReduNet) passes eps^2 under the name eps (= 0.01, i.e. eps = 0.1),
// normalises each token's p-dimensional per-head projection to unit l2 norm and counts the class token
// in n: options {eps_is_squared = true, normalize_tokens = true} (kMeasurement) reproduce it, so
// compressed_coding_rate(LN(Z), U, 0.01, kMeasurement) compares with the paper's layer-wise figure.
// Normalisation is x / max(||x||, 1e-12) (per row of Z for R and the MCR^2 class term, per head and
// token for R^c), differentiated inside the op: dx = (I - x^ x^^T) dx^ / ||x||.
//
// Numerics and gradients (spec §2.2). Each logdet factors the smaller Gram matrix (N x N or d x d,
// Sylvester's identity) built by ?syrk, takes 2 sum log L_ii of its Cholesky factor accumulated in
// double, and saves the factor. With a the scale and X the (N, m) matrix, d/dX 1/2 logdet(I + a X^T X)
// = a X (I + a X^T X)^{-1} = a (I + a X X^T)^{-1} X, applied by two triangular solves with the saved
// factor. For R^c, dZ = sum_k dW_k U[k] and dU[k] = dW_k^T Z (summed over the batch), two GEMMs over
// all heads. Saved: the (normalised) X, the factors, Z (if U needs a gradient) and U (if Z does).
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

struct CodingRateOptions {
  bool eps_is_squared = false;    // `eps` is eps^2 (the official code's `eps`), not eps
  bool normalize_tokens = false;  // unit-norm tokens (per head and token for R^c) before the rate
};
// The official measurement convention (spec §3), used with eps = kMeasurementEps.
inline constexpr CodingRateOptions kMeasurement{true, true};
inline constexpr double kMeasurementEps = 0.01;  // eps^2 = 0.01, i.e. eps = 0.1

// Z (..., N, d) -> (...)
Tensor coding_rate(const Tensor& z, double eps, const CodingRateOptions& options = {});
// Z (..., N, d), U (K, p, d) -> (...)
Tensor compressed_coding_rate(const Tensor& z, const Tensor& u, double eps, const CodingRateOptions& options = {});
Tensor rate_reduction(const Tensor& z, const Tensor& u, double eps, const CodingRateOptions& options = {});
// sum_j tr(Pi_j)/(2N) logdet(I + d/(tr(Pi_j) eps^2) Z^T Pi_j Z); Z (..., N, d), Pi (J, N) or (..., J, N).
// A class with tr(Pi_j) = 0 contributes 0.
Tensor class_coding_rate(const Tensor& z, const Tensor& pi, double eps, const CodingRateOptions& options = {});
Tensor mcr2_rate_reduction(const Tensor& z, const Tensor& pi, double eps, const CodingRateOptions& options = {});
Tensor sparse_rate_reduction(const Tensor& z, const Tensor& u, double lambda, double eps,
                             const CodingRateOptions& options = {});

// Bounds of one head's rate R_p over n unit-norm tokens of dimension p at scale p/(n eps^2) (spec §3):
//   min = 1/2 ln(1 + p/eps^2), all tokens equal (rank 1);
//   max = (r/2) ln(1 + p/(r eps^2)) with r = min(n, p): r equal Gram eigenvalues n/r; for n >= p
//         this is (p/2) ln(1 + 1/eps^2).
// For CRATE-S (p = 48, K = 12, eps^2 = 0.01) K times these give about 51 and 1329.
struct RateBounds {
  double min = 0.0;
  double max = 0.0;
};
RateBounds head_rate_bounds(std::int64_t n, std::int64_t p, double eps, const CodingRateOptions& options = kMeasurement);

}  // namespace wb::ops
