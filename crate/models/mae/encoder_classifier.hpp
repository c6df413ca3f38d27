// The CRATE-MAE encoder with a classification head, for linear probes and fine-tuning of a pretrained
// masked autoencoder (`train --task mae-classify --init-from <mae>/model.safetensors [--freeze ...]`):
//   Z^1    = [cls; patches(img) W_pe^T + b_pe] + E_pos     (no mask: every patch is seen)
//   tokens = norm(encoder layers(Z^1))                     (the MAE's encoder, names and all)
//   logits = head(tokens[:, 0])                            (`head`, a Linear d -> classes)
// Its tensors carry the MAE's names (cls_token, pos_embed, patch_embed.proj.*, blocks.*, norm.*), so
// an MAE checkpoint loads into it with --init-partial (the decoder's tensors are listed as not
// loaded). A linear probe freezes everything but the head: --freeze 'cls_token' --freeze
// 'patch_embed.*' --freeze 'blocks.*' --freeze 'norm.*'.
#pragma once

#include <vector>

#include "crate/blocks/layer.hpp"
#include "crate/models/mae/config.hpp"
#include "crate/nn/layer_norm.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class MaeEncoderClassifier : public Module {
 public:
  MaeEncoderClassifier(const MaeConfig& c, std::int64_t num_classes);
  const MaeConfig& config() const { return c_; }
  std::int64_t num_classes() const { return classes_; }
  Tensor features(const Tensor& images, std::vector<LayerTrace>* traces = nullptr) const;  // (B, n, d)
  Tensor forward(const Tensor& images, std::vector<LayerTrace>* traces = nullptr) const;  // (B, classes)
  const std::vector<CrateLayer*>& layers() const { return encoder_; }

 private:
  MaeConfig c_;
  std::int64_t classes_;
  Tensor* cls_;
  Tensor* pos_;
  Tensor* patch_w_;
  Tensor* patch_b_;
  std::vector<CrateLayer*> encoder_;
  LayerNorm* norm_;
  Linear* head_;
};

}  // namespace wb::crate
