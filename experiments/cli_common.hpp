// Flags shared by several `whitebox` subcommands: the model configuration (a named config plus
// overrides and variant switches) and the thread count.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "crate/models/registry.hpp"
#include "crate/models/vision/classifier.hpp"

namespace wb::cli {

// Readable range checks (CLI11's built-in ones print the whole double range).
extern const CLI::Validator Positive;     // > 0
extern const CLI::Validator NonNegative;  // >= 0

// Integer flags: a whole number in [lo, hi], so that an out-of-range value is named rather than
// clamped (CLI11 turns 1e30 into INT64_MAX) or wrapped (-1 into a huge unsigned value).
CLI::Validator IntRange(std::int64_t lo, std::int64_t hi);
extern const CLI::Validator Threads;    // [0, 1024]; 0: all cores
extern const CLI::Validator Epochs;     // [1, 1e6]
extern const CLI::Validator BatchSize;  // [1, 1e7]
extern const CLI::Validator Count;      // [0, 1e12]: limits, steps, sizes
extern const CLI::Validator Seed;       // an unsigned 64-bit integer, no sign

// Accepts exactly the names of a config enum (crate::enum_names), the names its JSON uses.
template <class E>
CLI::Validator one_of() {
  const auto names = crate::enum_names(E{});
  return CLI::IsMember(std::vector<std::string>(names.begin(), names.end()));
}

struct ModelFlags {
  std::string name = "crate-mini-28";
  std::optional<std::int64_t> dim, depth, heads, dim_head, patch, image_size, classes;
  std::optional<double> eta, lambda, layer_scale;
  std::optional<std::string> pool, attention, mlp, mssa_sign, output_map, dictionary, tssa_form;
  bool ista_residual = false, learnable_ista = false;
  bool f64 = false;

  // Flags whose --model has no default: the configuration then comes from a checkpoint's metadata
  // (eval, logits, grads) or from the command's own default setup (verify).
  static ModelFlags without_default() {
    ModelFlags m;
    m.name.clear();
    return m;
  }
  // Adds --model and the override flags to `app`.
  void add(CLI::App& app, bool with_default = true);
  // The named config with the overrides applied and validated.
  crate::CrateConfig resolve() const;
  bool any_override() const;
};

// The masked autoencoder of `train --task mae` / `mae-grads`: --model names an MAE config
// (crate-mae-*, vit-mae-*; the classifier default crate-mini-28 means crate-mae-mini-28); --f64,
// --eta, --lambda, --depth (both halves), --dim, --heads, --dim-head, --patch, --image-size apply,
// and the MAE's own flags.
struct MaeFlags {
  std::optional<double> mask_ratio;
  bool norm_pix = false;
  crate::MaeConfig resolve(const ModelFlags& model) const;
};

// The model of a checkpoint for eval, logits, measure and grads: without --model its configuration
// comes from the file's metadata (--f64 may still switch it to float64; other overrides need --model
// to name the base configuration); with --model, the named configuration and its overrides.
std::unique_ptr<crate::CrateModel> load_checkpoint_model(const std::string& path, const ModelFlags& flags,
                                                         const char* command);

}  // namespace wb::cli
