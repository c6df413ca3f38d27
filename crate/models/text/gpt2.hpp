// The GPT-2 baseline in the style of nanoGPT (crate-family.md §5.3):
//   x = wte[ids] + wpe[0:T]
//   per layer:  [q k v] = c_attn(ln_1 x) (d -> 3d);  x = x + c_proj(causal_softmax(q k^T / sqrt(p)) v)
//               x = x + mlp.c_proj(GELU(mlp.c_fc(ln_2 x)))        (c_fc d -> 4d, the exact erf GELU)
//   logits = ln_f(x) wte^T
// `bias` false drops every Linear and LayerNorm bias (nanoGPT's train.py default). Keys as nanoGPT:
// transformer.{wte,wpe}.weight, transformer.h.{i}.{ln_1,attn.c_attn,attn.c_proj,ln_2,mlp.c_fc,mlp.c_proj}
// .{weight,bias}, transformer.ln_f.{weight,bias}; lm_head is tied to wte.
#pragma once

#include <vector>

#include "crate/models/text/text_model.hpp"

namespace wb::crate {

class Gpt2 : public TextModel {
 public:
  Gpt2(const TextConfig& c, Generator& gen);
  const TextConfig& config() const override { return c_; }
  Tensor forward(const Tensor& ids, std::vector<LayerTrace>* traces = nullptr) const override;
  std::vector<Tensor> layer_subspaces() const override;

 private:
  struct Layer {
    Tensor *ln1_w, *ln1_b = nullptr, *attn_w, *attn_b = nullptr, *proj_w, *proj_b = nullptr, *ln2_w, *ln2_b = nullptr,
                   *fc_w, *fc_b = nullptr, *mproj_w, *mproj_b = nullptr;
  };
  TextConfig c_;
  Tensor *wte_ = nullptr, *wpe_ = nullptr, *lnf_w_ = nullptr, *lnf_b_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace wb::crate
