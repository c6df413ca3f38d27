#include "crate/models/mae/decoder_layer.hpp"

#include <cmath>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

CrateDecoderLayer::CrateDecoderLayer(const BlockConfig& c, Generator& gen) {
  ln_a_ = &register_module("0.norm", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
  d_ = &register_parameter("0.fn.weight",
                           uniform_init({c.dim, c.dim}, std::sqrt(6.0 / static_cast<double>(c.dim)), c.dtype, gen));
  ln_b_ = &register_module("1.norm", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
  mssa_ = &register_module("1.fn", std::make_shared<MSSA>(c, gen));
}

Tensor CrateDecoderLayer::forward(const Tensor& z, DecoderTrace* t) const {
  const Tensor half = ops::matmul(ln_a_->forward(z), ops::transpose(*d_, 0, 1));
  const Tensor y = ln_b_->forward(half);
  Tensor qkv;
  const Tensor out = half - mssa_->forward(y, t ? &qkv : nullptr);
  if (t != nullptr) *t = DecoderTrace{z, half, y, qkv, out};
  return out;
}

}  // namespace wb::crate
