// Claim 2 of `whitebox verify` (crate-spec §2.3): MSSA as an approximate gradient step on R^c.
//
// Layout: tokens are rows, Z (N, d) (the papers' Z^T; here, as in the papers, K counts heads and p is
// the subspace dimension, d = K p). Head k's subspace is U_k (d x p, orthonormal columns; the papers'
// U_k), stored as U[k] = U_k^T (p, d) for ops::compressed_coding_rate, so the projected tokens are
// W_k = Z U_k (N, p) and G_k = W_k W_k^T (N x N) is the paper's (U_k^T Z)^T (U_k^T Z). With
// beta = p / (N eps^2) (paper convention, eps the distortion):
//
//   grad_Z R^c  = beta sum_k (I_N + beta G_k)^{-1} W_k U_k^T                (exact, spec §2.2)
//   Neumann     = beta sum_k W_k U_k^T - beta^2 sum_k G_k W_k U_k^T          ((I + beta G)^{-1} ~ I - beta G)
//   softmax     = beta Z - beta^2 sum_k softmax_row(G_k) W_k U_k^T           (= beta Z - beta MSSA(Z | U))
// The Neumann parameter of a sweep point is t = beta max_k ||G_k||_2 (spectral norm).
//
// mssa_vs_gradient compares the exact gradient (autograd through ops::compressed_coding_rate) with
// the Neumann and softmax forms over a sweep of t, with the closed-form prediction of the Neumann
// error from the eigenvalues of C_k = W_k^T W_k (crate::symmetric_eigen), and with the CRATE MSSA
// module (output_map "paper").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/instruments/verify/check.hpp"

namespace wb::crate {

struct MssaOptions {
  std::int64_t dim = 32;             // d = K p
  std::int64_t heads = 4;            // K
  std::int64_t tokens = 64;          // N
  double noise = 0.05;               // sigma of the isotropic noise on the tokens
  double scale = 2.0;                // norm of each token's clean part (unit-sphere coefficients)
  std::vector<double> t_values = {0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0};  // Neumann parameters of the sweep
  std::uint64_t seed = 0;
};
// Cosine similarity and relative error ||a - g|| / ||g|| of an approximation a to the exact gradient g.
struct Agreement {
  double cos = 0.0;
  double rel = 0.0;
};
struct MssaRow {
  double t = 0.0;      // beta max_k ||G_k||_2
  double eps = 0.0;    // the distortion giving that t
  double beta = 0.0;   // p / (N eps^2)
  double closed_form_rel = 0.0;  // autograd gradient vs the closed form (spec §2.2), relative
  Agreement zeroth;    // beta Z alone (the skip connection)
  Agreement neumann;   // first-order Neumann, Gram matrix
  double neumann_predicted = 0.0;  // predicted relative error (eigenvalues of C_k)
  double zeroth_predicted = 0.0;
  Agreement softmax;   // softmax in place of the Gram matrix (the paper's MSSA form)
  // A-priori bound on softmax.rel: t + beta (1 + t) sqrt(N sum_k max_n ||w_nk||^2) / ||Z|| (each row of
  // softmax(G) W is a convex combination of rows of W).
  double softmax_bound = 0.0;
  double correction_cos = 0.0;    // cos(beta Z - grad, beta Z - softmax form): the attention term's direction
  double correction_scale = 0.0;  // ||beta Z - softmax form|| / ||beta Z - grad||: its size
  double rescaled_rel = 0.0;      // min_c ||beta Z - c beta^2 sum_k softmax(G_k) W_k U_k^T - grad|| / ||grad||
  double code_step_cos = 0.0;        // cos(MSSA module output, -grad): the module as the whole step
  double code_correction_cos = 0.0;  // cos(MSSA module output, beta Z - grad)
  double code_z_cos = 0.0;           // cos(MSSA module output, Z) (>= 0 by Chebyshev's sum inequality)
};
struct MssaResult {
  MssaOptions options;
  std::int64_t subspace_dim = 0;       // p = d / K
  double gram_norm = 0.0;              // max_k ||G_k||_2 of the sweep's tokens
  double paper_regime_t = 0.0;         // t for the same tokens rescaled to norm sqrt(d) (LayerNorm), eps 0.1
  std::vector<MssaRow> rows;
};
MssaResult mssa_vs_gradient(const MssaOptions& options);
std::vector<Check> mssa_checks(const MssaResult& r);

std::string format_mssa(const MssaResult& r);
nlohmann::json to_json(const MssaResult& r);

}  // namespace wb::crate
