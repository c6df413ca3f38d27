#include "crate/models/text/config.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace wb::crate {

const char* name_of(TextFamily f) {
  switch (f) {
    case TextFamily::crate_gpt: return "crate-gpt";
    case TextFamily::crate_lm: return "crate-lm";
    case TextFamily::gpt2: return "gpt2";
  }
  return "?";
}

TextFamily parse_text_family(const std::string& name) {
  for (TextFamily f : {TextFamily::crate_gpt, TextFamily::crate_lm, TextFamily::gpt2})
    if (name == name_of(f)) return f;
  throw std::invalid_argument(fmt::format("unknown text model family '{}' (known: crate-gpt, crate-lm, gpt2)", name));
}

void TextConfig::validate() const {
  auto positive = [](std::int64_t v, const char* what) {
    if (v <= 0) throw std::invalid_argument(fmt::format("text model: {} must be positive, got {}", what, v));
  };
  positive(vocab_size, "vocab_size");
  positive(block_size, "block_size");
  positive(dim, "dim");
  positive(depth, "depth");
  positive(heads, "heads");
  if (dim % heads != 0)
    throw std::invalid_argument(fmt::format("text model: heads {} must divide dim {}", heads, dim));
  if (family == TextFamily::crate_lm) {
    positive(dict_ratio, "dict_ratio");
    positive(ista_steps, "ista_steps");
  }
  if (family == TextFamily::gpt2 && attention == AttentionKind::tssa)
    throw std::invalid_argument(
        "text model gpt2: attention 'tssa' is not supported on the GPT-2 baseline, which runs standard attention "
        "(use a crate-gpt-* or crate-lm-* model for TSSA)");
  if (family != TextFamily::gpt2 && attention == AttentionKind::standard)
    throw std::invalid_argument(fmt::format("text model {}: attention must be 'mssa' or 'tssa', got 'standard' (gpt2-* "
                                            "is the standard-attention baseline)",
                                            name_of(family)));
  if (dtype != DType::f32 && dtype != DType::f64) throw std::invalid_argument("text model: dtype must be f32 or f64");
}

std::int64_t count_parameters(const TextConfig& c, bool with_wpe) {
  const std::int64_t d = c.dim;
  std::int64_t n = c.vocab_size * d + (with_wpe ? c.block_size * d : 0);
  std::int64_t layer = 0;
  switch (c.family) {
    case TextFamily::crate_gpt:  // prenorm_1, c_attn (no bias), c_proj (bias), prenorm_2, ista d x d
      layer = 2 * d + d * d + (d * d + d) + 2 * d + d * d;
      break;
    case TextFamily::crate_lm:  // the same with W (r d x d); plus ln_f
      layer = 2 * d + d * d + (d * d + d) + 2 * d + c.dict_ratio * d * d;
      n += 2 * d;
      break;
    case TextFamily::gpt2: {  // ln_1, c_attn d -> 3d, c_proj, ln_2, c_fc d -> 4d, c_proj 4d -> d; plus ln_f
      const std::int64_t b = c.bias ? 1 : 0;
      layer = (d + b * d) + (3 * d * d + b * 3 * d) + (d * d + b * d) + (d + b * d) + (4 * d * d + b * 4 * d) +
              (4 * d * d + b * d);
      n += d + b * d;
      break;
    }
  }
  if (c.attention_kind() == AttentionKind::tssa) layer += c.heads + c.heads * c.block_size;  // temp, denom_bias
  return n + c.depth * layer;
}

}  // namespace wb::crate
