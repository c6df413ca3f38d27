// The registry of named model configurations, with their closed-form parameter counts.
//
// crate-tiny/small/base/large (224/16, 1000 classes; crate-spec §1.5), the small ones for 28x28 and
// 32x32 input (patch 4), and vit-* baselines matched to them. Later families register theirs here.
//
// Masked autoencoders (crate-spec §6): crate-mae-tiny/small/base/large (224/16, encoder and decoder
// of equal depth), crate-mae-mini-28 / crate-mae-small-28 / crate-mae-mini-32 for 28x28x1 and 32x32x3
// input in 4x4 patches, and vit-mae-* baselines of the same width and depths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crate/models/mae/config.hpp"
#include "crate/models/vision/config.hpp"

namespace wb::crate {

CrateConfig named_config(const std::string& name);
std::vector<std::string> config_names();

// Closed-form parameter count of a configuration (spec §1.5), without building the model.
std::int64_t count_parameters(const CrateConfig& c);

MaeConfig named_mae_config(const std::string& name);
std::vector<std::string> mae_config_names();
// Every tensor of the state_dict (the fixed position tables and the unused decoder_embed included:
// the official counts) and the trainable ones (without those three).
std::int64_t count_parameters(const MaeConfig& c);
std::int64_t count_trainable_parameters(const MaeConfig& c);

}  // namespace wb::crate
