// One CRATE layer (crate-spec §1.2, pre-LN) and what a forward pass records of it:
//   Z_half  = Z + MSSA(LN1(Z))                                  compression step
//   Z^{l+1} = ISTA(LN2(Z_half))       (no residual, official)   sparsification step
//           = Z_half + ISTA(LN2(Z_half))   with ista_residual (and always for the ViT MLP)
//           = Z_half                        with mlp none (attention only; no 1.norm, no 1.fn)
// With mssa_sign minus the compression step is Z_half = Z - MSSA(LN1(Z)) (the critique's "negative").
// Parameter names follow the official `transformer.layers.{l}` entries: 0.norm, 0.fn (MSSA or
// standard attention or TSSA), 1.norm, 1.fn (ISTA or MLP), and with LayerScale (config layer_scale > 0,
// ToST's block) gamma1, gamma2 (d):  Z_half = Z + gamma1 . attn(LN1 Z),  Z^{l+1} = Z_half + gamma2 . f(LN2 Z_half). The instruments (measure, verify, the sparse rate
// reduction objective) work on a stack of these layers and their traces, whatever model holds them.
#pragma once

#include "crate/blocks/attention.hpp"
#include "crate/blocks/config.hpp"
#include "crate/blocks/ista.hpp"
#include "crate/blocks/mlp.hpp"
#include "crate/blocks/mssa.hpp"
#include "crate/blocks/tssa.hpp"
#include "crate/nn/layer_norm.hpp"

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
  Tensor attention;  // (B, K, n, n) softmax maps (undefined for TSSA, which builds none)
  Tensor assignment; // (B, n, K) TSSA's Pi of tokens to heads (undefined for MSSA and standard)
};

class CrateLayer : public Module {
 public:
  CrateLayer(const BlockConfig& c, Generator& gen);
  Tensor forward(const Tensor& z, LayerTrace* trace = nullptr) const;
  const BlockConfig& config() const { return c_; }
  const MSSA* mssa() const { return mssa_; }  // null for standard attention and TSSA
  const TSSA* tssa() const { return tssa_; }  // null unless attention is tssa
  const ISTA* ista() const { return ista_; }  // null for the MLP
  const LayerNorm& ln1() const { return *ln1_; }  // (ln2 is absent with mlp none)
  // U^l as (K, p, d), a graph view of the parameter: MSSA's or TSSA's U, or the key projection of standard
  // attention (the subspaces the official measurement uses for a ViT).
  Tensor subspaces() const;

 private:
  BlockConfig c_;
  LayerNorm* ln1_;
  LayerNorm* ln2_;
  MSSA* mssa_ = nullptr;
  StandardAttention* attn_ = nullptr;
  TSSA* tssa_ = nullptr;
  Tensor* gamma1_ = nullptr;
  Tensor* gamma2_ = nullptr;
  ISTA* ista_ = nullptr;
  MLP* mlp_ = nullptr;
};

}  // namespace wb::crate
