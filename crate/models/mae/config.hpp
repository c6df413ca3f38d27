// MaeConfig: the CRATE masked autoencoder (crate-spec §6, crate-family.md §2.1) or its ViT-MAE
// baseline as one config value: the block choices of BlockConfig (blocks/config.hpp, shared by the
// encoder and decoder layers, which have equal width) plus the input, the two depths and the masking.
//
// Defaults follow the official `model/crate_ae` code: 224 x 224 RGB in 16 x 16 patches, 12 + 12
// layers, ISTA eta 0.1 and lambda 0.5 (not the classifier's 0.1), mask ratio 0.75, the plain pixel
// target. backbone "vit" swaps every layer for a standard pre-LN transformer block (attention with
// separate q, k, v, a GELU MLP of 4 d, residuals around both) in encoder and decoder, on the same
// all-token path: the CRATE repository's own "ViT-MAE" (crate-family.md §0.6).
// Named configurations live in models/registry.hpp.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "crate/blocks/config.hpp"

namespace wb::crate {

enum class MaeBackbone { crate, vit };
std::span<const char* const> enum_names(MaeBackbone);

struct MaeConfig : BlockConfig {
  MaeConfig() { lambda = 0.5; }
  std::string name = "custom";
  std::int64_t image_size = 224;
  std::int64_t patch_size = 16;  // P
  std::int64_t channels = 3;
  std::int64_t depth = 12;          // encoder layers L
  std::int64_t decoder_depth = 12;  // decoder layers
  double mask_ratio = 0.75;         // r: the fraction of patches replaced by the mask token
  bool norm_pix = false;            // per-patch normalized target (unbiased variance, + 1e-6)
  MaeBackbone backbone = MaeBackbone::crate;
  std::uint64_t seed = 0;  // initialization seed

  std::int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }  // N
  std::int64_t tokens() const { return num_patches() + 1; }  // n = N + 1 with the class token
  std::int64_t patch_dim() const { return patch_size * patch_size * channels; }
  // Patches kept visible per image: int(N (1 - r)), the official truncation (49 of 196 at r = 0.75).
  std::int64_t kept() const;
  // The block configuration of every layer (encoder and decoder): the ViT swaps for backbone vit.
  BlockConfig block() const;
  // Throws std::invalid_argument naming the first inconsistent field.
  void validate() const;
};

nlohmann::json to_json(const MaeConfig& c);  // with "family": "mae"
// Reads what to_json writes (missing keys keep their defaults) and validates it; a config of another
// family (no or another "family" key) is refused with a message naming it.
MaeConfig mae_config_from_json(const nlohmann::json& j);

}  // namespace wb::crate
