#include "crate/models/vision/patch_embedding.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "ops/ops.hpp"

namespace wb::crate {

Tensor patchify(const Tensor& images, std::int64_t p) {
  if (images.dim() != 4 || images.size(2) % p != 0 || images.size(3) % p != 0)
    throw std::invalid_argument(fmt::format("patchify: expects (B, C, H, W) images with H and W multiples of the patch "
                                            "size {}, got {}",
                                            p, shape_str(images.shape())));
  const std::int64_t b = images.size(0), c = images.size(1), h = images.size(2) / p, w = images.size(3) / p;
  const Tensor x = ops::reshape(images, {b, c, h, p, w, p});  // b c h p1 w p2
  const Tensor t = ops::permute(x, {0, 2, 4, 3, 5, 1});       // b h w p1 p2 c
  return ops::reshape(t, {b, h * w, p * p * c});
}

PatchEmbedding::PatchEmbedding(const CrateConfig& c, Generator& gen) : patch_(c.patch_size) {
  ln_a_ = &register_module("1", std::make_shared<LayerNorm>(c.patch_dim(), c.ln_eps, c.dtype));
  linear_ = &register_module("2", std::make_shared<Linear>(c.patch_dim(), c.dim, true, c.dtype, gen));
  ln_b_ = &register_module("3", std::make_shared<LayerNorm>(c.dim, c.ln_eps, c.dtype));
}

Tensor PatchEmbedding::forward(const Tensor& images) const {
  return ln_b_->forward(linear_->forward(ln_a_->forward(patchify(images, patch_))));
}

}  // namespace wb::crate
