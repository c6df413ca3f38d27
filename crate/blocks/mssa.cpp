#include "crate/blocks/mssa.hpp"

#include <cmath>

#include "ops/ops.hpp"

namespace wb::crate {

Tensor split_heads(const Tensor& x, std::int64_t heads) {
  const std::int64_t b = x.size(0), n = x.size(1), inner = x.size(2);
  return ops::contiguous(ops::permute(ops::reshape(x, {b, n, heads, inner / heads}), {0, 2, 1, 3}));
}

Tensor merge_heads(const Tensor& x) {
  const std::int64_t b = x.size(0), h = x.size(1), n = x.size(2), p = x.size(3);
  return ops::reshape(ops::permute(x, {0, 2, 1, 3}), {b, n, h * p});
}

Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Tensor* maps) {
  const Tensor scores = ops::mul_scalar(ops::matmul(q, ops::transpose(k, -1, -2)), scale);
  const Tensor a = ops::softmax(scores, -1);
  if (maps != nullptr) *maps = a;
  return ops::matmul(a, v);
}

MSSA::MSSA(const BlockConfig& c, Generator& gen) : c_(c) {
  qkv_ = &register_module("qkv", std::make_shared<Linear>(c.dim, c.inner_dim(), false, c.dtype, gen));
  const bool project_out = !(c.heads == 1 && c.dim_head == c.dim);
  if (project_out && c.output_map == OutputMap::free)
    to_out_ = &register_module("to_out.0", std::make_shared<Linear>(c.inner_dim(), c.dim, true, c.dtype, gen));
}

Tensor MSSA::forward(const Tensor& y, Tensor* qkv_out, Tensor* maps) const {
  const Tensor qkv = qkv_->forward(y);  // (B, n, K p)
  if (qkv_out != nullptr) *qkv_out = qkv;
  const Tensor h = ops::tied_attention(qkv, c_.heads, 1.0 / std::sqrt(static_cast<double>(c_.dim_head)), maps);
  if (c_.output_map == OutputMap::transposed) return ops::matmul(h, qkv_->weight());  // concat_k(O_k) U
  if (c_.output_map == OutputMap::paper) {
    const double n = static_cast<double>(y.size(1));
    const double beta = static_cast<double>(c_.dim_head) / (n * c_.paper_eps * c_.paper_eps);
    return ops::mul_scalar(ops::matmul(h, qkv_->weight()), beta);
  }
  return to_out_ != nullptr ? to_out_->forward(h) : h;
}

Tensor MSSA::subspaces() const { return ops::reshape(qkv_->weight(), {c_.heads, c_.dim_head, c_.dim}); }

}  // namespace wb::crate
