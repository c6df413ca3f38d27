#include "crate/models/vision/classifier.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

CrateModel::CrateModel(const CrateConfig& c) : c_(c), dropout_gen_(c.seed ^ 0x5eedd0d0ULL) {
  c_.validate();
  Generator gen(c.seed);
  pos_ = &register_parameter("pos_embedding", normal_init({1, c.tokens(), c.dim}, 1.0, c.dtype, gen));
  cls_ = &register_parameter("cls_token", normal_init({1, 1, c.dim}, 1.0, c.dtype, gen));
  embed_ = &register_module("to_patch_embedding", std::make_shared<PatchEmbedding>(c, gen));
  for (std::int64_t l = 0; l < c.depth; ++l)
    layers_.push_back(&register_module(fmt::format("transformer.layers.{}", l), std::make_shared<CrateLayer>(c, gen)));
  head_ln_ = &register_module("mlp_head.0", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
  head_linear_ = &register_module("mlp_head.1", std::make_shared<Linear>(c.dim, c.num_classes, true, c.dtype, gen));
}

Tensor CrateModel::features(const Tensor& images, std::vector<LayerTrace>* trace) const {
  if (images.dim() != 4 || images.size(1) != c_.channels || images.size(2) != c_.image_size ||
      images.size(3) != c_.image_size)
    throw std::invalid_argument(fmt::format("{}: expects images (B, {}, {}, {}), got {}", c_.name, c_.channels,
                                            c_.image_size, c_.image_size, shape_str(images.shape())));
  const Tensor x = images.dtype() == c_.dtype ? images : ops::cast(images, c_.dtype);
  const Tensor patches = embed_->forward(x);  // (B, N, d)
  const std::int64_t b = patches.size(0);
  const Tensor cls = ops::expand(*cls_, {b, 1, c_.dim});
  Tensor z = ops::concat({cls, patches}, 1) + *pos_;
  z = ops::dropout(z, c_.dropout, training(), dropout_gen_);
  if (trace != nullptr) trace->assign(static_cast<std::size_t>(c_.depth), LayerTrace{});
  for (std::size_t l = 0; l < layers_.size(); ++l) z = layers_[l]->forward(z, trace ? &(*trace)[l] : nullptr);
  return z;
}

Tensor CrateModel::head(const Tensor& tokens) const {
  const Tensor pooled = c_.pool == Pool::mean ? ops::mean(tokens, {1}) : ops::squeeze(ops::slice(tokens, 1, 0, 1), 1);
  return head_linear_->forward(head_ln_->forward(pooled));
}

Tensor CrateModel::forward(const Tensor& images, std::vector<LayerTrace>* trace) const {
  return head(features(images, trace));
}

}  // namespace wb::crate
