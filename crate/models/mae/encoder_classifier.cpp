#include "crate/models/mae/encoder_classifier.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "crate/models/mae/autoencoder.hpp"
#include "crate/nn/init.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

MaeEncoderClassifier::MaeEncoderClassifier(const MaeConfig& c, std::int64_t num_classes) : c_(c), classes_(num_classes) {
  c_.validate();
  if (num_classes <= 0) throw std::invalid_argument(fmt::format("{}: num_classes {} must be positive", c.name, num_classes));
  Generator gen(c.seed);
  const std::int64_t d = c.dim, p = c.patch_size, cp = c.channels * p * p;
  cls_ = &register_parameter("cls_token", normal_init({1, 1, d}, 0.02, c.dtype, gen));
  pos_ = &register_parameter("pos_embed", sincos_position_table(d, c.image_size / p, c.dtype));
  patch_w_ = &register_parameter("patch_embed.proj.weight",
                                 uniform_init({d, c.channels, p, p}, std::sqrt(6.0 / static_cast<double>(cp + d)), c.dtype, gen));
  patch_b_ = &register_parameter("patch_embed.proj.bias",
                                 uniform_init({d}, 1.0 / std::sqrt(static_cast<double>(cp)), c.dtype, gen));
  const bool vit = c.backbone == MaeBackbone::vit;
  for (std::int64_t l = 0; l < c.depth; ++l)
    encoder_.push_back(&register_module(vit ? fmt::format("blocks.{}", l) : fmt::format("blocks.{}.layers.0", l),
                                        std::make_shared<CrateLayer>(c.block(), gen)));
  norm_ = &register_module("norm", std::make_shared<LayerNorm>(d, 1e-6, c.dtype));
  head_ = &register_module("head", std::make_shared<Linear>(d, num_classes, true, c.dtype, gen));
  pos_->requires_grad_(false);
}

Tensor MaeEncoderClassifier::features(const Tensor& images, std::vector<LayerTrace>* traces) const {
  if (images.dim() != 4 || images.size(1) != c_.channels || images.size(2) != c_.image_size ||
      images.size(3) != c_.image_size)
    throw std::invalid_argument(fmt::format("{}: expects images (B, {}, {}, {}), got {}", c_.name, c_.channels,
                                            c_.image_size, c_.image_size, shape_str(images.shape())));
  const Tensor x = images.dtype() == c_.dtype ? images : ops::cast(images, c_.dtype);
  const Tensor tokens = mae_patch_tokens(x, *patch_w_, *patch_b_, c_);
  const std::int64_t b = x.size(0);
  Tensor z = ops::concat({ops::expand(*cls_, {b, 1, c_.dim}), tokens}, 1) + *pos_;
  if (traces != nullptr) traces->assign(encoder_.size(), LayerTrace{});
  for (std::size_t l = 0; l < encoder_.size(); ++l) z = encoder_[l]->forward(z, traces ? &(*traces)[l] : nullptr);
  return norm_->forward(z);
}

Tensor MaeEncoderClassifier::forward(const Tensor& images, std::vector<LayerTrace>* traces) const {
  return head_->forward(ops::squeeze(ops::slice(features(images, traces), 1, 0, 1), 1));
}

}  // namespace wb::crate
