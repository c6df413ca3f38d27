// One CRATE-MAE decoder layer g^l (crate-spec §6; crate-family.md §2.1), the encoder layer run
// backwards: first undo the sparse coding with a free dictionary, then undo the compression by
// subtracting MSSA (a structured-diffusion step):
//   Z_half  = LN_a(Z) D~^T          (`F.linear(LN_a Z, D~)`: no bias, no ReLU, no residual)
//   Z^{l+1} = Z_half - MSSA(LN_b(Z_half))
// Parameter names follow the official `decoder_blocks.{l}.layers.0` entries: 0.norm, 0.fn.weight
// (D~, d x d, kaiming-uniform), 1.norm, 1.fn (the MSSA: qkv, to_out.0). LayerNorms use ln_eps (1e-5).
#pragma once

#include "crate/blocks/mssa.hpp"
#include "crate/nn/layer_norm.hpp"

namespace wb::crate {

// What a decoder forward records per layer (graph tensors).
struct DecoderTrace {
  Tensor input;   // Z^l
  Tensor z_half;  // LN_a(Z^l) D~^T, the re-synthesised signal
  Tensor ln_b;    // LN_b(Z_half), the MSSA input
  Tensor qkv;     // U LN_b(Z_half)
  Tensor output;  // Z^{l+1}
};

class CrateDecoderLayer : public Module {
 public:
  CrateDecoderLayer(const BlockConfig& c, Generator& gen);
  Tensor forward(const Tensor& z, DecoderTrace* trace = nullptr) const;
  const Tensor& dictionary() const { return *d_; }
  const MSSA& mssa() const { return *mssa_; }
  Tensor subspaces() const { return mssa_->subspaces(); }  // U as (K, p, d)

 private:
  LayerNorm* ln_a_;
  Tensor* d_;
  LayerNorm* ln_b_;
  MSSA* mssa_;
};

}  // namespace wb::crate
