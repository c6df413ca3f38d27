// TSSA, ToST's token-statistics self-attention block (crate-family.md §2.7; `AttentionTSSA` of
// RobinWu218/ToST tost_vision/tost.py), a linear-time alternative to MSSA. Input: the LayerNorm'd
// tokens Y (B, n, d); output (B, n, d):
//   W = Y U^T + b          (`qkv`, with bias as in every registered ToST config), heads W_k (n, p)
//   H = ops::tssa(W, temp) coded form (column-normalised Pi, 1/(1 + m)) or the paper's (config
//                          tssa_form; c = d / paper_eps^2, step 1)
//   out = H W_o^T + b_o    (`to_out.0`)
// temp (`temp`, K, initialised to 1) is rank 1 so that the default optimizer groups leave it out of
// weight decay, as ToST does (its tensor is (K, 1)).
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class TSSA : public Module {
 public:
  TSSA(const BlockConfig& c, Generator& gen);
  // qkv_out (optional) receives W (B, n, K p); pi (optional) the assignment Pi (B, n, K).
  Tensor forward(const Tensor& y, Tensor* qkv_out = nullptr, Tensor* pi = nullptr) const;
  Tensor subspaces() const;  // U as (K, p, d)
  const Tensor& temperature() const { return *temp_; }

 private:
  BlockConfig c_;
  Linear* qkv_;
  Tensor* temp_;
  Linear* to_out_;
};

}  // namespace wb::crate
