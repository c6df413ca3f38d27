#include "crate/models/text/gpt2.hpp"

#include <cmath>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

Gpt2::Gpt2(const TextConfig& c, Generator& gen) : c_(c) {
  c_.validate();
  const std::int64_t d = c.dim;
  const DType dt = c.dtype;
  const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c.depth));
  TextNode& tr = register_module("transformer", std::make_shared<TextNode>());
  wte_ = &tr.child("wte").param("weight", normal_init({c.vocab_size, d}, 0.02, dt, gen));
  wpe_ = &tr.child("wpe").param("weight", normal_init({c.block_size, d}, 0.02, dt, gen));
  auto norm = [&](TextNode& parent, const char* name, Tensor*& w, Tensor*& b) {
    TextNode& n = parent.child(name);
    w = &n.param("weight", Tensor::ones({d}, dt));
    if (c.bias) b = &n.param("bias", Tensor::zeros({d}, dt));
  };
  auto linear = [&](TextNode& parent, const char* name, std::int64_t in, std::int64_t out, double stddev, Tensor*& w,
                    Tensor*& b) {
    TextNode& n = parent.child(name);
    w = &n.param("weight", normal_init({out, in}, stddev, dt, gen));
    if (c.bias) b = &n.param("bias", Tensor::zeros({out}, dt));
  };
  TextNode& h = tr.child("h");
  for (std::int64_t i = 0; i < c.depth; ++i) {
    TextNode& blk = h.child(std::to_string(i));
    Layer l{};
    norm(blk, "ln_1", l.ln1_w, l.ln1_b);
    TextNode& attn = blk.child("attn");
    linear(attn, "c_attn", d, 3 * d, 0.02, l.attn_w, l.attn_b);
    linear(attn, "c_proj", d, d, proj_std, l.proj_w, l.proj_b);
    norm(blk, "ln_2", l.ln2_w, l.ln2_b);
    TextNode& mlp = blk.child("mlp");
    linear(mlp, "c_fc", d, 4 * d, 0.02, l.fc_w, l.fc_b);
    linear(mlp, "c_proj", 4 * d, d, proj_std, l.mproj_w, l.mproj_b);
    layers_.push_back(l);
  }
  norm(tr, "ln_f", lnf_w_, lnf_b_);
}

std::vector<Tensor> Gpt2::layer_subspaces() const {
  std::vector<Tensor> u;  // the key rows d .. 2d of c_attn, as a ViT's standard attention
  for (const Layer& l : layers_)
    u.push_back(ops::reshape(ops::slice(*l.attn_w, 0, c_.dim, 2 * c_.dim), {c_.heads, c_.dim_head(), c_.dim}));
  return u;
}

Tensor Gpt2::forward(const Tensor& ids, std::vector<LayerTrace>* traces) const {
  check_ids(ids);
  const std::int64_t t = ids.size(1), d = c_.dim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(c_.dim_head()));
  const Tensor zero = Tensor::zeros({d}, c_.dtype);  // the LayerNorm bias when bias = false (a constant)
  auto ln = [&](const Tensor& x, const Tensor* w, const Tensor* b) {
    return ops::layer_norm(x, *w, b != nullptr ? *b : zero, c_.ln_eps);
  };
  Tensor x = ops::add(ops::embedding(*wte_, ids), ops::slice(*wpe_, 0, 0, t));
  if (traces != nullptr) traces->clear();
  for (const Layer& l : layers_) {
    const Tensor input = x, y = ln(x, l.ln1_w, l.ln1_b);
    const Tensor qkv = text_linear(y, *l.attn_w, l.attn_b);
    const Tensor att = ops::causal_attention(ops::slice(qkv, 2, 0, d), ops::slice(qkv, 2, d, 2 * d),
                                             ops::slice(qkv, 2, 2 * d, 3 * d), c_.heads, scale);
    x = ops::add(x, text_linear(att, *l.proj_w, l.proj_b));
    const Tensor z_half = x, u = ln(x, l.ln2_w, l.ln2_b);
    const Tensor mlp = text_linear(ops::gelu(text_linear(u, *l.fc_w, l.fc_b)), *l.mproj_w, l.mproj_b);
    x = ops::add(x, mlp);
    if (traces != nullptr) traces->push_back(LayerTrace{input, y, ops::slice(qkv, 2, d, 2 * d), z_half, u, mlp, x, Tensor(), Tensor()});
  }
  x = ln(x, lnf_w_, lnf_b_);
  return ops::matmul(x, ops::transpose(*wte_, 0, 1));
}

}  // namespace wb::crate
