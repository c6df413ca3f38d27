#include "crate/blocks/layer.hpp"

#include "ops/ops.hpp"

namespace wb::crate {

CrateLayer::CrateLayer(const BlockConfig& c, Generator& gen) : c_(c) {
  ln1_ = &register_module("0.norm", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
  if (c.attention == AttentionKind::mssa)
    mssa_ = &register_module("0.fn", std::make_shared<MSSA>(c, gen));
  else if (c.attention == AttentionKind::tssa)
    tssa_ = &register_module("0.fn", std::make_shared<TSSA>(c, gen));
  else
    attn_ = &register_module("0.fn", std::make_shared<StandardAttention>(c, gen));
  if (c.mlp == MlpKind::none) return;  // attention only: no second block
  ln2_ = &register_module("1.norm", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
  if (c.mlp == MlpKind::ista)
    ista_ = &register_module("1.fn", std::make_shared<ISTA>(c, gen));
  else
    mlp_ = &register_module("1.fn", std::make_shared<MLP>(c, gen));
  if (c.layer_scale > 0.0) {
    gamma1_ = &register_parameter("gamma1", Tensor::full({c.dim}, c.layer_scale, c.dtype));
    gamma2_ = &register_parameter("gamma2", Tensor::full({c.dim}, c.layer_scale, c.dtype));
  }
}

Tensor CrateLayer::forward(const Tensor& z, LayerTrace* t) const {
  const Tensor y = ln1_->forward(z);
  Tensor qkv, maps, pi;
  const Tensor a = mssa_ != nullptr   ? mssa_->forward(y, t ? &qkv : nullptr, t ? &maps : nullptr)
                   : tssa_ != nullptr ? tssa_->forward(y, t ? &qkv : nullptr, t ? &pi : nullptr)
                                      : attn_->forward(y, t ? &qkv : nullptr, t ? &maps : nullptr);
  const Tensor step = gamma1_ != nullptr ? *gamma1_ * a : a;
  const Tensor z_half = c_.mssa_sign == MssaSign::minus ? z - step : z + step;
  if (c_.mlp == MlpKind::none) {  // attention only: the layer's output and "code" are Z^{l+1/2}
    if (t != nullptr) *t = LayerTrace{z, y, qkv, z_half, Tensor(), z_half, z_half, maps, pi};
    return z_half;
  }
  const Tensor x = ln2_->forward(z_half);
  Tensor code;
  const Tensor f = ista_ != nullptr ? ista_->forward(x, t ? &code : nullptr) : mlp_->forward(x);
  const Tensor out = !c_.residual_after_mlp() ? f : gamma2_ != nullptr ? z_half + *gamma2_ * f : z_half + f;
  if (t != nullptr) *t = LayerTrace{z, y, qkv, z_half, x, ista_ != nullptr ? code : f, out, maps, pi};
  return out;
}

Tensor CrateLayer::subspaces() const {
  return mssa_ != nullptr ? mssa_->subspaces() : tssa_ != nullptr ? tssa_->subspaces() : attn_->subspaces();
}

}  // namespace wb::crate
