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

}  // namespace

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

}  // namespace wb::crate
