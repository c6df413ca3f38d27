// CrateConfig: the CRATE image classifier (or its ViT baseline) as one config value: the block
// choices of BlockConfig (blocks/config.hpp) plus the input, the depth and the head.
//
// Defaults follow the official implementation (crate-spec §1): 224 x 224 RGB input in 16 x 16
// patches, 12 layers of the default block, class-token pooling. Named configurations live in
// models/registry.hpp.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "crate/blocks/config.hpp"

namespace wb::crate {

enum class Pool { cls, mean };  // the class token | the mean of all n tokens
std::span<const char* const> enum_names(Pool);

struct CrateConfig : BlockConfig {
  std::string name = "custom";
  // input
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;  // P
  std::int64_t channels = 3;
  std::int64_t num_classes = 1000;  // C
  std::int64_t depth = 12;       // L
  Pool pool = Pool::cls;
  std::uint64_t seed = 0;        // initialization seed

  std::int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
  std::int64_t tokens() const { return num_patches() + 1; }  // n = N + 1 with the class token
  std::int64_t patch_dim() const { return patch_size * patch_size * channels; }
  // Throws std::invalid_argument naming the first inconsistent field.
  void validate() const;
};

nlohmann::json to_json(const CrateConfig& c);
// Reads what to_json writes (missing keys keep their defaults) and validates it.
CrateConfig config_from_json(const nlohmann::json& j);

}  // namespace wb::crate
