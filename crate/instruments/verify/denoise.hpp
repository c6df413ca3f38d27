// Claim 3 of `whitebox verify` (crate-spec §2.5): compression as denoising. A step
// Z' = Z - kappa grad_Z R^c(Z | U) on a noisy mixture of K orthogonal p-dimensional subspaces of R^d,
// with the true subspaces and with random ones, measured as the distance ||Z' - X|| / ||Z - X|| to the
// clean tokens X (N, d), tokens as rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/instruments/verify/check.hpp"

namespace wb::crate {

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

std::string format_denoise(const DenoiseResult& r);
nlohmann::json to_json(const DenoiseResult& r);

}  // namespace wb::crate
