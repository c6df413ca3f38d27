// StandardAttention, the ViT baseline of the MSSA block: separate query, key and value projections
// (one `qkv` Linear of 3 K p outputs, with bias) and an output projection `to_out.0`:
//   [Q K V] = Y W_qkv^T + b;  O_k = softmax_row(Q_k K_k^T / sqrt(p)) V_k;  out = concat_k(O_k) W_o^T + b_o
// Its "subspaces" for the white-box measurements are the key projection's rows, (K, p, d).
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class StandardAttention : public Module {
 public:
  StandardAttention(const BlockConfig& c, Generator& gen);
  // qkv_out (optional) receives the keys (B, n, K p), the features the measurement hooks.
  Tensor forward(const Tensor& y, Tensor* qkv_out = nullptr, Tensor* maps = nullptr) const;
  Tensor subspaces() const;  // the key rows of W_qkv as (K, p, d)

 private:
  BlockConfig c_;
  Linear* qkv_;
  Linear* to_out_;
};

}  // namespace wb::crate
