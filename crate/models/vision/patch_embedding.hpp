// Patch embedding f^pre (crate-spec §1.1), exactly as the official code:
//   patchify   (B, C, H, W) -> (B, N, P*P*C), patches in row-major order, each flattened as
//              (row in patch, column in patch, channel) with the channel fastest
//              (einops `b c (h p1) (w p2) -> b (h w) (p1 p2 c)`)
//   embed      x_i = LN_b(W_e LN_a(patch_i) + b_e)   (LN over P*P*C, a Linear, LN over d)
// Parameter names follow the official `to_patch_embedding` Sequential: index 0 is the rearrange
// (no parameters), 1 = LN_a, 2 = Linear, 3 = LN_b.
#pragma once

#include "crate/models/vision/config.hpp"
#include "crate/nn/layer_norm.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

// Differentiable patchify of (B, C, H, W) images into (B, N, P*P*C) patch vectors.
Tensor patchify(const Tensor& images, std::int64_t patch);

class PatchEmbedding : public Module {
 public:
  PatchEmbedding(const CrateConfig& c, Generator& gen);
  Tensor forward(const Tensor& images) const;  // (B, C, H, W) -> (B, N, d)

 private:
  std::int64_t patch_;
  LayerNorm* ln_a_;
  Linear* linear_;
  LayerNorm* ln_b_;
};

}  // namespace wb::crate
