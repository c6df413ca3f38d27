#include "crate/blocks/tssa.hpp"

#include "ops/ops.hpp"

namespace wb::crate {

TSSA::TSSA(const BlockConfig& c, Generator& gen) : c_(c) {
  qkv_ = &register_module("qkv", std::make_shared<Linear>(c.dim, c.inner_dim(), true, c.dtype, gen));
  temp_ = &register_parameter("temp", Tensor::ones({c.heads}, c.dtype));
  to_out_ = &register_module("to_out.0", std::make_shared<Linear>(c.inner_dim(), c.dim, true, c.dtype, gen));
}

Tensor TSSA::forward(const Tensor& y, Tensor* qkv_out, Tensor* pi) const {
  const Tensor w = qkv_->forward(y);  // (B, n, K p)
  if (qkv_out != nullptr) *qkv_out = w;
  ops::TssaOptions o;
  o.form = c_.tssa_form;
  if (o.form == ops::TssaForm::paper) o.gain = static_cast<double>(c_.dim) / (c_.paper_eps * c_.paper_eps);
  return to_out_->forward(ops::tssa(w, *temp_, c_.heads, o, pi));
}

Tensor TSSA::subspaces() const { return ops::reshape(qkv_->weight(), {c_.heads, c_.dim_head, c_.dim}); }

}  // namespace wb::crate
