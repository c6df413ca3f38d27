#include "crate/models/registry.hpp"

#include <stdexcept>

#include <fmt/format.h>

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
  c.attention = AttentionKind::standard;
  c.mlp = MlpKind::mlp;
  c.ista_residual = true;  // ViT: residual around the MLP
  return c;
}

// ToST's block in CRATE's classifier skeleton (class token, CRATE's patch embedding and head; not
// XCiT's convolutional stem and class-attention blocks): TSSA, then a GELU MLP of 4 d, each behind a
// residual with LayerScale initialised to 1 (ToST's 12-layer value), LN eps 1e-6.
CrateConfig as_tost(CrateConfig c, const char* name) {
  c.name = name;
  c.attention = AttentionKind::tssa;
  c.mlp = MlpKind::mlp;
  c.ista_residual = true;
  c.layer_scale = 1.0;
  c.ln_eps = 1e-6;
  return c;
}

MaeConfig mae(const char* name, std::int64_t image, std::int64_t patch, std::int64_t channels, std::int64_t d,
              std::int64_t depth, std::int64_t heads, MaeBackbone backbone = MaeBackbone::crate) {
  MaeConfig c;
  c.name = name;
  c.image_size = image;
  c.patch_size = patch;
  c.channels = channels;
  c.dim = d;
  c.depth = depth;
  c.decoder_depth = depth;
  c.heads = heads;
  c.dim_head = d / heads;
  c.backbone = backbone;
  return c;
}

}  // namespace

MaeConfig named_mae_config(const std::string& name) {
  using B = MaeBackbone;
  if (name == "crate-mae-tiny") return mae("crate-mae-tiny", 224, 16, 3, 384, 12, 6);
  if (name == "crate-mae-small") return mae("crate-mae-small", 224, 16, 3, 576, 12, 12);
  if (name == "crate-mae-base") return mae("crate-mae-base", 224, 16, 3, 768, 12, 12);
  if (name == "crate-mae-large") return mae("crate-mae-large", 224, 16, 3, 1024, 24, 16);
  // 28x28x1 in 4x4 patches (N = 49, 12 kept at r = 0.75): d = 96, 4 + 4 layers, 4 heads of 24 trains
  // in minutes per epoch on 2 cores; d = 192 with 3 heads of 64 is crate-family.md §2.1's CPU idea.
  if (name == "crate-mae-mini-28") return mae("crate-mae-mini-28", 28, 4, 1, 96, 4, 4);
  if (name == "crate-mae-small-28") return mae("crate-mae-small-28", 28, 4, 1, 192, 4, 3);
  if (name == "crate-mae-mini-32") return mae("crate-mae-mini-32", 32, 4, 3, 96, 4, 4);
  if (name == "vit-mae-mini-28") return mae("vit-mae-mini-28", 28, 4, 1, 96, 4, 4, B::vit);
  if (name == "vit-mae-small-28") return mae("vit-mae-small-28", 28, 4, 1, 192, 4, 3, B::vit);
  if (name == "vit-mae-mini-32") return mae("vit-mae-mini-32", 32, 4, 3, 96, 4, 4, B::vit);
  std::string known;
  for (const auto& n : mae_config_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(fmt::format("unknown MAE config '{}' (known: {})", name, known));
}

std::vector<std::string> mae_config_names() {
  return {"crate-mae-tiny",    "crate-mae-small",   "crate-mae-base",   "crate-mae-large",  "crate-mae-mini-28",
          "crate-mae-small-28", "crate-mae-mini-32", "vit-mae-mini-28", "vit-mae-small-28", "vit-mae-mini-32"};
}

std::int64_t count_trainable_parameters(const MaeConfig& c) {
  const std::int64_t d = c.dim, cp = c.patch_dim();
  const BlockConfig b = c.block();
  const std::int64_t decoder_layer =
      c.backbone == MaeBackbone::vit ? count_layer_parameters(b) : 4 * d + d * d + 2 * d * d + d;  // LNs, D~, MSSA
  return (cp * d + d) + 2 * d                  // patch embedding; cls and mask tokens
         + c.depth * count_layer_parameters(b) + 2 * d  // encoder, norm
         + c.decoder_depth * decoder_layer + 2 * d      // decoder, decoder_norm
         + (d * cp + cp);                               // decoder_pred
}

std::int64_t count_parameters(const MaeConfig& c) {
  return count_trainable_parameters(c) + 2 * c.tokens() * c.dim + (c.dim * c.dim + c.dim);
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
  if (name == "tost-mini-28") return as_tost(mini("tost-mini-28", 28, 1), "tost-mini-28");
  if (name == "tost-mini-32") return as_tost(mini("tost-mini-32", 32, 3), "tost-mini-32");
  std::string known;
  for (const auto& n : config_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(fmt::format("unknown model config '{}' (known: {})", name, known));
}

std::vector<std::string> config_names() {
  return {"crate-tiny", "crate-small", "crate-base", "crate-large", "crate-mini-28", "crate-mini-32",
          "vit-tiny",   "vit-small",   "vit-mini-28", "vit-mini-32", "tost-mini-28", "tost-mini-32"};
}

namespace {
template <class N>
N model_parameters_as(const CrateConfig& c, N per_layer) {
  const N d = static_cast<N>(c.dim), side = static_cast<N>(c.image_size / c.patch_size),
          dp = static_cast<N>(c.patch_size) * static_cast<N>(c.patch_size) * static_cast<N>(c.channels),
          classes = static_cast<N>(c.num_classes);
  const N fixed = 2 * dp + (dp * d + d) + 2 * d  // LN_a, Linear, LN_b
                  + (side * side + 1) * d + d    // positions, class token
                  + 2 * d + classes * d + classes;  // head
  return fixed + static_cast<N>(c.depth) * per_layer;
}
}  // namespace

std::int64_t count_parameters(const CrateConfig& c) {
  if (c.patch_size <= 0 || model_parameters_as<double>(c, approx_layer_parameters(c)) >= 0x1p62)
    throw std::overflow_error(fmt::format("config '{}': the parameter count (image_size {}, patch_size {}, channels {}, "
                                          "dim {}, depth {}, heads {}, dim_head {}, num_classes {}) does not fit in 64 "
                                          "bits",
                                          c.name, c.image_size, c.patch_size, c.channels, c.dim, c.depth, c.heads,
                                          c.dim_head, c.num_classes));
  return model_parameters_as<std::int64_t>(c, count_layer_parameters(c));
}

namespace {

TextConfig text_cfg(TextFamily f, std::int64_t v, std::int64_t t, std::int64_t d, std::int64_t l, std::int64_t k) {
  TextConfig c;
  c.family = f;
  c.vocab_size = v;
  c.block_size = t;
  c.dim = d;
  c.depth = l;
  c.heads = k;
  return c;
}

const std::vector<std::pair<std::string, TextConfig>>& text_configs() {
  using F = TextFamily;
  static const std::vector<std::pair<std::string, TextConfig>> all = {
      {"crate-gpt-base", text_cfg(F::crate_gpt, 50304, 1024, 768, 12, 12)},
      {"crate-gpt-medium", text_cfg(F::crate_gpt, 50304, 1024, 1024, 24, 16)},
      {"crate-gpt-large", text_cfg(F::crate_gpt, 50304, 1024, 1280, 36, 20)},
      {"crate-gpt-xl", text_cfg(F::crate_gpt, 50304, 1024, 1600, 48, 25)},
      {"crate-lm-1l", text_cfg(F::crate_lm, 50257, 1024, 128, 1, 4)},
      {"crate-lm-2l", text_cfg(F::crate_lm, 50257, 1024, 128, 2, 4)},
      {"crate-lm-3l", text_cfg(F::crate_lm, 50257, 1024, 128, 3, 4)},
      {"gpt2-lm-1l", text_cfg(F::gpt2, 50257, 1024, 128, 1, 4)},
      {"gpt2-lm-2l", text_cfg(F::gpt2, 50257, 1024, 128, 2, 4)},
      {"gpt2-lm-3l", text_cfg(F::gpt2, 50257, 1024, 128, 3, 4)},
      {"gpt2-124m", text_cfg(F::gpt2, 50257, 1024, 768, 12, 12)},
      {"crate-gpt-d256", text_cfg(F::crate_gpt, 8192, 256, 256, 6, 8)},
      {"crate-lm-d256", text_cfg(F::crate_lm, 8192, 256, 256, 6, 8)},
      {"gpt2-d256", text_cfg(F::gpt2, 8192, 256, 256, 6, 8)},
      {"crate-gpt-tiny", text_cfg(F::crate_gpt, 512, 64, 64, 2, 4)},
      {"crate-lm-tiny", text_cfg(F::crate_lm, 512, 64, 64, 2, 4)},
      {"gpt2-tiny", text_cfg(F::gpt2, 512, 64, 64, 2, 4)},
  };
  return all;
}

}  // namespace

TextConfig named_text_config(const std::string& name) {
  for (const auto& [n, c] : text_configs())
    if (n == name) return c;
  std::string known;
  for (const auto& [n, c] : text_configs()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(fmt::format("unknown text model config '{}' (known: {})", name, known));
}

std::vector<std::string> text_config_names() {
  std::vector<std::string> out;
  for (const auto& [n, c] : text_configs()) out.push_back(n);
  return out;
}

}  // namespace wb::crate
