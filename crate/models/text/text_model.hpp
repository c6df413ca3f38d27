// TextModel: what the causal language models of crate/models/text/ share. ids (B, T) i64 with T <=
// block_size, each in [0, V); forward gives logits (B, T, V); loss is the token-level cross-entropy
// against targets (B, T) (ignore_index -1), the official `F.cross_entropy(logits.view(-1, V),
// y.view(-1), ignore_index=-1)`.
//
// TextNode is the plain module the models are assembled from: it registers parameters and children
// under the official state-dict names (crate-family.md §2.4), so `named_parameters()` lists exactly the
// official keys (the tied lm_head.weight is the one tensor transformer.wte.weight; the causal-mask buffer
// attn.bias is not a parameter).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "crate/blocks/layer.hpp"
#include "crate/models/text/config.hpp"
#include "crate/nn/module.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {

class TextNode : public Module {
 public:
  Tensor& param(std::string name, Tensor value) { return register_parameter(std::move(name), std::move(value)); }
  TextNode& child(std::string name) { return register_module(std::move(name), std::make_shared<TextNode>()); }
};

class TextModel : public Module {
 public:
  virtual const TextConfig& config() const = 0;
  // (B, T) -> (B, T, V). With `traces`, one LayerTrace per layer (the fields the instruments read:
  // input, ln1, qkv, z_half, ln2, code, output; no attention maps): qkv = U LN1(Z) for the CRATE
  // families, the keys for GPT-2; code = the ISTA output (CRATE-GPT), the sparse code A (B, T, r d)
  // (CRATE-LM), the MLP's output (GPT-2).
  virtual Tensor forward(const Tensor& ids, std::vector<LayerTrace>* traces = nullptr) const = 0;
  // What the per-layer measurement needs of each layer: its block choices (d, K heads of p, lambda,
  // dtype) and U^l as (K, p, d), a view of c_attn's weight (for GPT-2, its key rows).
  std::vector<BlockConfig> layer_configs() const;
  virtual std::vector<Tensor> layer_subspaces() const = 0;
  Tensor loss(const Tensor& ids, const Tensor& targets) const;
  // Checks ids (B, T) i64 with 1 <= T <= block_size; the ids' range is checked by the embedding.
  void check_ids(const Tensor& ids) const;
};

// The model of a configuration's family, initialized from `gen` (crate-spec §7.1: Linear and Embedding
// N(0, 0.02^2), c_proj N(0, (0.02 / sqrt(2 L))^2), biases 0, the ISTA dictionary kaiming-uniform).
std::unique_ptr<TextModel> make_text_model(const TextConfig& c, Generator& gen);

// y = x W^T (+ b): the official Linear with W (out, in).
Tensor text_linear(const Tensor& x, const Tensor& w, const Tensor* b);

}  // namespace wb::crate
