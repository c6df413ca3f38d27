#include "crate/config.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {
namespace {

CrateConfig imagenet(const char* name, std::int64_t d, std::int64_t depth, std::int64_t heads) {
  CrateConfig c;
  c.name = name;
  c.dim = d;
  c.depth = depth;
  c.heads = heads;
  c.dim_head = d / heads;
  return c;
}

CrateConfig mini(const char* name, std::int64_t image, std::int64_t channels) {
  // d = 96, 6 layers, 4 heads of 24, 4x4 patches: trains in minutes per epoch on 2 cores
  // (docs/performance-notes: ~100 MFLOP per training image at 28x28).
  CrateConfig c;
  c.name = name;
  c.image_size = image;
  c.patch_size = 4;
  c.channels = channels;
  c.num_classes = 10;
  c.dim = 96;
  c.depth = 6;
  c.heads = 4;
  c.dim_head = 24;
  return c;
}

CrateConfig as_vit(CrateConfig c, const char* name) {
  c.name = name;
  c.attention = "standard";
  c.mlp = "mlp";
  c.ista_residual = true;  // ViT: residual around the MLP
  return c;
}

}  // namespace

void CrateConfig::validate() const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("config '{}': {}", name, what));
  };
  if (image_size <= 0 || patch_size <= 0 || image_size % patch_size != 0)
    fail(fmt::format("image_size {} must be a positive multiple of patch_size {}", image_size, patch_size));
  if (channels <= 0 || num_classes <= 0) fail("channels and num_classes must be positive");
  if (dim <= 0 || depth < 0 || heads <= 0 || dim_head <= 0) fail("dim, heads and dim_head must be positive");
  if (pool != "cls" && pool != "mean") fail(fmt::format("pool must be 'cls' or 'mean', got '{}'", pool));
  if (attention != "mssa" && attention != "standard")
    fail(fmt::format("attention must be 'mssa' or 'standard', got '{}'", attention));
  if (mlp != "ista" && mlp != "mlp") fail(fmt::format("mlp must be 'ista' or 'mlp', got '{}'", mlp));
  if (output_map != "free" && output_map != "paper")
    fail(fmt::format("output_map must be 'free' or 'paper', got '{}'", output_map));
  if (output_map == "paper" && (attention != "mssa" || inner_dim() != dim))
    fail("the paper's output map needs attention 'mssa' and heads * dim_head == dim");
  if (dictionary != "complete" && dictionary != "overcomplete")
    fail(fmt::format("dictionary must be 'complete' or 'overcomplete', got '{}'", dictionary));
  if (dictionary == "overcomplete" && mlp != "ista") fail("the overcomplete dictionary is an ISTA variant (mlp 'ista')");
  if (eta <= 0.0 || lambda < 0.0) fail(fmt::format("eta {} must be > 0 and lambda {} >= 0", eta, lambda));
  if (dropout < 0.0 || dropout >= 1.0) fail(fmt::format("dropout {} must be in [0, 1)", dropout));
  if (!is_floating(dtype)) fail("dtype must be f32 or f64");
}

CrateConfig named_config(const std::string& name) {
  if (name == "crate-tiny") return imagenet("crate-tiny", 384, 12, 6);
  if (name == "crate-small") return imagenet("crate-small", 576, 12, 12);
  if (name == "crate-base") return imagenet("crate-base", 768, 12, 12);
  if (name == "crate-large") return imagenet("crate-large", 1024, 24, 16);
  if (name == "crate-mini-28") return mini("crate-mini-28", 28, 1);
  if (name == "crate-mini-32") return mini("crate-mini-32", 32, 3);
  if (name == "vit-tiny") return as_vit(imagenet("vit-tiny", 192, 12, 3), "vit-tiny");
  if (name == "vit-small") return as_vit(imagenet("vit-small", 384, 12, 6), "vit-small");
  if (name == "vit-mini-28") return as_vit(mini("vit-mini-28", 28, 1), "vit-mini-28");
  if (name == "vit-mini-32") return as_vit(mini("vit-mini-32", 32, 3), "vit-mini-32");
  std::string known;
  for (const auto& n : config_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(fmt::format("unknown model config '{}' (known: {})", name, known));
}

std::vector<std::string> config_names() {
  return {"crate-tiny", "crate-small", "crate-base", "crate-large", "crate-mini-28", "crate-mini-32",
          "vit-tiny",   "vit-small",   "vit-mini-28", "vit-mini-32"};
}

std::int64_t count_parameters(const CrateConfig& c) {
  const std::int64_t d = c.dim, kp = c.inner_dim();
  std::int64_t layer = 4 * d;  // two LayerNorms
  if (c.attention == "mssa") {
    layer += kp * d;                                   // U (qkv, no bias)
    if (c.output_map == "free") layer += d * kp + d;   // W_o, b_o
  } else {
    layer += 3 * (kp * d + kp) + d * kp + d;           // q, k, v with bias; out projection
  }
  if (c.mlp == "ista") {
    const std::int64_t atoms = c.dictionary == "overcomplete" ? c.overcomplete_ratio * d : d;
    layer += c.dictionary == "overcomplete" ? 2 * d * atoms : d * d;
    if (c.learnable_ista) layer += 2;
  } else {
    const std::int64_t h = c.mlp_ratio * d;
    layer += d * h + h + h * d + d;
  }
  const std::int64_t dp = c.patch_dim();
  const std::int64_t fixed = 2 * dp + (dp * d + d) + 2 * d  // LN_a, Linear, LN_b
                             + c.tokens() * d + d           // positions, class token
                             + 2 * d + c.num_classes * d + c.num_classes;  // head
  return fixed + c.depth * layer;
}

nlohmann::json to_json(const CrateConfig& c) {
  return {{"name", c.name},           {"image_size", c.image_size},   {"patch_size", c.patch_size},
          {"channels", c.channels},   {"num_classes", c.num_classes}, {"dim", c.dim},
          {"depth", c.depth},         {"heads", c.heads},             {"dim_head", c.dim_head},
          {"eta", c.eta},             {"lambda", c.lambda},           {"pool", c.pool},
          {"ln_eps", c.ln_eps},       {"dropout", c.dropout},         {"dtype", std::string(dtype_name(c.dtype))},
          {"seed", c.seed},           {"attention", c.attention},     {"mlp", c.mlp},
          {"mlp_ratio", c.mlp_ratio}, {"ista_residual", c.ista_residual}, {"learnable_ista", c.learnable_ista},
          {"output_map", c.output_map}, {"paper_eps", c.paper_eps},   {"dictionary", c.dictionary},
          {"overcomplete_ratio", c.overcomplete_ratio}};
}

CrateConfig config_from_json(const nlohmann::json& j) {
  CrateConfig c;
  auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) j.at(key).get_to(field);
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
    get("pool", c.pool);
    get("ln_eps", c.ln_eps);
    get("dropout", c.dropout);
    get("seed", c.seed);
    get("attention", c.attention);
    get("mlp", c.mlp);
    get("mlp_ratio", c.mlp_ratio);
    get("ista_residual", c.ista_residual);
    get("learnable_ista", c.learnable_ista);
    get("output_map", c.output_map);
    get("paper_eps", c.paper_eps);
    get("dictionary", c.dictionary);
    get("overcomplete_ratio", c.overcomplete_ratio);
    if (j.contains("dtype")) {
      const auto s = j.at("dtype").get<std::string>();
      if (s == "f32") c.dtype = DType::f32;
      else if (s == "f64") c.dtype = DType::f64;
      else throw std::invalid_argument(fmt::format("dtype '{}' is not f32 or f64", s));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("model config: {}", e.what()));
  }
  c.validate();
  return c;
}

}  // namespace wb::crate
