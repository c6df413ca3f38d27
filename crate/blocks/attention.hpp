// StandardAttention, the ViT baseline of the MSSA block: separate query, key and value projections
// (one `qkv` Linear of 3 H K outputs, with bias) and an output projection `to_out.0`:
//   [Q K V] = Y W_qkv^T + b;  O_h = softmax_row(Q_h K_h^T / sqrt(K)) V_h;  out = concat_h(O_h) W_o^T + b_o
// Its "subspaces" for the white-box measurements are the key projection's rows, (H, K, D).
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class StandardAttention : public Module {
 public:
  StandardAttention(const BlockConfig& c, Generator& gen);
  // qkv_out (optional) receives the keys (B, N, H K), the features the measurement hooks.
  Tensor forward(const Tensor& y, Tensor* qkv_out = nullptr, Tensor* maps = nullptr) const;
  Tensor subspaces() const;  // the key rows of W_qkv as (H, K, D)

 private:
  BlockConfig c_;
  Linear* qkv_;
  Linear* to_out_;
};

}  // namespace wb::crate
