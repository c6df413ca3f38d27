// Synthetic mixture of subspaces: the data model behind the coding-rate objective of CRATE.
//
// K random p-dimensional subspaces of R^d (the letters of the CRATE papers; in model code K subspaces
// are the K heads and p is the head width), each with an orthonormal basis U_k (d x p, U_k^T U_k = I_p,
// from a Gaussian matrix orthonormalized by modified Gram-Schmidt, run twice, in double). Token n has
// a membership label l_n in [0, K) and is drawn on its subspace:
//   clean_n  = U_{l_n} c_n,                 c_n in R^p
//   tokens_n = clean_n + sigma * e_n,       e_n ~ N(0, I_d) (isotropic noise)
// with coefficients c_n ~ N(0, scale^2 I_p) (Coefficients::gaussian) or c_n uniform on the sphere of
// radius `scale` (Coefficients::unit_norm). Everything is computed in double and cast to the requested
// dtype at the end. The draws come from the given wb::Generator in a fixed order (bases, labels,
// coefficients, noise), so (options, generator state) fixes the result on every machine.
#pragma once

#include <cstdint>

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::data {

enum class Coefficients { gaussian, unit_norm };

struct SubspaceMixtureOptions {
  std::int64_t ambient_dim = 32;   // d
  std::int64_t num_subspaces = 4;  // K
  std::int64_t subspace_dim = 4;   // p (<= d)
  std::int64_t num_tokens = 256;   // N
  double noise = 0.0;              // sigma >= 0
  Coefficients coefficients = Coefficients::gaussian;
  double scale = 1.0;              // std of each coefficient (gaussian) or norm of c_n (unit_norm)
  // Mutually orthogonal subspaces (U_j^T U_k = 0 for j != k; needs K p <= d) instead of independent
  // random ones, which overlap slightly.
  bool orthogonal = false;
  // Balanced: subspace k gets floor or ceil of N/K tokens, in a random order; else labels are iid
  // uniform over [0, K).
  bool balanced = true;
  DType dtype = DType::f64;  // of tokens, clean and bases (f32 or f64)
};

struct SubspaceMixture {
  Tensor tokens;  // (N, d): clean tokens plus noise
  Tensor clean;   // (N, d): tokens before the noise, each in its subspace
  Tensor bases;   // (K, d, p): bases[k] = U_k, orthonormal columns
  Tensor labels;  // (N) i64: the subspace each token was drawn on
  Tensor basis(std::int64_t k) const;  // U_k as a (d, p) view of `bases`
};

SubspaceMixture make_subspace_mixture(const SubspaceMixtureOptions& options, Generator& gen);

// A random d x p matrix with orthonormal columns (Gaussian, then modified Gram-Schmidt twice), f64.
Tensor random_orthonormal(std::int64_t d, std::int64_t p, Generator& gen);

}  // namespace wb::data
