#include "crate/models/text/crate_gpt.hpp"

#include <cmath>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

CrateGpt::CrateGpt(const TextConfig& c, Generator& gen) : c_(c) {
  c_.validate();
  const std::int64_t d = c.dim;
  const DType dt = c.dtype;
  const double proj_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c.depth));
  TextNode& tr = register_module("transformer", std::make_shared<TextNode>());
  wte_ = &tr.child("wte").param("weight", normal_init({c.vocab_size, d}, 0.02, dt, gen));
  wpe_ = &tr.child("wpe").param("weight", normal_init({c.block_size, d}, 0.02, dt, gen));
  TextNode& h = tr.child("h");
  const std::int64_t atoms = c.family == TextFamily::crate_lm ? c.dict_ratio * d : d;
  for (std::int64_t i = 0; i < c.depth; ++i) {
    TextNode& b = h.child(std::to_string(i));
    Layer l{};
    TextNode& ln1 = b.child("prenorm_1");
    l.ln1_w = &ln1.param("weight", Tensor::ones({d}, dt));
    l.ln1_b = &ln1.param("bias", Tensor::zeros({d}, dt));
    TextNode& attn = b.child("attn");
    l.c_attn = &attn.child("c_attn").param("weight", normal_init({d, d}, 0.02, dt, gen));
    TextNode& proj = attn.child("c_proj");
    l.c_proj_w = &proj.param("weight", normal_init({d, d}, proj_std, dt, gen));
    l.c_proj_b = &proj.param("bias", Tensor::zeros({d}, dt));
    if (c.attention == AttentionKind::tssa) {  // ToST's names and shapes: temp (K, 1) = 1, denom_bias (K, T, 1) = 0
      l.temp = &attn.param("temp", Tensor::ones({c.heads, 1}, dt));
      l.denom_bias = &attn.param("denom_bias", Tensor::zeros({c.heads, c.block_size, 1}, dt));
    }
    TextNode& ln2 = b.child("prenorm_2");
    l.ln2_w = &ln2.param("weight", Tensor::ones({d}, dt));
    l.ln2_b = &ln2.param("bias", Tensor::zeros({d}, dt));
    // kaiming-uniform (a = 0) on (atoms, d) for crate-lm's W, (d, d) for crate-gpt's D: fan_in = d.
    l.ista = &b.child("ista").param("weight", uniform_init({atoms, d}, std::sqrt(6.0 / static_cast<double>(d)), dt, gen));
    layers_.push_back(l);
  }
  if (c.family == TextFamily::crate_lm) {
    TextNode& lnf = tr.child("ln_f");
    lnf_w_ = &lnf.param("weight", Tensor::ones({d}, dt));
    lnf_b_ = &lnf.param("bias", Tensor::zeros({d}, dt));
  }
}

std::vector<Tensor> CrateGpt::layer_subspaces() const {
  std::vector<Tensor> u;
  for (const Layer& l : layers_) u.push_back(ops::reshape(*l.c_attn, {c_.heads, c_.dim_head(), c_.dim}));
  return u;
}

Tensor CrateGpt::forward(const Tensor& ids, std::vector<LayerTrace>* traces) const {
  check_ids(ids);
  const std::int64_t t = ids.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c_.dim_head()));
  const double eta = c_.eta, thr = c_.eta * c_.lambda;
  Tensor x = ops::add(ops::embedding(*wte_, ids), ops::slice(*wpe_, 0, 0, t));
  if (traces != nullptr) traces->clear();
  for (const Layer& l : layers_) {
    const Tensor input = x;
    const Tensor y = ops::layer_norm(x, *l.ln1_w, *l.ln1_b, c_.ln_eps);
    const Tensor q = text_linear(y, *l.c_attn, nullptr);
    Tensor pi;  // TSSA's assignment of tokens to heads (B, T, K)
    const Tensor att = l.temp != nullptr ? ops::causal_tssa(q, *l.temp, *l.denom_bias, c_.heads, traces != nullptr ? &pi : nullptr)
                                         : ops::tied_causal_attention(q, c_.heads, scale);
    x = ops::add(x, text_linear(att, *l.c_proj_w, l.c_proj_b));
    const Tensor z_half = x;
    const Tensor u = ops::layer_norm(x, *l.ln2_w, *l.ln2_b, c_.ln_eps);
    const Tensor& w = *l.ista;
    Tensor code;
    if (c_.family == TextFamily::crate_gpt) {
      // ReLU(u + eta (u D - u D^T D) - eta lambda), the official order: x1 = u D^T; grad_1 = x1 D; grad_2 = u D
      const Tensor x1 = ops::matmul(u, ops::transpose(w, 0, 1));
      const Tensor grad = ops::sub(ops::matmul(u, w), ops::matmul(x1, w));
      x = ops::relu(ops::add_scalar(ops::add(u, ops::mul_scalar(grad, eta)), -thr));
      code = x;
    } else {
      const Tensor wt = ops::transpose(w, 0, 1);  // D = W^T (d x r d)
      Tensor a = ops::relu(ops::add_scalar(ops::mul_scalar(ops::matmul(u, wt), eta), -thr));
      for (std::int64_t s = 1; s < c_.ista_steps; ++s) {
        const Tensor residual = ops::sub(u, ops::matmul(a, w));
        a = ops::relu(ops::add_scalar(ops::add(a, ops::mul_scalar(ops::matmul(residual, wt), eta)), -thr));
      }
      x = ops::matmul(a, w);
      code = a;
    }
    if (traces != nullptr) traces->push_back(LayerTrace{input, y, q, z_half, u, code, x, Tensor(), pi});
  }
  if (lnf_w_ != nullptr) x = ops::layer_norm(x, *lnf_w_, *lnf_b_, c_.ln_eps);
  return ops::matmul(x, ops::transpose(*wte_, 0, 1));
}

}  // namespace wb::crate
