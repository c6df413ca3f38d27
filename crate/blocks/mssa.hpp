// MSSA, the CRATE compression step (crate-spec §1.2). Input: the LayerNorm'd tokens Y (B, n, d);
// output (B, n, d). One projection U (`qkv`, no bias) is used as query, key AND value:
//   Q = Y U^T  split into heads Q_k (B, K, n, p);  A_k = softmax_row(Q_k Q_k^T / sqrt(p));  O_k = A_k Q_k
//   out = concat_k(O_k) W_o^T + b_o       (`to_out.0`; absent when K = 1 and p = d, as the official code)
// With output_map paper the free W_o is replaced by the paper's map, U itself scaled by
// p / (n eps^2) (spec §1.6, §2.3): out = (p / (n eps^2)) concat_k(O_k) U. With output_map transposed
// (the critique's CRATE-T, Hu et al. 2024): out = concat_k(O_k) U, W_o tied to U^T, unscaled, no bias.
// The sign of the update (Z + or - MSSA) is the layer's (BlockConfig::mssa_sign, crate/blocks/layer.cpp).
// The block runs the fused ops::tied_attention (whose backward sums the three uses of Q, with the
// symmetric (dS + dS^T) term of spec §1.7); attend/split_heads/merge_heads below are the same math as
// plain composed ops, kept as the readable reference the tests compare against.
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

// Reference composition: softmax(q k^T * scale) v for (B, K, n, p) heads (maps returned when asked).
Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, double scale, Tensor* maps = nullptr);
// (B, n, K p) <-> (B, K, n, p)
Tensor split_heads(const Tensor& x, std::int64_t heads);
Tensor merge_heads(const Tensor& x);

class MSSA : public Module {
 public:
  MSSA(const BlockConfig& c, Generator& gen);
  // y: LN1(Z). qkv_out (optional) receives U y, the features the official measurement hooks.
  Tensor forward(const Tensor& y, Tensor* qkv_out = nullptr, Tensor* maps = nullptr) const;
  const Tensor& U() const { return qkv_->weight(); }  // (K p, d); rows k p .. k p + p - 1 are head k
  // U as the subspaces of the coding rate R^c, (K, p, d) (a graph view of the parameter).
  Tensor subspaces() const;

 private:
  BlockConfig c_;
  Linear* qkv_;
  Linear* to_out_ = nullptr;
};

}  // namespace wb::crate
