// The CRATE masked autoencoder (crate-spec §6, crate-family.md §2.1 and §5.2), and its ViT-MAE
// baseline through the same config (backbone vit), exactly as the official `MaskedAutoencoderViT`:
//
//   x        = patches(img) W_pe^T + b_pe          (B, N, d): the P x P stride-P convolution as a
//              matmul over patches flattened (channel, row, column), W_pe stored as (d, C, P, P)
//   x_i      = mask_i ? mask_token : x_i           (the masked patches are refilled, not dropped)
//   Z^1      = [cls; x] + E_pos                    (B, n, d), E_pos the fixed 2-D sin-cos table with a
//              zero class-token row (`decoder_pos_embed`, equal to `pos_embed`: d_enc = d_dec)
//   encoder  L CrateLayers (blocks/layer.hpp, the classifier's), then `norm` (LayerNorm, eps 1e-6)
//   decoder  L_dec CrateDecoderLayers (decoder_layer.hpp), then `decoder_norm` (eps 1e-6)
//   pred     = decoder_pred(.)[:, 1:]              (B, N, P*P*C), per patch (row, column, channel)
//
// The encoder therefore runs on all n tokens (the official masking shortcut: gather, append mask
// tokens and unshuffle is the same as refilling in place). The mask comes from the caller (draw_mask
// below, from the run's seeded generator), so runs are reproducible and a PyTorch peer can be given
// the same one.
//
// Names equal the official state_dict: cls_token, pos_embed, patch_embed.proj.{weight,bias},
// blocks.{l}.layers.0.{0,1}.*, norm.*, decoder_embed.* (present, never used: key compatibility and
// the parameter counts), mask_token, decoder_pos_embed, decoder_blocks.{l}.layers.0.{0,1}.*,
// decoder_norm.*, decoder_pred.*. The ViT baseline's blocks are blocks.{l}.* / decoder_blocks.{l}.*
// (whitebox's ViT layer names, not timm's).
// Initialization (crate-family §2.1): every Linear Xavier-uniform with zero bias; the patch weight
// Xavier-uniform on its (d, C P P) view and its bias U(+-1/sqrt(C P P)); dictionaries
// kaiming-uniform U(+-sqrt(6/d)); cls and mask tokens N(0, 0.02^2); LayerNorm (1, 0). The two
// position tables and decoder_embed do not require gradients (the optimizer skips them).
#pragma once

#include <memory>
#include <vector>

#include "crate/blocks/layer.hpp"
#include "crate/models/mae/config.hpp"
#include "crate/models/mae/decoder_layer.hpp"
#include "crate/nn/layer_norm.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

// The fixed 2-D sin-cos table (1, g*g + 1, d), class-token row zero: channels [0, d/2) encode the
// patch column, [d/2, d) its row; in each half, sin(pos w_i) then cos(pos w_i), w_i = 10000^(-i/(d/4)),
// computed in float32 as the official NumPy code.
Tensor sincos_position_table(std::int64_t dim, std::int64_t grid, DType dtype);

// The per-sample mask of `noise` (B, N): 1 where a patch is masked (the N - keep patches with the
// largest noise, as the official argsort), 0 where it is kept; `dtype`.
Tensor mask_from_noise(const Tensor& noise, std::int64_t keep, DType dtype);
// Uniform noise (B, N) from `gen`, then mask_from_noise.
Tensor draw_mask(std::int64_t batch, const MaeConfig& c, Generator& gen);

// The patch embedding as a matmul: images (B, C, H, W), weight (d, C, P, P), bias (d) -> (B, N, d).
Tensor mae_patch_tokens(const Tensor& images, const Tensor& weight, const Tensor& bias, const MaeConfig& c);

class MaskedAutoencoder : public Module {
 public:
  explicit MaskedAutoencoder(const MaeConfig& c);
  const MaeConfig& config() const { return c_; }

  // images (B, C, H, W), mask (B, N) (1 = masked) -> the encoder output after `norm`, (B, n, d).
  // `traces` receives one entry per encoder layer.
  Tensor encode(const Tensor& images, const Tensor& mask, std::vector<LayerTrace>* traces = nullptr) const;
  // The encoder output (B, n, d) -> per-patch predictions (B, N, P*P*C). `traces` receives one entry
  // per CRATE decoder layer, `vit_traces` one per ViT decoder layer (backbone vit).
  Tensor decode(const Tensor& latent, std::vector<DecoderTrace>* traces = nullptr,
                std::vector<LayerTrace>* vit_traces = nullptr) const;
  Tensor forward(const Tensor& images, const Tensor& mask, std::vector<LayerTrace>* traces = nullptr,
                 std::vector<DecoderTrace>* decoder_traces = nullptr) const {
    return decode(encode(images, mask, traces), decoder_traces);
  }

  const std::vector<CrateLayer*>& encoder_layers() const { return encoder_; }
  const std::vector<CrateDecoderLayer*>& decoder_layers() const { return decoder_; }
  const std::vector<CrateLayer*>& vit_decoder_layers() const { return vit_decoder_; }

 private:
  MaeConfig c_;
  Tensor* cls_;
  Tensor* pos_;
  Tensor* patch_w_;
  Tensor* patch_b_;
  std::vector<CrateLayer*> encoder_;
  LayerNorm* norm_;
  Tensor* mask_token_;
  Tensor* decoder_pos_;
  std::vector<CrateDecoderLayer*> decoder_;
  std::vector<CrateLayer*> vit_decoder_;
  LayerNorm* decoder_norm_;
  Linear* decoder_pred_;
};

}  // namespace wb::crate
