#include "crate/models/mae/autoencoder.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

Tensor sincos_position_table(std::int64_t dim, std::int64_t grid, DType dtype) {
  const std::int64_t n = grid * grid, half = dim / 2, quarter = dim / 4;
  std::vector<double> v(static_cast<std::size_t>((n + 1) * dim), 0.0);
  for (std::int64_t row = 0; row < grid; ++row)
    for (std::int64_t col = 0; col < grid; ++col) {
      double* out = &v[static_cast<std::size_t>((1 + row * grid + col) * dim)];
      const float pos[2] = {static_cast<float>(col), static_cast<float>(row)};
      for (int axis = 0; axis < 2; ++axis)
        for (std::int64_t i = 0; i < quarter; ++i) {
          const float omega = 1.0f / std::pow(10000.0f, static_cast<float>(i) / static_cast<float>(quarter));
          const float a = pos[axis] * omega;
          out[axis * half + i] = static_cast<double>(std::sin(a));
          out[axis * half + quarter + i] = static_cast<double>(std::cos(a));
        }
    }
  return prim::cast(Tensor::from_vector(v, {1, n + 1, dim}), dtype);
}

Tensor mask_from_noise(const Tensor& noise, std::int64_t keep, DType dtype) {
  if (noise.dim() != 2) throw std::invalid_argument(fmt::format("mask_from_noise: expects (B, N), got {}", shape_str(noise.shape())));
  const std::int64_t b = noise.size(0), n = noise.size(1);
  const auto v = prim::contiguous(prim::cast(noise, DType::f64)).to_vector<double>();
  std::vector<double> m(v.size(), 1.0);
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < b; ++i) {
    std::iota(order.begin(), order.end(), 0);
    const double* row = &v[static_cast<std::size_t>(i * n)];
    std::stable_sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) { return row[x] < row[y]; });
    for (std::int64_t k = 0; k < keep; ++k) m[static_cast<std::size_t>(i * n + order[static_cast<std::size_t>(k)])] = 0.0;
  }
  return prim::cast(Tensor::from_vector(m, {b, n}), dtype);
}

Tensor draw_mask(std::int64_t batch, const MaeConfig& c, Generator& gen) {
  Tensor noise = Tensor::empty({batch, c.num_patches()}, DType::f64);
  prim::uniform_(noise, 0.0, 1.0, gen);
  return mask_from_noise(noise, c.kept(), c.dtype);
}

namespace {

// Xavier-uniform on every Linear weight and zero on its bias (the official `_init_weights`); a
// Linear weight is a 2-D tensor not named `fn.weight` (the dictionaries keep kaiming-uniform).
void mae_xavier_linears(Module& m, Generator& gen) {
  auto ends_with = [](const std::string& s, const std::string& t) {
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  for (auto& [name, t] : m.named_parameters()) {
    if (ends_with(name, ".weight") && t.dim() == 2 && !ends_with(name, "fn.weight")) {
      const double bound = std::sqrt(6.0 / static_cast<double>(t.size(0) + t.size(1)));
      prim::uniform_(t, -bound, bound, gen);
    } else if (ends_with(name, ".bias") && name.rfind("patch_embed.", 0) != 0) {
      prim::fill_(t, 0.0);
    }
  }
}

}  // namespace

MaskedAutoencoder::MaskedAutoencoder(const MaeConfig& c) : c_(c) {
  c_.validate();
  Generator gen(c.seed);
  const std::int64_t d = c.dim, p = c.patch_size, cp = c.channels * p * p;
  const BlockConfig block = c.block();
  cls_ = &register_parameter("cls_token", normal_init({1, 1, d}, 0.02, c.dtype, gen));
  pos_ = &register_parameter("pos_embed", sincos_position_table(d, c.image_size / p, c.dtype));
  const double xb = std::sqrt(6.0 / static_cast<double>(cp + d));
  patch_w_ = &register_parameter("patch_embed.proj.weight", uniform_init({d, c.channels, p, p}, xb, c.dtype, gen));
  patch_b_ = &register_parameter("patch_embed.proj.bias",
                                 uniform_init({d}, 1.0 / std::sqrt(static_cast<double>(cp)), c.dtype, gen));
  const bool vit = c.backbone == MaeBackbone::vit;
  for (std::int64_t l = 0; l < c.depth; ++l)
    encoder_.push_back(&register_module(vit ? fmt::format("blocks.{}", l) : fmt::format("blocks.{}.layers.0", l),
                                        std::make_shared<CrateLayer>(block, gen)));
  norm_ = &register_module("norm", std::make_shared<LayerNorm>(d, 1e-6, c.dtype));
  auto& embed = register_module("decoder_embed", std::make_shared<Linear>(d, d, true, c.dtype, gen));
  mask_token_ = &register_parameter("mask_token", normal_init({1, 1, d}, 0.02, c.dtype, gen));
  decoder_pos_ = &register_parameter("decoder_pos_embed", sincos_position_table(d, c.image_size / p, c.dtype));
  for (std::int64_t l = 0; l < c.decoder_depth; ++l) {
    if (vit)
      vit_decoder_.push_back(
          &register_module(fmt::format("decoder_blocks.{}", l), std::make_shared<CrateLayer>(block, gen)));
    else
      decoder_.push_back(&register_module(fmt::format("decoder_blocks.{}.layers.0", l),
                                          std::make_shared<CrateDecoderLayer>(block, gen)));
  }
  decoder_norm_ = &register_module("decoder_norm", std::make_shared<LayerNorm>(d, 1e-6, c.dtype));
  decoder_pred_ = &register_module("decoder_pred", std::make_shared<Linear>(d, c.patch_dim(), true, c.dtype, gen));
  mae_xavier_linears(*this, gen);
  // Fixed tables and the unused decoder_embed: in the state_dict, never trained.
  pos_->requires_grad_(false);
  decoder_pos_->requires_grad_(false);
  embed.weight().requires_grad_(false);
  embed.bias().requires_grad_(false);
}

Tensor mae_patch_tokens(const Tensor& images, const Tensor& weight, const Tensor& bias, const MaeConfig& c) {
  const std::int64_t b = images.size(0), ch = c.channels, p = c.patch_size, g = c.image_size / p;
  const Tensor x = ops::reshape(images, {b, ch, g, p, g, p});                                  // b c h p1 w p2
  const Tensor t = ops::reshape(ops::permute(x, {0, 2, 4, 1, 3, 5}), {b, g * g, ch * p * p});  // (c p1 p2)
  const Tensor w = ops::reshape(weight, {c.dim, ch * p * p});
  return ops::matmul(t, ops::transpose(w, 0, 1)) + bias;
}

Tensor MaskedAutoencoder::encode(const Tensor& images, const Tensor& mask, std::vector<LayerTrace>* traces) const {
  if (images.dim() != 4 || images.size(1) != c_.channels || images.size(2) != c_.image_size ||
      images.size(3) != c_.image_size)
    throw std::invalid_argument(fmt::format("{}: expects images (B, {}, {}, {}), got {}", c_.name, c_.channels,
                                            c_.image_size, c_.image_size, shape_str(images.shape())));
  const std::int64_t b = images.size(0), n = c_.num_patches();
  if (mask.dim() != 2 || mask.size(0) != b || mask.size(1) != n)
    throw std::invalid_argument(
        fmt::format("{}: expects a mask ({}, {}) for images {}, got {}", c_.name, b, n, shape_str(images.shape()),
                    shape_str(mask.shape())));
  const Tensor x = images.dtype() == c_.dtype ? images : ops::cast(images, c_.dtype);
  const Tensor m = prim::reshape(prim::contiguous(prim::cast(mask.detach(), c_.dtype)), {b, n, 1});
  const Tensor keep = prim::unary(prim::Unary::add_scalar, prim::unary(prim::Unary::neg, m), 1.0);
  const Tensor tokens = ops::mul(mae_patch_tokens(x, *patch_w_, *patch_b_, c_), keep) + ops::mul(*mask_token_, m);
  Tensor z = ops::concat({ops::expand(*cls_, {b, 1, c_.dim}), tokens}, 1) + *decoder_pos_;
  if (traces != nullptr) traces->assign(encoder_.size(), LayerTrace{});
  for (std::size_t l = 0; l < encoder_.size(); ++l) z = encoder_[l]->forward(z, traces ? &(*traces)[l] : nullptr);
  return norm_->forward(z);
}

Tensor MaskedAutoencoder::decode(const Tensor& latent, std::vector<DecoderTrace>* traces,
                                 std::vector<LayerTrace>* vit_traces) const {
  Tensor z = latent;
  if (traces != nullptr) traces->assign(decoder_.size(), DecoderTrace{});
  if (vit_traces != nullptr) vit_traces->assign(vit_decoder_.size(), LayerTrace{});
  for (std::size_t l = 0; l < decoder_.size(); ++l) z = decoder_[l]->forward(z, traces ? &(*traces)[l] : nullptr);
  for (std::size_t l = 0; l < vit_decoder_.size(); ++l)
    z = vit_decoder_[l]->forward(z, vit_traces ? &(*vit_traces)[l] : nullptr);
  const Tensor pred = decoder_pred_->forward(decoder_norm_->forward(z));
  return ops::slice(pred, 1, 1, pred.size(1));
}

}  // namespace wb::crate
