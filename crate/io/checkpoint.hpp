// Model checkpoints in safetensors, loadable by the official PyTorch CRATE.
//
// A model file holds exactly the official state_dict (names and layouts of crate-spec Appendix B,
// Linear weights (out, in) row-major), so `model.load_state_dict(safetensors.torch.load_file(path),
// strict=True)` works in PyTorch, plus the whitebox configuration as JSON in the metadata entry
// "whitebox.config". Loading is strict in the same way: every parameter present with its shape,
// nothing unexpected; values are converted to the model's dtype. Files written by the official code
// (no "whitebox.config") load when the caller names the configuration.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crate/models/vision/config.hpp"
#include "crate/models/vision/classifier.hpp"
#include "crate/io/safetensors.hpp"

namespace wb::crate {

void save_model(const std::string& path, const CrateModel& model, std::map<std::string, std::string> metadata = {});

// strict: every parameter present with its shape and nothing unexpected; partial: the tensors whose
// name and shape match are loaded and the rest are listed (at least one must load).
enum class LoadMode { strict, partial };
struct LoadReport {
  std::int64_t loaded = 0;
  std::vector<std::string> skipped;  // "missing 'x' (64)", "unexpected 'y'", "'z' is (3) in the file, ..."
};
// Copies the weights of `file` (read from `path`, for messages) into any module tree (`what` names
// the model in messages). strict throws std::runtime_error naming every missing, unexpected or
// mis-shaped tensor (the first 12, then a count); so does partial when nothing matches; and either
// throws naming the first tensor that holds a non-finite value.
LoadReport load_weights(Module& model, const std::string& what, const SafeTensors& file, const std::string& path,
                        LoadMode mode = LoadMode::strict);
LoadReport load_weights(CrateModel& model, const SafeTensors& file, const std::string& path,
                        LoadMode mode = LoadMode::strict);
// The configuration in a model file's "whitebox.config" metadata; throws std::runtime_error naming the
// file when it has none (weights saved by another program) or it does not parse.
CrateConfig checkpoint_config(const std::string& path);
// Throws std::runtime_error naming the file, `source` (where the configuration came from) and the
// sizes when the closed-form parameter count of `c` exceeds the number of values the file holds: a
// strict load would fail, and building the model first could allocate without bound. (When it fits,
// building costs no more than the file, and load_weights names any tensor that does not match.)
void check_config_fits_file(const CrateConfig& c, const SafeTensors& file, const std::string& path,
                            const std::string& source);
// The first tensor of `tensors` holding a NaN or an infinity, as "'name' holds nan at index 12 (of 96)";
// empty when every value is finite (integer tensors always are). Loading refuses such weights: a run
// that diverged is not evaluated, resumed or fine-tuned from.
std::string describe_nonfinite(const NamedTensors& tensors);
// Reads a model file; its config comes from the file's metadata, or from `config` when given (which
// wins, e.g. for weights converted from PyTorch). The config is checked against the tensors
// (check_config_fits_file) before the model is built.
// `config_source` says where a given config came from in that check's message (default: "given by
// the caller").
std::unique_ptr<CrateModel> load_model(const std::string& path, const std::optional<CrateConfig>& config = {},
                                       const std::string& config_source = {});

}  // namespace wb::crate
