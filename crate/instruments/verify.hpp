// Numerical checks of the CRATE derivation (crate-spec §2.3, §2.4, §2.5), as plain numbers.
// `whitebox verify` prints them; docs/derivation.md walks through them.
//
// Layout: tokens are rows, Z (N, d) (the papers' Z^T). Head k's subspace is U_k (d x p, orthonormal
// columns; the papers' U_k), stored as U[k] = U_k^T (p, d) for ops::compressed_coding_rate, so the
// projected tokens are W_k = Z U_k (N, p) and G_k = W_k W_k^T (N x N) is the paper's
// (U_k^T Z)^T (U_k^T Z). With beta = p / (N eps^2) (paper convention, eps the distortion):
//
//   grad_Z R^c  = beta sum_k (I_N + beta G_k)^{-1} W_k U_k^T                (exact, spec §2.2)
//   Neumann     = beta sum_k W_k U_k^T - beta^2 sum_k G_k W_k U_k^T          ((I + beta G)^{-1} ~ I - beta G)
//   softmax     = beta Z - beta^2 sum_k softmax_row(G_k) W_k U_k^T           (= beta Z - beta MSSA(Z | U))
// The Neumann parameter of a sweep point is t = beta max_k ||G_k||_2 (spectral norm).
//
// 1. ista_prox_check: the ISTA block (crate/ista.hpp) against one proximal-gradient step of the
//    nonnegative LASSO lambda ||A||_1 + 1/2 ||Z - D A||^2 from A = Z, written from its definition
//    (gradient step on the smooth part, then the prox ReLU(. - eta lambda)) with prim:: ops in the
//    column form of spec §2.4.
// 2. mssa_vs_gradient: the exact gradient (autograd through ops::compressed_coding_rate) against the
//    Neumann and softmax forms over a sweep of t, with the closed-form prediction of the Neumann error
//    from the eigenvalues of C_k = W_k^T W_k, and the CRATE MSSA module (output_map "paper").
// 3. denoising_check: a step Z' = Z - kappa grad_Z R^c(Z | U) on a noisy subspace mixture, with the
//    true subspaces and with random ones, measured as the distance to the clean tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/models/vision/config.hpp"
#include "tensor/dtype.hpp"

namespace wb::crate {

// One verdict line: what was checked, whether it held, and the numbers behind it.
struct Check {
  std::string name;
  bool pass = false;
  std::string detail;
};
bool all_pass(const std::vector<Check>& checks);

// ---------------------------------------------------------------------------------------------
// 1. ISTA = one proximal-gradient step (spec §2.4)
struct IstaProxOptions {
  std::int64_t dim = 64;     // d
  std::int64_t tokens = 50;  // n per batch element
  std::int64_t batch = 2;    // B
  double eta = 0.1;
  double lambda = 0.1;
  std::uint64_t seed = 0;
  // The block variant (crate/blocks/config.hpp): dictionary complete (one step from A = Z, above) or
  // "overcomplete" (CRATE-alpha: two steps of the nonnegative LASSO lambda ||A||_1 + 1/2 ||z - D A||^2
  // from A = 0, then the output dictionary D1 A), learnable_ista (eta, lambda as parameters, at their
  // initial values). dim, eta and lambda above override the config's.
  Dictionary dictionary = Dictionary::complete;
  std::int64_t overcomplete_ratio = 4;
  bool learnable_ista = false;
};
// The options for a model configuration's ISTA block (its d, eta, lambda and variant switches).
IstaProxOptions ista_options_for(const CrateConfig& c);
struct IstaProxResult {
  DType dtype = DType::f64;
  double max_abs_diff = 0.0;   // max |ISTA(X) - prox step| over all entries
  double error_bound = 0.0;    // a-priori rounding bound on that difference (see ista_prox_check)
  double max_abs_value = 0.0;  // max |ISTA(X)|, for scale
  double zero_fraction = 0.0;  // exact zeros of the output (the threshold is active)
  double eta_lipschitz = 0.0;  // eta ||D^T D||_2: the step is a descent step of the LASSO when <= 1
};
// Runs in `dtype` (f32 or f64): the ISTA block and the independent step in the same precision.
// The bound: each side evaluates two dot products of length d in a row plus a few scalar operations,
// so each entry's rounding error is at most gamma_m (|z| + eta |D^T| (|z| + |D| |z|) + eta lambda)
// (column form) with gamma_m = m u / (1 - m u), m = 2d + 8, u the unit roundoff; the difference of the
// two results is at most twice that (the ReLU is 1-Lipschitz).
IstaProxResult ista_prox_check(const IstaProxOptions& options, DType dtype);

// ---------------------------------------------------------------------------------------------
// 2. MSSA as an approximate gradient step on R^c (spec §2.3)
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

// ---------------------------------------------------------------------------------------------
// 3. Compression as denoising (spec §2.5)
struct DenoiseOptions {
  std::int64_t dim = 64;     // d = K p
  std::int64_t heads = 4;    // K
  std::vector<std::int64_t> token_counts = {32, 256};  // N: fewer / more tokens per subspace than p
  // The distortion, in units of the noise in one subspace: eps = eps_per_noise * sigma * sqrt(p).
  // At 1, beta times the variance N sigma^2 of a noise-only direction is 1.
  double eps_per_noise = 1.0;
  std::vector<double> sigmas = {0.02, 0.05, 0.1};      // noise per coordinate
  std::vector<double> steps = {0.1, 0.5, 1.0};         // kappa beta: the step as a multiple of 1/beta
  std::uint64_t seed = 0;
};
struct DenoiseRow {
  std::int64_t tokens = 0;
  double sigma = 0.0;
  double step = 0.0;           // kappa beta
  double ratio_true = 0.0;     // ||Z' - X|| / ||Z - X|| with the true subspaces
  double ratio_random = 0.0;   // the same with random orthonormal subspaces
  double ratio_shrink = 0.0;   // the same for Z' = (1 - c) Z with ||c Z|| = ||kappa grad|| (true U): shrinking only
  double ratio_best_shrink = 0.0;  // min_a ||a Z - X|| / ||Z - X||: the best any uniform shrink can do
  double beta = 0.0;           // p / (N eps^2): beta times a unit-norm token's eigenvalue
  double ratio_oracle = 0.0;   // each noisy token projected onto its own true subspace (a reference)
};
struct DenoiseResult {
  DenoiseOptions options;
  std::int64_t subspace_dim = 0;
  std::vector<DenoiseRow> rows;
};
DenoiseResult denoising_check(const DenoiseOptions& options);
std::vector<Check> denoise_checks(const DenoiseResult& r);

std::vector<Check> ista_checks(const std::vector<IstaProxResult>& r);

// Plain-text sections, as `whitebox verify` prints them.
std::string format_ista(const std::vector<IstaProxResult>& r, const IstaProxOptions& o);
std::string format_mssa(const MssaResult& r);
std::string format_denoise(const DenoiseResult& r);
std::string format_checks(const std::string& claim, const std::vector<Check>& checks);

nlohmann::json to_json(const IstaProxResult& r);
nlohmann::json to_json(const MssaResult& r);
nlohmann::json to_json(const DenoiseResult& r);
nlohmann::json to_json(const std::vector<Check>& checks);

}  // namespace wb::crate
