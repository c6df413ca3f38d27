// The `whitebox optimize` experiment: the unrolled process of crate/unrolled.hpp on data, once with
// exact gradient steps on R^c and once with MSSA steps, from the same tokens, subspaces and dictionary.
//
// Data:
//   synthetic      one (N, d) token matrix from datasets/subspaces.hpp: K random p-dimensional
//                  subspaces, unit-norm coefficients (each clean token has norm 1) plus N(0, noise^2 I_d)
//                  noise; labels = the subspace each token was drawn on.
//   fashion-mnist  the first `images_per_class` test images of each of the 10 classes, normalized with the
//                  training-set mean/std, cut into P x P patches (B images, N = (28/P)^2 tokens of P^2
//                  values each: Z is (B, N, P^2)), optionally multiplied by one fixed Gaussian
//                  (P^2, d) / sqrt(d) projection, then scaled by one constant so the mean squared token
//                  norm is 1. A token's label is its image's class (K = 10 clusters). Rates are per image.
// Subspaces (K, p, d): "true" (synthetic only), "pca" (fit_pca_subspaces on the tokens and labels) or
// "random" (random_subspaces). Dictionary: "identity" or "orthogonal" (a random orthogonal d x d).
// Randomness: data from Generator(seed); random subspaces and dictionary from their own streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/instruments/unrolled.hpp"

namespace wb::crate {

struct OptimizeOptions {
  std::string data = "synthetic";       // synthetic | fashion-mnist
  std::string subspaces = "pca";        // true | pca | random
  std::string dictionary = "identity";  // identity | orthogonal
  UnrolledOptions process;              // `compression` is ignored: both variants run
  std::uint64_t seed = 0;
  std::int64_t subspace_dim = 8;        // p
  // synthetic
  std::int64_t dim = 32;                // d
  std::int64_t num_subspaces = 4;       // K
  std::int64_t tokens = 256;            // N
  double noise = 0.05;
  // fashion-mnist
  std::string data_dir;                 // default: /usr/share/datasets/fashion-mnist
  std::int64_t images_per_class = 2;
  std::int64_t patch = 7;               // P (divides 28)
  std::int64_t project_dim = 0;         // d after the random projection; 0: no projection (d = P^2)
};
// Throws std::invalid_argument naming the flag-level problem.
void validate(const OptimizeOptions& o);

struct OptimizeProblem {
  Tensor tokens;          // (N, d) or (B, N, d), f64
  Tensor labels;          // one i64 per token, row-major
  Tensor subspaces;       // (K, p, d) used by the process
  Tensor true_subspaces;  // (K, p, d) for synthetic data, else undefined
  Tensor dictionary;      // (d, d), undefined for the identity
  std::string description;
};
OptimizeProblem make_problem(const OptimizeOptions& o);

struct OptimizeResult {
  OptimizeOptions options;
  std::string description;
  DescentBounds bounds;  // for the exact process
  std::vector<double> min_principal_cosine;  // per subspace, used vs true (synthetic only)
  UnrolledRun exact, mssa;
};
OptimizeResult optimize(const OptimizeOptions& o);

// The per-half-step table printed by the command (exact and MSSA side by side), with the bounds.
std::string format_optimize_table(const OptimizeResult& r);
// Layers l (1-based) where the objective rose: F(Z^{l+1}) > F(Z^l).
std::vector<std::int64_t> objective_increases(const UnrolledRun& run);
nlohmann::json to_json(const OptimizeResult& r);
// <prefix>.csv (one row per variant and half-step), <prefix>.json and, with plot, <prefix>.png (objective,
// R^c - R, R^c, R and lambda ||Z||_1 against layer, exact vs MSSA; the compression half-step of layer l is
// drawn at l - 1/2, its output at l, the input at 0).
void write_optimize(const std::string& prefix, const OptimizeResult& r, bool plot = true);

}  // namespace wb::crate
