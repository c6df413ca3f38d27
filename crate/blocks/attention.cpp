#include "crate/blocks/attention.hpp"

#include <cmath>

#include "ops/ops.hpp"

namespace wb::crate {

StandardAttention::StandardAttention(const BlockConfig& c, Generator& gen) : c_(c) {
  qkv_ = &register_module("qkv", std::make_shared<Linear>(c.dim, 3 * c.inner_dim(), true, c.dtype, gen));
  to_out_ = &register_module("to_out.0", std::make_shared<Linear>(c.inner_dim(), c.dim, true, c.dtype, gen));
}

Tensor StandardAttention::forward(const Tensor& y, Tensor* qkv_out, Tensor* maps) const {
  const Tensor qkv = qkv_->forward(y);  // (B, n, 3 K p)
  const std::int64_t inner = c_.inner_dim();
  const Tensor q = ops::slice(qkv, 2, 0, inner);
  const Tensor k = ops::slice(qkv, 2, inner, 2 * inner);
  const Tensor v = ops::slice(qkv, 2, 2 * inner, 3 * inner);
  if (qkv_out != nullptr) *qkv_out = k;  // keys
  const Tensor h = ops::attention(q, k, v, c_.heads, 1.0 / std::sqrt(static_cast<double>(c_.dim_head)), maps);
  return to_out_->forward(h);
}

Tensor StandardAttention::subspaces() const {
  const std::int64_t inner = c_.inner_dim();
  return ops::reshape(ops::slice(qkv_->weight(), 0, inner, 2 * inner), {c_.heads, c_.dim_head, c_.dim});
}

}  // namespace wb::crate
