// An unrolled, untrained CRATE-like process that optimizes the sparse rate reduction directly
// (crate-spec §2.3, §2.4). Tokens are rows: Z (N, d) or batched (B, N, d); U (K, p, d) as in
// ops/coding_rate.hpp; paper convention (distortion eps, scales d/(N eps^2) and beta = p/(N eps^2)).
//
// Objective (ops::sparse_rate_reduction, one value per batch element, recorded as the batch mean):
//   F(Z) = R^c(Z | U) + lambda ||Z||_1 - R(Z)
// Layer l, from Z^l:
//   compression     exact:  Z^{l+1/2} = Z^l - kappa grad_Z R^c(Z^l | U)   (autograd through
//                           ops::compressed_coding_rate)
//                   mssa:   Z^{l+1/2} = (1 - kappa beta) Z^l + kappa beta MSSA(Z^l | U), with the paper's
//                           output map MSSA(Z | U) = beta sum_k softmax_row(s W_k W_k^T) W_k U[k],
//                           W_k = Z U[k]^T (spec §2.3 in row form; s the softmax scale, 1/sqrt(p) by
//                           default as crate::MSSA, 1 for the spec's plain softmax of the Gram matrix)
//   sparsification  one ISTA step on  lambda ||A||_1 + 1/2 ||Z^{l+1/2} - A D^T||^2  from A = Z^{l+1/2}:
//                   Z^{l+1} = prox(Z^{l+1/2} + eta (Z^{l+1/2} - Z^{l+1/2} D^T) D),
//                   prox = signed soft threshold sign(x) max(|x| - eta lambda, 0), or the nonnegative
//                   one max(x - eta lambda, 0) (CRATE's ReLU); D (d, d), identity when undefined.
//
// Step sizes that are provably suitable (descent_bounds; derivation in unrolled.cpp):
//   * R^c descent. grad R^c is L_c-Lipschitz with L_c = beta ||U||_2^2 (||U||_2^2 =
//     lambda_max(sum_k U[k]^T U[k])), so by the descent lemma an exact step with kappa <= 1/L_c gives
//     R^c(Z^{l+1/2}) <= R^c(Z^l) - kappa (1 - kappa L_c / 2) ||grad R^c(Z^l)||_F^2.
//   * Objective descent (exact step, D = identity). Every entry of grad R^c is at most
//     g_c = sqrt(K beta) ||U||_2 / 2 in size and every entry of grad R at most g_r = sqrt(d/(N eps^2)) / 2.
//     If lambda > lambda* = g_c + g_r and kappa g_c <= eta lambda, a layer moves every entry towards 0
//     without crossing it, and along that path F falls at rate >= lambda - lambda* per unit of l1
//     movement:  F(Z^{l+1}) <= F(Z^l) - (lambda - lambda*) ||Z^{l+1} - Z^l||_1,  for every layer and
//     every input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::crate {

enum class CompressionStep { exact, mssa };
const char* compression_name(CompressionStep c);  // "exact" / "mssa"

struct UnrolledOptions {
  std::int64_t layers = 8;          // L
  double kappa = 0.5;               // compression step size
  double eta = 0.1;                 // ISTA step size
  double lambda = 0.1;              // sparsity weight
  double eps = 0.5;                 // distortion eps (paper convention)
  CompressionStep compression = CompressionStep::exact;
  bool nonnegative = false;         // ReLU(x - eta lambda) instead of the signed soft threshold
  double softmax_scale = 0.0;       // MSSA softmax temperature s; 0: 1/sqrt(p)
};
// Throws std::invalid_argument naming the bad value.
void validate(const UnrolledOptions& o);

// The objective and its terms at one Z, each the mean over the batch.
struct ObjectiveTerms {
  double rc = 0.0;         // R^c(Z | U)
  double l1 = 0.0;         // ||Z||_1 (lambda not applied)
  double r = 0.0;          // R(Z)
  double objective = 0.0;  // ops::sparse_rate_reduction = rc + lambda l1 - r
  double zeros = 0.0;      // fraction of entries that are exactly 0
};
ObjectiveTerms objective_terms(const Tensor& z, const Tensor& u, double lambda, double eps);

struct LayerRecord {
  std::int64_t layer = 0;  // 1-based
  ObjectiveTerms input, half, output;  // at Z^l, Z^{l+1/2}, Z^{l+1}
  double grad_sq = 0.0;    // ||grad R^c(Z^l)||_F^2 (batch mean)
  double step_l1 = 0.0;    // ||Z^{l+1} - Z^l||_1 (batch mean)
  // Cosine between the compression move Z^l - Z^{l+1/2} and grad R^c(Z^l) over all entries: 1 for the
  // exact step; for MSSA, how well the approximate step follows the gradient (> 0: a descent direction).
  double direction_cos = 0.0;
};

struct UnrolledRun {
  CompressionStep compression = CompressionStep::exact;
  std::vector<LayerRecord> layers;
  Tensor output;  // Z^{L+1}
};

// grad_Z R^c(Z | U) by autograd through ops::compressed_coding_rate (paper convention), Z's shape.
Tensor compressed_rate_gradient(const Tensor& z, const Tensor& u, double eps);
// Z - kappa grad R^c (exact) or (1 - kappa beta) Z + kappa beta MSSA(Z | U) (mssa).
Tensor compression_step(const Tensor& z, const Tensor& u, const UnrolledOptions& o);
// beta sum_k softmax_row(s W_k W_k^T) W_k U[k] with beta = p/(N eps^2), s = softmax_scale (0: 1/sqrt(p)).
Tensor mssa_paper(const Tensor& z, const Tensor& u, double eps, double softmax_scale = 0.0);
// One ISTA step from A = z_half (dictionary undefined: identity).
Tensor ista_step(const Tensor& z_half, const Tensor& dictionary, double eta, double lambda, bool nonnegative);
// lambda ||A||_1 + 1/2 ||z_half - A D^T||_F^2 summed over everything (D undefined: identity).
double lasso_objective(const Tensor& a, const Tensor& z_half, const Tensor& dictionary, double lambda);

// Runs L layers from z0 (not modified). Throws std::invalid_argument on mismatched shapes or options.
UnrolledRun run_unrolled(const Tensor& z0, const Tensor& u, const Tensor& dictionary, const UnrolledOptions& o);

// The constants of the header comment for tokens (N, d) and subspaces u at these options.
struct DescentBounds {
  double beta = 0.0, alpha = 0.0;   // p/(N eps^2), d/(N eps^2)
  double u_norm_sq = 0.0;           // ||U||_2^2
  double lipschitz_rc = 0.0;        // L_c = beta ||U||_2^2
  double kappa_rc = 0.0;            // 1 / L_c: exact steps with kappa <= this lower R^c
  double grad_rc_max = 0.0;         // g_c
  double grad_r_max = 0.0;          // g_r
  double lambda_star = 0.0;         // g_c + g_r
  double kappa_monotone = 0.0;      // eta lambda / g_c
  bool rc_descent = false;          // kappa <= kappa_rc
  bool objective_descent = false;   // identity dictionary, lambda > lambda*, kappa <= kappa_monotone
};
DescentBounds descent_bounds(std::int64_t n_tokens, std::int64_t d, const Tensor& u, const UnrolledOptions& o,
                             bool identity_dictionary);
std::string describe(const DescentBounds& b, const UnrolledOptions& o);

}  // namespace wb::crate
