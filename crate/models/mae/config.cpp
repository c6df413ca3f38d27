#include "crate/models/mae/config.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {

std::span<const char* const> enum_names(MaeBackbone) {
  static constexpr const char* names[] = {"crate", "vit"};
  return names;
}

std::int64_t MaeConfig::kept() const {
  return static_cast<std::int64_t>(static_cast<double>(num_patches()) * (1.0 - mask_ratio));
}

BlockConfig MaeConfig::block() const {
  BlockConfig b = *this;
  if (backbone == MaeBackbone::vit) {
    b.attention = AttentionKind::standard;
    b.mlp = MlpKind::mlp;
  }
  return b;
}

void MaeConfig::validate() const {
  auto fail = [&](const std::string& what) { throw std::invalid_argument(fmt::format("config '{}': {}", name, what)); };
  if (image_size <= 0 || patch_size <= 0 || image_size % patch_size != 0)
    fail(fmt::format("image_size {} must be a positive multiple of patch_size {}", image_size, patch_size));
  if (channels <= 0) fail("channels must be positive");
  if (depth < 0 || decoder_depth < 0) fail("depth and decoder_depth must be >= 0");
  if (!(mask_ratio > 0.0 && mask_ratio < 1.0))
    fail(fmt::format("mask_ratio {} must be in (0, 1) (the fraction of patches masked)", mask_ratio));
  if (kept() < 1 || kept() >= num_patches())
    fail(fmt::format("mask_ratio {} keeps {} of {} patches; at least one must be kept and one masked", mask_ratio,
                     kept(), num_patches()));
  if (dim % 4 != 0) fail(fmt::format("dim {} must be a multiple of 4 (the 2-D sin-cos position table)", dim));
  if (inner_dim() != dim) fail(fmt::format("heads * dim_head = {} must equal dim {}", inner_dim(), dim));
  if (dictionary != Dictionary::complete || output_map != OutputMap::free || learnable_ista || ista_residual ||
      mssa_sign != MssaSign::plus || mlp == MlpKind::none)
    fail("CRATE-MAE uses the official block: complete dictionary, free output map, fixed eta and lambda, no residual");
  if (dropout != 0.0) fail("CRATE-MAE has no dropout");
  BlockConfig::validate(name);
}

nlohmann::json to_json(const MaeConfig& c) {
  return {{"family", "mae"},         {"name", c.name},
          {"image_size", c.image_size}, {"patch_size", c.patch_size},
          {"channels", c.channels},  {"dim", c.dim},
          {"depth", c.depth},        {"decoder_depth", c.decoder_depth},
          {"heads", c.heads},        {"dim_head", c.dim_head},
          {"eta", c.eta},            {"lambda", c.lambda},
          {"ln_eps", c.ln_eps},      {"mask_ratio", c.mask_ratio},
          {"norm_pix", c.norm_pix},  {"backbone", name_of(c.backbone)},
          {"mlp_ratio", c.mlp_ratio}, {"dtype", std::string(dtype_name(c.dtype))},
          {"seed", c.seed}};
}

MaeConfig mae_config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("MAE config: expected a JSON object, got {}", j.type_name()));
  if (!j.contains("family") || !j.at("family").is_string() || j.at("family").get<std::string>() != "mae")
    throw std::invalid_argument(fmt::format(
        "not a CRATE-MAE config: family '{}' (model '{}'); a checkpoint of another model family cannot be loaded as an "
        "MAE",
        j.contains("family") ? j.at("family").dump() : std::string("classifier"),
        j.contains("name") ? j.at("name").dump() : std::string("?")));
  MaeConfig c;
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(fmt::format("MAE config: key '{}' has the wrong type ({})", key, j.at(key).dump()));
    }
  };
  get("name", c.name);
  get("image_size", c.image_size);
  get("patch_size", c.patch_size);
  get("channels", c.channels);
  get("dim", c.dim);
  get("depth", c.depth);
  get("decoder_depth", c.decoder_depth);
  get("heads", c.heads);
  get("dim_head", c.dim_head);
  get("eta", c.eta);
  get("lambda", c.lambda);
  get("ln_eps", c.ln_eps);
  get("mask_ratio", c.mask_ratio);
  get("norm_pix", c.norm_pix);
  get("mlp_ratio", c.mlp_ratio);
  get("seed", c.seed);
  if (j.contains("backbone")) {
    std::string s;
    get("backbone", s);
    c.backbone = enum_from_name<MaeBackbone>(s, "backbone");
  }
  if (j.contains("dtype")) {
    std::string s;
    get("dtype", s);
    if (s == "f32") c.dtype = DType::f32;
    else if (s == "f64") c.dtype = DType::f64;
    else throw std::invalid_argument(fmt::format("MAE config: dtype '{}' is not f32 or f64", s));
  }
  c.validate();
  return c;
}

}  // namespace wb::crate
