// Tiny model configurations shared by the crate tests (and tests/compat/make_models.cpp), instead of
// each file filling a CrateConfig field by field. Header-only and free of Boost.Test, so a plain
// executable can use it too.
//
//   tiny_config(shape, dtype, seed, name)  a CrateConfig of the given sizes; every other field (the
//                                          block choices, eta, lambda, pooling) keeps its default
//   resized(base, shape)                   base's block choices at the sizes of shape
//   with_variant(c, "vit")                 one of the block variants by name (kBlockVariants)
//
// Named fixtures (the sizes the tests that use them depend on; keep them exact):
//   gradcheck_config()    4x4 gray images in 2x2 patches (5 tokens), d 4, 2 layers of 2 heads of 2,
//                         3 classes, float64, seed 7: small enough for elementwise gradchecks
//   small_config(dtype)   8x8 images of 2 channels in 4x4 patches (5 tokens), d 8, 2 layers of 2
//                         heads of 4, 3 classes, seed 5
//   small_variant(v)      v's block choices at small_config's sizes in float64, mlp_ratio 2,
//                         overcomplete_ratio 2 (every ablation variant at a gradcheck size)
//   mini28_config()       crate-mini-28 (28x28 gray, Fashion-MNIST's shape, patch 4) at d 8, 2 layers
//                         of 2 heads of 4, seed 3
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "crate/models/registry.hpp"
#include "crate/models/vision/config.hpp"

namespace wbtest {

using wb::crate::CrateConfig;

// The input and the sizes of a tiny model. Designated initializers name only what differs:
//   tiny_config({.image_size = 4, .patch_size = 2, .channels = 1, .dim = 4, .dim_head = 2})
struct TinyShape {
  std::int64_t image_size = 8;
  std::int64_t patch_size = 4;
  std::int64_t channels = 2;
  std::int64_t num_classes = 3;
  std::int64_t dim = 8;
  std::int64_t depth = 2;
  std::int64_t heads = 2;
  std::int64_t dim_head = 4;
};

inline CrateConfig resized(CrateConfig base, const TinyShape& s) {
  base.image_size = s.image_size;
  base.patch_size = s.patch_size;
  base.channels = s.channels;
  base.num_classes = s.num_classes;
  base.dim = s.dim;
  base.depth = s.depth;
  base.heads = s.heads;
  base.dim_head = s.dim_head;
  return base;
}

inline CrateConfig tiny_config(const TinyShape& s = {}, wb::DType dtype = wb::DType::f32, std::uint64_t seed = 0,
                               std::string name = "tiny-test") {
  CrateConfig c = resized(CrateConfig{}, s);
  c.name = std::move(name);
  c.dtype = dtype;
  c.seed = seed;
  return c;
}

// The block variants by name: "crate" (the official block, unchanged), "overcomplete" (CRATE-alpha's
// d x r d dictionary), "alpha" (overcomplete with the residual around ISTA), "learnable" (trained eta
// and lambda), "paper" (the paper's output map), "ista_residual", "vit" (standard attention and MLP),
// "tssa" (ToST's TSSA in place of MSSA, ISTA kept), "tost" (TSSA, MLP, LayerScale 0.5: ToST's block),
// "tost_paper" (the same with TSSA's paper form), and the critique's "attention_only" (no ISTA),
// "negative" (Z - MSSA) and "transposed" (W_o tied to U^T).
inline constexpr std::string_view kBlockVariants[] = {
    "crate", "overcomplete", "alpha", "learnable",  "paper",          "ista_residual", "vit",
    "tssa",  "tost",         "tost_paper",          "attention_only", "negative",      "transposed"};

inline CrateConfig with_variant(CrateConfig c, std::string_view variant) {
  using namespace wb::crate;
  if (variant == "crate") return c;
  if (variant == "overcomplete") {
    c.dictionary = Dictionary::overcomplete;
  } else if (variant == "alpha") {
    c.dictionary = Dictionary::overcomplete;
    c.ista_residual = true;
  } else if (variant == "learnable") {
    c.learnable_ista = true;
  } else if (variant == "paper") {
    c.output_map = OutputMap::paper;
  } else if (variant == "ista_residual") {
    c.ista_residual = true;
  } else if (variant == "attention_only") {  // the critique's experiments (Hu et al. 2024)
    c.mlp = MlpKind::none;
  } else if (variant == "negative") {
    c.mssa_sign = MssaSign::minus;
  } else if (variant == "transposed") {
    c.output_map = OutputMap::transposed;
  } else if (variant == "vit") {
    c.attention = AttentionKind::standard;
    c.mlp = MlpKind::mlp;
  } else if (variant == "tssa") {
    c.attention = AttentionKind::tssa;
  } else if (variant == "tost" || variant == "tost_paper") {
    c.attention = AttentionKind::tssa;
    c.mlp = MlpKind::mlp;
    c.ista_residual = true;
    c.layer_scale = 0.5;
    if (variant == "tost_paper") c.tssa_form = wb::ops::TssaForm::paper;
  } else {
    throw std::invalid_argument("wbtest::with_variant: unknown variant '" + std::string(variant) + "'");
  }
  return c;
}

inline CrateConfig gradcheck_config() {
  return tiny_config({.image_size = 4, .patch_size = 2, .channels = 1, .dim = 4, .dim_head = 2}, wb::DType::f64, 7);
}

inline CrateConfig small_config(wb::DType dtype = wb::DType::f32) { return tiny_config({}, dtype, 5, "small-test"); }

inline CrateConfig small_variant(const CrateConfig& variant) {
  CrateConfig c = resized(variant, TinyShape{});
  c.mlp_ratio = 2;
  c.overcomplete_ratio = 2;
  c.dtype = wb::DType::f64;
  c.seed = 5;
  return c;
}

inline CrateConfig mini28_config() {
  CrateConfig c = resized(wb::crate::named_config("crate-mini-28"), {.image_size = 28, .patch_size = 4, .channels = 1,
                                                                     .num_classes = 10, .dim = 8});
  c.seed = 3;
  return c;
}

}  // namespace wbtest
