// Layer-by-layer sparse rate reduction of a trained (or untrained) CRATE, as the paper plots it.
//
// For every layer l and every image, with U^l the layer's subspaces (CrateLayer::subspaces(): MSSA's U
// as (K, p, d); for standard attention, the key projection) and the official measurement convention of
// crate-spec §3 (eps^2 = 0.01 passed as eps, each token's p-dim head projection normalized to unit
// norm, n = N + 1 tokens including the class token; ops::kMeasurement):
//   rc_in    R^c(LN1(Z^l) | U^l)       what the official hook measures (Q = U LN1(Z^l)), the paper's
//                                      y-axis "R^c(Z^l) [SSA block]"
//   rc_half  R^c(Z^{l+1/2} | U^l)      the quantity the paper's caption names (MSSA output)
//   rc_out   R^c(Z^{l+1} | U^l)        compression of the layer output
//   r_out    R(Z^{l+1})                coding rate of the layer output (unit-norm tokens)
//   delta_r  r_out - rc_out            rate reduction of the layer output
//   nonzero  ||A^l||_0 / (n d)         fraction of non-zeros of the ISTA block's output A^l (exact
//                                      zeros; the paper plots this, lower is sparser). A^l = Z^{l+1}
//                                      for the official CRATE; with a residual around ISTA (variants)
//                                      it is the block's code, before the residual adds Z^{l+1/2}
//   l1       ||A^l||_1 / (n d)         mean absolute entry of the code
//   srr      rc_out + lambda ||Z^{l+1}||_1 - r_out   the sparse rate reduction objective a layer
//                                      lowers (ops::sparse_rate_reduction; lambda from the config)
//   rvar_c   R^var_c(LN1(Z^l), Pi | U^l)  ToST's variational upper bound of R^c on the same features as
//                                      rc_in: 1/2 sum_k (n_k/n) sum_i log(1 + (p/eps^2) x_ki), x_ki =
//                                      sum_j Pi_jk w^_jki^2 / n_k, n_k = sum_j Pi_jk, w^ the unit-norm
//                                      per-head projections. Pi is the TSSA layer's assignment (sums to
//                                      1 over heads, so its maximum is (p/2) ln(1 + 1/eps^2), ToST's
//                                      110.7 at p = 48); for MSSA and standard attention Pi = 1 (every
//                                      token in every subspace), where by Hadamard's inequality
//                                      rvar_c >= rc_in
// Each is reported as mean and standard deviation over the images.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/instruments/layer_stack.hpp"
#include "crate/models/text/text_model.hpp"
#include "crate/models/vision/classifier.hpp"
#include "datasets/loader.hpp"

namespace wb::crate {

// The quantities, in report order.
const std::vector<std::string>& measure_quantities();

struct Stat {
  double mean = 0.0, std = 0.0;
};
struct LayerMeasure {
  std::int64_t layer = 0;  // 1-based
  std::map<std::string, Stat> values;
};
struct Measurement {
  std::string label;  // e.g. the checkpoint path or "epoch 3"
  std::int64_t images = 0;           // samples measured: images, or token windows for a text model
  std::string samples = "images";    // what `images` counts ("images" or "windows")
  bool class_token = true;           // whether each sample's tokens include a class token
  std::vector<LayerMeasure> layers;
};

// Per-image values of every quantity: values[q][layer][image].
using LayerValues = std::map<std::string, std::vector<std::vector<double>>>;
// The quantities of a stack of CRATE layers (any model's: encoder, decoder or causal stack) from one
// forward pass's traces (one per layer, each (B, n, d) with B images): U^l = layers[l]->subspaces(),
// the rc_in head selectors from layers[l]->config() (K heads of width p), lambda from its config.
// Throws std::invalid_argument when layers and traces differ in length.
LayerValues measure_layers(LayerStack layers, const std::vector<LayerTrace>& traces);
// The same from each layer's block choices and U^l (K, p, d), for stacks whose layers are not
// CrateLayer modules (the causal text models: TextModel::layer_configs(), layer_subspaces()).
LayerValues measure_layers(const std::vector<BlockConfig>& configs, const std::vector<Tensor>& subspaces,
                           const std::vector<LayerTrace>& traces);
// measure_layers on the traces of model.features(images) (no graph; the model's current mode).
LayerValues measure_batch(const CrateModel& model, const Tensor& images);
// Runs the model over one epoch of `loader` in evaluation mode (a ModeGuard: the caller's mode is
// restored, also on an exception), without a graph, and reduces over images.
Measurement measure(CrateModel& model, data::Loader& loader, const std::string& label);
// The same for any model holding a stack of CRATE layers: `forward` runs one batch and fills one
// trace per layer of `layers` (in evaluation mode under `model`'s ModeGuard, without a graph).
using TraceForward = std::function<void(const data::Batch& batch, std::vector<LayerTrace>& traces)>;
Measurement measure(Module& model, LayerStack layers, data::Loader& loader, const std::string& label,
                    const TraceForward& forward);
// A causal text model over token windows (datasets/text/windows.hpp): every window of T tokens is
// one sample (`images` counts windows, samples = "windows"), n = T tokens per sample, no class token.
Measurement measure(TextModel& model, data::Loader& loader, const std::string& label);

nlohmann::json to_json(const Measurement& m);
Measurement measurement_from_json(const nlohmann::json& j);
// The measurements of a log with one JSON record per line (train --measure-every's
// measurements.jsonl); throws std::runtime_error naming the file and line of a bad record, or the file
// when it cannot be read.
std::vector<Measurement> read_measurement_log(const std::string& path);
// Writes <prefix>.csv (one row per checkpoint and layer), <prefix>.json and <prefix>.png (compression
// and sparsity against layer, one curve per measurement, error bars = std over images).
void write_measurements(const std::string& prefix, const std::vector<Measurement>& ms, bool plot = true);
// Plain-text table of one measurement (what `whitebox measure` prints).
std::string format_table(const Measurement& m);

}  // namespace wb::crate
