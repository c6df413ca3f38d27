// The registry of named model configurations, with their closed-form parameter counts.
//
// crate-tiny/small/base/large (224/16, 1000 classes; crate-spec §1.5), the small ones for 28x28 and
// 32x32 input (patch 4), and vit-* baselines matched to them. Later families register theirs here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crate/models/vision/config.hpp"

namespace wb::crate {

CrateConfig named_config(const std::string& name);
std::vector<std::string> config_names();

// Closed-form parameter count of a configuration (spec §1.5), without building the model; throws
// std::overflow_error naming the sizes when it does not fit in 64 bits.
std::int64_t count_parameters(const CrateConfig& c);

}  // namespace wb::crate
