#include "crate/blocks/config.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace wb::crate {

std::span<const char* const> enum_names(AttentionKind) {
  static constexpr const char* names[] = {"mssa", "standard"};
  return names;
}
std::span<const char* const> enum_names(MlpKind) {
  static constexpr const char* names[] = {"ista", "mlp"};
  return names;
}
std::span<const char* const> enum_names(OutputMap) {
  static constexpr const char* names[] = {"free", "paper"};
  return names;
}
std::span<const char* const> enum_names(Dictionary) {
  static constexpr const char* names[] = {"complete", "overcomplete"};
  return names;
}

std::size_t enum_index(std::span<const char* const> names, const std::string& name, const char* field) {
  std::string choices;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (name == names[i]) return i;
    choices += fmt::format("{}'{}'", i == 0 ? "" : i + 1 == names.size() ? " or " : ", ", names[i]);
  }
  throw std::invalid_argument(fmt::format("{} must be {}, got '{}'", field, choices, name));
}

void BlockConfig::validate(const std::string& name) const {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(fmt::format("config '{}': {}", name, what));
  };
  if (dim <= 0 || heads <= 0 || dim_head <= 0) fail("dim, heads and dim_head must be positive");
  if (output_map == OutputMap::paper && (attention != AttentionKind::mssa || inner_dim() != dim))
    fail("the paper's output map needs attention 'mssa' and heads * dim_head == dim");
  if (dictionary == Dictionary::overcomplete && mlp != MlpKind::ista)
    fail("the overcomplete dictionary is an ISTA variant (mlp 'ista')");
  if (eta <= 0.0 || lambda < 0.0) fail(fmt::format("eta {} must be > 0 and lambda {} >= 0", eta, lambda));
  if (dropout < 0.0 || dropout >= 1.0) fail(fmt::format("dropout {} must be in [0, 1)", dropout));
  if (!is_floating(dtype)) fail("dtype must be f32 or f64");
}

std::int64_t count_layer_parameters(const BlockConfig& c) {
  const std::int64_t d = c.dim, kp = c.inner_dim();
  std::int64_t layer = 4 * d;  // two LayerNorms
  if (c.attention == AttentionKind::mssa) {
    layer += kp * d;                                          // U (qkv, no bias)
    if (c.output_map == OutputMap::free) layer += d * kp + d;  // W_o, b_o
  } else {
    layer += 3 * (kp * d + kp) + d * kp + d;  // q, k, v with bias; out projection
  }
  if (c.mlp == MlpKind::ista) {
    const bool over = c.dictionary == Dictionary::overcomplete;
    const std::int64_t atoms = over ? c.overcomplete_ratio * d : d;
    layer += over ? 2 * d * atoms : d * d;
    if (c.learnable_ista) layer += 2;
  } else {
    const std::int64_t h = c.mlp_ratio * d;
    layer += d * h + h + h * d + d;
  }
  return layer;
}

}  // namespace wb::crate
