#include "crate/blocks/config.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace wb::crate {

std::span<const char* const> enum_names(AttentionKind) {
  static constexpr const char* names[] = {"mssa", "standard", "tssa"};
  return names;
}
std::span<const char* const> enum_names(MlpKind) {
  static constexpr const char* names[] = {"ista", "mlp", "none"};
  return names;
}
std::span<const char* const> enum_names(OutputMap) {
  static constexpr const char* names[] = {"free", "paper", "transposed"};
  return names;
}
std::span<const char* const> enum_names(Dictionary) {
  static constexpr const char* names[] = {"complete", "overcomplete"};
  return names;
}

std::span<const char* const> enum_names(ops::TssaForm) {
  static constexpr const char* names[] = {"coded", "paper"};
  return names;
}
std::span<const char* const> enum_names(MssaSign) {
  static constexpr const char* names[] = {"plus", "minus"};
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
  if (mlp_ratio <= 0 || overcomplete_ratio <= 0) fail("mlp_ratio and overcomplete_ratio must be positive");
  if (output_map == OutputMap::paper && (attention != AttentionKind::mssa || inner_dim() != dim))
    fail("the paper's output map needs attention 'mssa' and heads * dim_head == dim");
  if (output_map == OutputMap::transposed && attention != AttentionKind::mssa)
    fail("the transposed output map (U as W_o^T) needs attention 'mssa'");
  if (mssa_sign == MssaSign::minus && attention != AttentionKind::mssa)
    fail("mssa_sign 'minus' is a variant of attention 'mssa'");
  if (mlp == MlpKind::none && (ista_residual || learnable_ista))
    fail("mlp 'none' (attention only) has no ISTA block to add a residual around or to learn");
  if (dictionary == Dictionary::overcomplete && mlp != MlpKind::ista)
    fail("the overcomplete dictionary is an ISTA variant (mlp 'ista')");
  if (eta <= 0.0 || lambda < 0.0) fail(fmt::format("eta {} must be > 0 and lambda {} >= 0", eta, lambda));
  if (dropout < 0.0 || dropout >= 1.0) fail(fmt::format("dropout {} must be in [0, 1)", dropout));
  if (!is_floating(dtype)) fail("dtype must be f32 or f64");
  if (!(layer_scale >= 0.0)) fail(fmt::format("layer_scale {} must be >= 0 (0: none)", layer_scale));
  if (layer_scale > 0.0 && !residual_after_mlp())
    fail("layer_scale needs a residual around the second block (mlp 'mlp' or ista_residual)");
}

namespace {
// The closed form in any number type: int64 for the count, double for the overflow check.
template <class N>
N layer_parameters_as(const BlockConfig& c) {
  const N d = static_cast<N>(c.dim), kp = static_cast<N>(c.heads) * static_cast<N>(c.dim_head);
  N layer = c.mlp == MlpKind::none ? 2 * d : 4 * d;  // two LayerNorms (one when attention only)
  if (c.attention == AttentionKind::mssa) {
    layer += kp * d;                                          // U (qkv, no bias)
    // W_o, b_o; the official code has none (nn.Identity) for one head as wide as the model (mssa.cpp)
    const bool project_out = !(c.heads == 1 && c.dim_head == c.dim);
    if (c.output_map == OutputMap::free && project_out) layer += d * kp + d;
  } else if (c.attention == AttentionKind::tssa) {
    layer += kp * d + kp + static_cast<N>(c.heads) + d * kp + d;  // U with bias, temp (K, 1), W_o, b_o
  } else {
    layer += 3 * (kp * d + kp) + d * kp + d;  // q, k, v with bias; out projection
  }
  if (c.layer_scale > 0.0) layer += 2 * d;  // gamma1, gamma2
  if (c.mlp == MlpKind::ista) {
    const bool over = c.dictionary == Dictionary::overcomplete;
    const N atoms = over ? static_cast<N>(c.overcomplete_ratio) * d : d;
    layer += over ? 2 * d * atoms : d * d;
    if (c.learnable_ista) layer += 2;
  } else if (c.mlp == MlpKind::mlp) {
    const N h = static_cast<N>(c.mlp_ratio) * d;
    layer += d * h + h + h * d + d;
  }
  return layer;
}
}  // namespace

double approx_layer_parameters(const BlockConfig& c) { return layer_parameters_as<double>(c); }

std::int64_t count_layer_parameters(const BlockConfig& c) {
  if (approx_layer_parameters(c) >= 0x1p62)
    throw std::overflow_error(fmt::format("the parameter count of a layer of dim {}, heads {}, dim_head {} does not "
                                          "fit in 64 bits",
                                          c.dim, c.heads, c.dim_head));
  return layer_parameters_as<std::int64_t>(c);
}

}  // namespace wb::crate
