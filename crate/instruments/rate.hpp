// Coding rates of any network's features (`whitebox rate`): the exact operators of ops/coding_rate.hpp
// on hidden states read from a file (safetensors, .npy, .npz; crate/io/numpy.hpp), layer by layer.
//
// Features. Each layer is a stack of groups Z_b (N tokens x d), b = 1..B; every rate is computed per
// group and reported as mean and standard deviation over the groups, as `whitebox measure` does over
// images. The arrays of a file become layers as follows:
//   (L, B, N, d)   one array: L layers of B samples of N tokens
//   (B, N, d)      one layer of B samples (layout "samples", the default), or L layers of S samples
//                  each one token-vector, pooled into one group (layout "layers": (L, S, d))
//   (S, d)         one layer, one group of S tokens (the MCR^2 setting: samples are the tokens)
// Several arrays are several layers, in file order, each of rank 2 or 3. `token` (take one token of each
// sample, e.g. 0 for a class token) or `mean_tokens` turns (B, N, d) layers into one group of B tokens.
//
// Quantities per layer (the conventions are RateOptions: eps, eps_is_squared, normalize_tokens; the
// defaults are the official measurement convention of crate-spec §3, ops::kMeasurement):
//   r        R(Z)                          coding rate
//   rc       R^c(Z | U^l)                  compressed rate against the layer's subspaces
//   delta_r  R - R^c                       rate reduction
//   mcr2     R - sum_j tr(Pi_j)/(2N) logdet(I + d/(tr(Pi_j) eps^2) Z^T Pi_j Z)   with labels (Pi one-hot)
//   nonzero  #(|z| > zero_tol) / (N d)     fraction of non-zeros (exact zeros by default)
//   l1       ||Z||_1 / (N d)
//   srr      R^c + lambda ||Z||_1 - R      the sparse rate reduction objective (||Z||_1 unnormalized)
// The subspaces U^l (K, p, d) come from the file (one (K, p, d) array for every layer, or (L, K, p, d)),
// or are fitted per layer on all its tokens: PCA per class of the labels (subspace_fit.hpp), or PCA
// per cluster of a seeded spherical k-means (k-means++ start). Without subspaces rc, delta_r and srr
// are left out.
//
// Bad input is an std::invalid_argument naming the file, the array and the index: a non-finite value,
// layers that differ in width or in their number of samples or tokens, labels or subspaces whose shape
// does not fit the features, an array named that the file lacks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crate/instruments/layer_stack.hpp"
#include "crate/instruments/measure.hpp"
#include "crate/io/numpy.hpp"
#include "ops/coding_rate.hpp"

namespace wb::crate {

struct FeatureSelection {
  std::vector<std::string> features;  // array names; empty: every float array not named below
  std::string labels;                 // integer array: one label per token of a group, or per sample
  std::string subspaces;              // float array (K, p, d) or (L, K, p, d)
  std::string layout = "samples";     // how a rank-3 feature array is read: "samples" or "layers"
  std::int64_t token = -1;            // >= 0: take this token of every sample
  bool mean_tokens = false;           // average the tokens of every sample
};

struct FeatureSet {
  std::string file;
  std::vector<std::string> layer_names;  // "h" or "h[3]"
  std::vector<Tensor> layers;            // each (B, N, d) float64, contiguous
  Tensor labels;                         // (B, N) int64, or undefined
  std::vector<Tensor> subspaces;         // one (K, p, d) float64 per layer, or empty
};

// Picks and checks the arrays (see above). `file` names the source in errors.
FeatureSet select_features(const NamedArrays& arrays, const std::string& file, const FeatureSelection& selection);

struct RateOptions {
  double eps = ops::kMeasurementEps;
  ops::CodingRateOptions convention = ops::kMeasurement;
  double lambda = 0.1;                // of the srr objective
  std::string fit;                    // "" (subspaces from the file, or none), "pca" (per class), "clusters"
  std::int64_t subspace_dim = 0;      // p of fitted subspaces; 0: d / K
  std::int64_t clusters = 0;          // K of "clusters"
  std::uint64_t seed = 0;             // of the k-means start
  double zero_tol = 0.0;
};

// The quantities present in a measurement of rate_features, in report order.
std::vector<std::string> rate_quantities(const Measurement& m);
// Measurement.images is the number of groups B; values as measure.hpp's Stat (unbiased std).
Measurement rate_features(const FeatureSet& features, const RateOptions& options, const std::string& label);
// Labels (B*N) int64 of a seeded spherical k-means with k-means++ start on the rows of z (M, d).
Tensor spherical_kmeans(const Tensor& z, std::int64_t clusters, std::uint64_t seed, int iterations = 50);

// Terminal table; <prefix>.csv, <prefix>.json (with the convention), <prefix>.png (rates and sparsity
// against layer, error bars = std over groups).
std::string format_rate_table(const Measurement& m, const RateOptions& options);
void write_rates(const std::string& prefix, const Measurement& m, const RateOptions& options, bool plot = true);

// The features `whitebox measure --dump-features` writes for `whitebox rate`: over every batch of one
// forward pass per batch, the stacks "input" (Z^l), "ln1", "z_half", "output", "code" (L, B, n, d),
// "qkv" (L, B, n, K p) and "subspaces" (L, K, p, d) of the layers, in float64.
NamedArrays collect_layer_features(LayerStack layers, const std::vector<std::vector<LayerTrace>>& batches);

}  // namespace wb::crate
