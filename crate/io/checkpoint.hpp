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

#include "crate/models/vision/config.hpp"
#include "crate/models/vision/classifier.hpp"
#include "crate/io/safetensors.hpp"

namespace wb::crate {

void save_model(const std::string& path, const CrateModel& model, std::map<std::string, std::string> metadata = {});
// Copies the weights of `file` (read from `path`, for messages) into `model`; throws naming every
// missing, unexpected or mis-shaped tensor.
void load_weights(CrateModel& model, const SafeTensors& file, const std::string& path);
// Reads a model file; its config comes from the file's metadata, or from `config` when given (which
// wins, e.g. for weights converted from PyTorch).
std::unique_ptr<CrateModel> load_model(const std::string& path, const std::optional<CrateConfig>& config = {});

}  // namespace wb::crate
