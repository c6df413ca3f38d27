#include "crate/models/vision/config.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {

std::span<const char* const> enum_names(Pool) {
  static constexpr const char* names[] = {"cls", "mean"};
  return names;
}

void CrateConfig::validate() const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("config '{}': {}", name, what));
  };
  if (image_size <= 0 || patch_size <= 0 || image_size % patch_size != 0)
    fail(fmt::format("image_size {} must be a positive multiple of patch_size {}", image_size, patch_size));
  if (channels <= 0 || num_classes <= 0) fail("channels and num_classes must be positive");
  if (depth < 0) fail("depth must be >= 0");
  const std::int64_t side = image_size / patch_size;
  std::int64_t n = 0;
  if (__builtin_mul_overflow(side, side, &n) || __builtin_mul_overflow(patch_size, patch_size, &n) ||
      __builtin_mul_overflow(n, channels, &n))
    fail(fmt::format("image_size {}, patch_size {} and channels {} give more patches or patch values than fit in 64 "
                     "bits",
                     image_size, patch_size, channels));
  BlockConfig::validate(name);
}

nlohmann::json to_json(const CrateConfig& c) {
  return {{"name", c.name},           {"image_size", c.image_size},   {"patch_size", c.patch_size},
          {"channels", c.channels},   {"num_classes", c.num_classes}, {"dim", c.dim},
          {"depth", c.depth},         {"heads", c.heads},             {"dim_head", c.dim_head},
          {"eta", c.eta},             {"lambda", c.lambda},           {"pool", name_of(c.pool)},
          {"ln_eps", c.ln_eps},       {"dropout", c.dropout},         {"dtype", std::string(dtype_name(c.dtype))},
          {"seed", c.seed},           {"attention", name_of(c.attention)}, {"mlp", name_of(c.mlp)},
          {"mlp_ratio", c.mlp_ratio}, {"ista_residual", c.ista_residual}, {"learnable_ista", c.learnable_ista},
          {"output_map", name_of(c.output_map)}, {"paper_eps", c.paper_eps}, {"dictionary", name_of(c.dictionary)},
          {"overcomplete_ratio", c.overcomplete_ratio}, {"tssa_form", name_of(c.tssa_form)},
          {"layer_scale", c.layer_scale}, {"mssa_sign", name_of(c.mssa_sign)}};
}

CrateConfig config_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw std::invalid_argument(fmt::format("model config: expected a JSON object, got {}", j.type_name()));
  CrateConfig c;
  auto wrong_type = [&](const char* key, const nlohmann::json::exception& e) {
    return std::invalid_argument(fmt::format("key '{}' has the wrong type ({}: {}) ({})", key, j.at(key).type_name(),
                                             j.at(key).dump(), e.what()));
  };
  auto get = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    try {
      j.at(key).get_to(field);
    } catch (const nlohmann::json::exception& e) {
      throw wrong_type(key, e);
    }
  };
  auto get_enum = [&](const char* key, auto& field) {
    if (!j.contains(key)) return;
    std::string name;
    get(key, name);
    field = enum_from_name<std::remove_reference_t<decltype(field)>>(name, key);
  };
  try {
    get("name", c.name);
    get("image_size", c.image_size);
    get("patch_size", c.patch_size);
    get("channels", c.channels);
    get("num_classes", c.num_classes);
    get("dim", c.dim);
    get("depth", c.depth);
    get("heads", c.heads);
    get("dim_head", c.dim_head);
    get("eta", c.eta);
    get("lambda", c.lambda);
    get_enum("pool", c.pool);
    get("ln_eps", c.ln_eps);
    get("dropout", c.dropout);
    get("seed", c.seed);
    get_enum("attention", c.attention);
    get_enum("mlp", c.mlp);
    get("mlp_ratio", c.mlp_ratio);
    get("ista_residual", c.ista_residual);
    get("learnable_ista", c.learnable_ista);
    get_enum("output_map", c.output_map);
    get("paper_eps", c.paper_eps);
    get_enum("dictionary", c.dictionary);
    get("overcomplete_ratio", c.overcomplete_ratio);
    get_enum("tssa_form", c.tssa_form);
    get("layer_scale", c.layer_scale);
    get_enum("mssa_sign", c.mssa_sign);
    if (j.contains("dtype")) {
      std::string s;
      get("dtype", s);
      if (s == "f32") c.dtype = DType::f32;
      else if (s == "f64") c.dtype = DType::f64;
      else throw std::invalid_argument(fmt::format("dtype '{}' is not f32 or f64", s));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("model config: {}", e.what()));
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("model config '{}': {}", c.name, e.what()));
  }
  c.validate();
  return c;
}

}  // namespace wb::crate
