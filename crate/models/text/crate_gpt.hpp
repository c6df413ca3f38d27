// CRATE-GPT (PR #13, crate-spec §7.1, crate-family.md §2.4) and its overcomplete successor CRATE-LM
// (crate-family.md §2.5), one class: the family in the config picks the ISTA and ln_f.
//
//   x = wte[ids] + wpe[0:T]
//   per layer:  y = prenorm_1(x);  U y = c_attn(y) (no bias) = q = k = v, split into K heads of p;
//               x = x + c_proj(causal_softmax(q q^T / sqrt(p)) q)          (ops::tied_causal_attention)
//               u = prenorm_2(x)
//     crate-gpt: x = ReLU(u + eta (u D - u D^T D) - eta lambda)                  D = ista.weight (d x d)
//     crate-lm:  A0 = ReLU(eta u W^T - eta lambda);                              W = ista.weight (r d x d)
//                A_{s+1} = ReLU(A_s + eta (u - A_s W) W^T - eta lambda) (steps - 1 times);  x = A W
//   attention tssa: x = x + c_proj(causal_tssa(U y, temp, denom_bias))  in place of the softmax line
//               (ops::causal_tssa: running statistics, no T x T buffer; ToST's CausalSelfAttention_TSSA)
//   (no residual around ISTA in either)
//   crate-lm only: x = ln_f(x)
//   logits = x wte^T
// Keys: transformer.wte.weight, transformer.wpe.weight, transformer.h.{i}.prenorm_1.{weight,bias},
// .attn.c_attn.weight, .attn.c_proj.{weight,bias}, .prenorm_2.{weight,bias}, .ista.weight, and for
// crate-lm transformer.ln_f.{weight,bias}; with attention tssa also .attn.temp (K, 1) and
// .attn.denom_bias (K, block_size, 1), ToST's names and shapes (never .attn.bias, the name of the
// official mask buffer that loads skip). The official attn.bias mask buffer is not a parameter.
#pragma once

#include <vector>

#include "crate/models/text/text_model.hpp"

namespace wb::crate {

class CrateGpt : public TextModel {
 public:
  CrateGpt(const TextConfig& c, Generator& gen);
  const TextConfig& config() const override { return c_; }
  Tensor forward(const Tensor& ids, std::vector<LayerTrace>* traces = nullptr) const override;
  std::vector<Tensor> layer_subspaces() const override;

 private:
  struct Layer {
    Tensor *ln1_w, *ln1_b, *c_attn, *c_proj_w, *c_proj_b, *ln2_w, *ln2_b, *ista;
    Tensor *temp = nullptr, *denom_bias = nullptr;  // attention tssa only
  };
  TextConfig c_;
  Tensor *wte_ = nullptr, *wpe_ = nullptr, *lnf_w_ = nullptr, *lnf_b_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace wb::crate
