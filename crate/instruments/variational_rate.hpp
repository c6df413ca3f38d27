// R^var_c, ToST's variational compressed coding rate (Wu et al., ICLR 2025; crate-family.md §2.7),
// the quantity TSSA is a gradient step on, in the official measurement convention (crate-spec §3):
//   R^var_c(W, Pi) = 1/2 sum_k (n_k / n) sum_i log(1 + (p / eps^2) x_ki),
//   x_ki = sum_j Pi_jk w^_jki^2 / n_k,   n_k = sum_j Pi_jk,
// per batch element, with w^_jk head k's p-dim projection of token j normalised to unit length and
// eps^2 = e2 (0.01 for the measurement, ops::kMeasurementEps). w: the (B, n, K p) projected features
// (a layer's `qkv` trace); assignment: (B, n, K), or undefined for Pi = 1 (every token in every
// subspace: then, by Hadamard's inequality, R^var_c >= R^c of the same features). With a Pi that sums
// to 1 over heads the maximum is (p / 2) ln(1 + 1 / eps^2) (ToST's 110.7 at p = 48, eps^2 = 0.01).
// Measurement only: computed in float64, no graph. Returns (B).
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::crate {

Tensor variational_rate(const Tensor& w, const Tensor& assignment, std::int64_t heads, double e2);

}  // namespace wb::crate
