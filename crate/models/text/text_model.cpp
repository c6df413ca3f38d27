#include "crate/models/text/text_model.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "crate/models/text/crate_gpt.hpp"
#include "crate/models/text/gpt2.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

Tensor text_linear(const Tensor& x, const Tensor& w, const Tensor* b) {
  Tensor y = ops::matmul(x, ops::transpose(w, 0, 1));
  return b != nullptr ? ops::add(y, *b) : y;
}

void TextModel::check_ids(const Tensor& ids) const {
  const TextConfig& c = config();
  if (ids.dtype() != DType::i64 || ids.dim() != 2)
    throw std::invalid_argument(fmt::format("{}: token ids must be (B, T) i64, got {} {}", name_of(c.family),
                                            shape_str(ids.shape()), dtype_name(ids.dtype())));
  if (ids.size(1) < 1 || ids.size(1) > c.block_size)
    throw std::invalid_argument(fmt::format("{}: {} tokens given, the block size is {} (crop the context)",
                                            name_of(c.family), ids.size(1), c.block_size));
}

Tensor TextModel::loss(const Tensor& ids, const Tensor& targets) const {
  const Tensor logits = forward(ids);
  const std::int64_t v = config().vocab_size;
  if (targets.shape() != ids.shape())
    throw std::invalid_argument(fmt::format("{}: targets {} must have the shape of the ids {}", name_of(config().family),
                                            shape_str(targets.shape()), shape_str(ids.shape())));
  return ops::cross_entropy(ops::reshape(logits, {ids.numel(), v}), prim::reshape(targets, {ids.numel()}), -1);
}

std::vector<BlockConfig> TextModel::layer_configs() const {
  const TextConfig& c = config();
  BlockConfig b;
  b.dim = c.dim;
  b.heads = c.heads;
  b.dim_head = c.dim_head();
  b.eta = c.eta;
  b.lambda = c.lambda;
  b.dtype = c.dtype;
  b.attention = c.attention_kind();
  if (c.family == TextFamily::gpt2) {
    b.mlp = MlpKind::mlp;
  }
  return std::vector<BlockConfig>(static_cast<std::size_t>(c.depth), b);
}

std::unique_ptr<TextModel> make_text_model(const TextConfig& c, Generator& gen) {
  c.validate();
  if (c.family == TextFamily::gpt2) return std::make_unique<Gpt2>(c, gen);
  return std::make_unique<CrateGpt>(c, gen);
}

}  // namespace wb::crate
