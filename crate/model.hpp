// The CRATE image classifier (crate-spec §1), and the ViT baseline through the same config.
//
//   Z^1    = [z_cls; PatchEmbedding(x)] + E_pos                  (B, n, d), n = N + 1
//   layer l (pre-LN):
//     Z_half  = Z + MSSA(LN1(Z))                                  compression step
//     Z^{l+1} = ISTA(LN2(Z_half))       (no residual, official)   sparsification step
//             = Z_half + ISTA(LN2(Z_half))   with ista_residual (and always for the ViT MLP)
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

#include "crate/attention.hpp"
#include "crate/config.hpp"
#include "crate/ista.hpp"
#include "crate/module.hpp"
#include "crate/patch_embedding.hpp"

namespace wb::crate {

// What a forward pass can record per layer (each a graph tensor, so losses on it backpropagate).
struct LayerTrace {
  Tensor input;  // Z^l
  Tensor ln1;    // LN1(Z^l), the MSSA input
  Tensor qkv;    // U LN1(Z^l), (B, n, K p): what the official measurement hooks (keys for ViT)
  Tensor z_half; // Z^{l+1/2}
  Tensor ln2;    // LN2(Z^{l+1/2}), the ISTA input
  Tensor code;   // the sparse code: the ISTA block's output before any residual (the overcomplete
                 // block's A2, (B, n, r d), not its dense A2 D1^T); for an MLP block its output
  Tensor output; // Z^{l+1} (= code for the official CRATE, which has no residual around ISTA)
  Tensor attention;  // (B, K, n, n) softmax maps
};

class CrateLayer : public Module {
 public:
  CrateLayer(const CrateConfig& c, Generator& gen);
  Tensor forward(const Tensor& z, LayerTrace* trace = nullptr) const;
  const MSSA* mssa() const { return mssa_; }
  const ISTA* ista() const { return ista_; }
  const LayerNorm& ln1() const { return *ln1_; }

 private:
  CrateConfig c_;
  LayerNorm* ln1_;
  LayerNorm* ln2_;
  MSSA* mssa_ = nullptr;
  StandardAttention* attn_ = nullptr;
  ISTA* ista_ = nullptr;
  MLP* mlp_ = nullptr;
};

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
