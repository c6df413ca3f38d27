// The registry of named model configurations, with their closed-form parameter counts.
//
// crate-tiny/small/base/large (224/16, 1000 classes; crate-spec §1.5), the small ones for 28x28 and
// 32x32 input (patch 4), and vit-* baselines matched to them; tost-mini-28 / tost-mini-32, ToST's block
// (TSSA, GELU MLP, LayerScale; crate-family.md §2.7) at the mini sizes. Later families register theirs here.
//
// Masked autoencoders (crate-spec §6): crate-mae-tiny/small/base/large (224/16, encoder and decoder
// of equal depth), crate-mae-mini-28 / crate-mae-small-28 / crate-mae-mini-32 for 28x28x1 and 32x32x3
// input in 4x4 patches, and vit-mae-* baselines of the same width and depths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crate/models/text/config.hpp"
#include "crate/models/mae/config.hpp"
#include "crate/models/vision/config.hpp"

namespace wb::crate {

CrateConfig named_config(const std::string& name);
std::vector<std::string> config_names();

// Closed-form parameter count of a configuration (spec §1.5), without building the model; throws
// std::overflow_error naming the sizes when it does not fit in 64 bits.
std::int64_t count_parameters(const CrateConfig& c);

// The causal language models (crate/models/text/): crate-gpt-base (60,699,648 at V = 50,304) and
// -medium/-large/-xl (spec §7.1); crate-lm-1l/2l/3l and gpt2-lm-1l/2l/3l, the CRATE-LM paper's table
// (V = 50,257; 6,532,096 / 6,631,424 at 1L without wpe); gpt2-124m (124,439,808); and the small ones
// that train on 2 cores: crate-gpt-d256, crate-lm-d256, gpt2-d256 (d 256, L 6, K 8, T 256, V 8,192), and
// *-tiny (d 64, L 2, K 4, T 64, V 512) for tests. Throws std::invalid_argument naming the known ones.
TextConfig named_text_config(const std::string& name);
std::vector<std::string> text_config_names();
MaeConfig named_mae_config(const std::string& name);
std::vector<std::string> mae_config_names();
// Every tensor of the state_dict (the fixed position tables and the unused decoder_embed included:
// the official counts) and the trainable ones (without those three).
std::int64_t count_parameters(const MaeConfig& c);
std::int64_t count_trainable_parameters(const MaeConfig& c);

}  // namespace wb::crate
