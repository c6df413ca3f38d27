// The CRATE image classifier (crate-spec §1), and the ViT baseline through the same config.
//
//   Z^1    = [z_cls; PatchEmbedding(x)] + E_pos                  (B, n, d), n = N + 1
//   layer l: CrateLayer (blocks/layer.hpp), MSSA then ISTA, pre-LN
//   logits = W_h LN_h(z_cls) + b_h       (pool "mean": the mean of all n tokens)
//
// Parameter names equal the official PyTorch CRATE state_dict (spec Appendix B):
//   pos_embedding, cls_token, to_patch_embedding.{1,2,3}.*, transformer.layers.{l}.0.norm.*,
//   transformer.layers.{l}.0.fn.qkv.weight, transformer.layers.{l}.0.fn.to_out.0.*,
//   transformer.layers.{l}.1.norm.*, transformer.layers.{l}.1.fn.weight, mlp_head.{0,1}.*
// Initialization (spec §1.4): Linear U(-1/sqrt(fan_in), +); D kaiming-uniform; LayerNorm (1, 0);
// class token and positions N(0, 1); drawn in registration order from Generator(config.seed).
#pragma once

#include <memory>
#include <vector>

#include "crate/blocks/layer.hpp"
#include "crate/models/vision/config.hpp"
#include "crate/models/vision/patch_embedding.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class CrateModel : public Module {
 public:
  explicit CrateModel(const CrateConfig& c);
  const CrateConfig& config() const { return c_; }

  // images (B, C, H, W) -> logits (B, classes). `trace` (optional) receives one entry per layer.
  Tensor forward(const Tensor& images, std::vector<LayerTrace>* trace = nullptr) const;
  // Tokens after the last layer, (B, n, d).
  Tensor features(const Tensor& images, std::vector<LayerTrace>* trace = nullptr) const;
  Tensor head(const Tensor& tokens) const;

  const std::vector<CrateLayer*>& layers() const { return layers_; }
  Generator& dropout_generator() const { return dropout_gen_; }

 private:
  CrateConfig c_;
  Tensor* pos_;
  Tensor* cls_;
  PatchEmbedding* embed_;
  std::vector<CrateLayer*> layers_;
  LayerNorm* head_ln_;
  Linear* head_linear_;
  mutable Generator dropout_gen_;
};

}  // namespace wb::crate
