// `whitebox rate FEATURES`: coding rates, rate reduction, MCR^2, sparsity and the sparse rate reduction
// objective of any network's features read from a safetensors, .npy or .npz file, layer by layer
// (crate/instruments/rate.hpp), to a terminal table, CSV, JSON and a PNG figure.
#include <memory>

#include <fmt/format.h>

#include "crate/instruments/rate.hpp"
#include "crate/io/numpy.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct RateFlags {
  std::string file, out, label, subspaces_file;
  crate::FeatureSelection sel;
  crate::RateOptions opt;
  double eps = ops::kMeasurementEps;
  bool eps_plain = false, raw_tokens = false, plot = true;
  int threads = 0;
};
}  // namespace

void add_rate_command(CLI::App& app) {
  auto flags = std::make_shared<RateFlags>();
  RateFlags& f = *flags;
  auto* cmd = app.add_subcommand(
      "rate", "R, R^c, rate reduction, MCR^2, sparsity and the sparse rate reduction of features from a file "
              "(safetensors, .npy, .npz), layer by layer");
  cmd->add_option("FEATURES", f.file, "safetensors, .npy or .npz file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--features", f.sel.features,
                  "arrays to measure, in layer order (repeatable; default: every float array not named by "
                  "--labels/--subspaces). (L,B,N,d): a stack; (B,N,d): one layer of B samples; (S,d): one layer, one "
                  "group of S tokens");
  cmd->add_option("--layout", f.sel.layout, "a rank-3 array is 'samples' (B,N,d) or 'layers' (L,S,d)")
      ->check(CLI::IsMember({"samples", "layers"}))
      ->capture_default_str();
  cmd->add_option("--token", f.sel.token, "take token I of every sample (e.g. 0, a class token): one group of B vectors")
      ->check(NonNegative);
  cmd->add_flag("--mean-tokens", f.sel.mean_tokens, "average the tokens of every sample: one group of B vectors");
  cmd->add_option("--labels", f.sel.labels, "integer array of labels, one per token of a group (MCR^2; --fit pca)");
  cmd->add_option("--subspaces", f.sel.subspaces, "array of subspaces U, (K,p,d) or (L,K,p,d), rows spanning each");
  cmd->add_option("--subspaces-file", f.subspaces_file, "file holding --subspaces (default: FEATURES)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--fit", f.opt.fit, "fit U per layer: 'pca' (per class of --labels) or 'clusters' (spherical k-means)")
      ->check(CLI::IsMember({"pca", "clusters"}));
  cmd->add_option("--clusters", f.opt.clusters, "K for --fit clusters")->check(Positive);
  cmd->add_option("--dim", f.opt.subspace_dim, "dimension p of fitted subspaces (default d / K)")->check(Positive);
  cmd->add_option("--seed", f.opt.seed, "seed of the k-means start")->check(Seed)->capture_default_str();
  cmd->add_option("--eps", f.eps, "distortion: eps^2 by default (the official measurement's 'eps')")
      ->check(Positive)
      ->capture_default_str();
  cmd->add_flag("--eps-plain", f.eps_plain, "--eps is eps, not eps^2 (the papers' R_eps)");
  cmd->add_flag("--raw-tokens", f.raw_tokens, "do not normalize tokens to unit norm (per head for R^c)");
  cmd->add_option("--lambda", f.opt.lambda, "lambda of the sparse rate reduction objective")
      ->check(NonNegative)
      ->capture_default_str();
  cmd->add_option("--zero-tol", f.opt.zero_tol, "an entry counts as zero when |z| <= tol")->check(NonNegative)->capture_default_str();
  cmd->add_option("--out", f.out, "output prefix: <out>.csv, <out>.json, <out>.png (default: no files)");
  cmd->add_option("--label", f.label, "label of the measurement (default: the file)");
  cmd->add_flag("!--no-plot", f.plot, "do not write the PNG");
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->callback([flags] {
    RateFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    f.opt.eps = f.eps;
    f.opt.convention = {!f.eps_plain, !f.raw_tokens};
    crate::NamedArrays arrays = crate::read_array_file(f.file);
    if (!f.subspaces_file.empty()) {
      if (f.sel.subspaces.empty()) throw std::invalid_argument("rate: --subspaces-file needs --subspaces NAME");
      for (auto& a : crate::read_array_file(f.subspaces_file)) {
        if (a.first == f.sel.subspaces) arrays.push_back(std::move(a));
      }
    }
    const crate::FeatureSet fs = crate::select_features(arrays, f.file, f.sel);
    const crate::Measurement m = crate::rate_features(fs, f.opt, f.label.empty() ? f.file : f.label);
    fmt::print("{} layer{}: {}\n", fs.layers.size(), fs.layers.size() == 1 ? "" : "s", fmt::join(fs.layer_names, ", "));
    fmt::print("{}", crate::format_rate_table(m, f.opt));
    if (!f.out.empty()) {
      crate::write_rates(f.out, m, f.opt, f.plot);
      fmt::print("wrote {0}.csv, {0}.json{1}\n", f.out, f.plot ? fmt::format(", {}.png", f.out) : "");
    }
  });
}

}  // namespace wb::cli
