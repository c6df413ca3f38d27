// BlockConfig: every choice inside one CRATE layer (or its ViT baseline) as a config value. Whole
// models extend it with their input, depth and head (models/vision/config.hpp for the classifier).
//
// Defaults follow the official implementation (crate-spec §1): one projection U shared by query, key
// and value, scale 1/sqrt(p), free output projection with bias, ISTA with a square dictionary, step
// eta = 0.1 and threshold lambda = 0.1, no residual around ISTA, pre-LN. The enums select the paper's
// forms and the variants of spec §1.6 and §9; their JSON and CLI names are those of name_of() below.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "ops/tssa.hpp"
#include "tensor/dtype.hpp"

namespace wb::crate {

enum class AttentionKind { mssa, standard, tssa };  // tied U (CRATE) | separate Q, K, V (ViT) | ToST's TSSA
enum class MlpKind { ista, mlp, none };          // ISTA step | GELU MLP of mlp_ratio x width (ViT) | attention only
                                                 // (no second block: Z^{l+1} = Z^{l+1/2}; Hu et al. 2024)
enum class OutputMap { free, paper, transposed };  // W_o, b_o | U itself times p/(N eps^2) | U itself, unscaled
                                                   // (W_o tied to U^T, no bias: the critique's "transposed")
enum class Dictionary { complete, overcomplete };  // d x d | CRATE-alpha's d x r d, two ISTA steps
enum class MssaSign { plus, minus };  // Z + MSSA(LN Z) (official) | Z - MSSA(LN Z) (the critique's "negative")

// The names of each enum's values, in declaration order ("mssa", "standard", ...).
std::span<const char* const> enum_names(AttentionKind);
std::span<const char* const> enum_names(MlpKind);
std::span<const char* const> enum_names(OutputMap);
std::span<const char* const> enum_names(Dictionary);
std::span<const char* const> enum_names(ops::TssaForm);  // "coded", "paper"
std::span<const char* const> enum_names(MssaSign);

template <class E>
const char* name_of(E e) {
  return enum_names(E{})[static_cast<std::size_t>(e)];
}
// Parses a name; throws std::invalid_argument "<field> must be 'a' or 'b', got 'x'".
std::size_t enum_index(std::span<const char* const> names, const std::string& name, const char* field);
template <class E>
E enum_from_name(const std::string& name, const char* field) {
  return static_cast<E>(enum_index(enum_names(E{}), name, field));
}

struct BlockConfig {
  std::int64_t dim = 384;       // d
  std::int64_t heads = 6;       // K (heads, the subspaces U_1..U_K)
  std::int64_t dim_head = 64;   // p (K * p = d in every released configuration)
  // ISTA
  double eta = 0.1;     // step size (`step_size` / `ista` in the official code)
  double lambda = 0.1;  // sparsity weight (`lambd`)
  double ln_eps = 1e-5;
  double dropout = 0.0;      // embedding / attention dropout (0 in the official CRATE)
  DType dtype = DType::f32;

  // ---- variants (the official CRATE is the default of each) ----
  AttentionKind attention = AttentionKind::mssa;
  MlpKind mlp = MlpKind::ista;
  std::int64_t mlp_ratio = 4;
  bool ista_residual = false;            // z = z_half + ISTA(LN(z_half)) instead of ISTA(LN(z_half))
  bool learnable_ista = false;           // eta and lambda as trained parameters
  OutputMap output_map = OutputMap::free;
  double paper_eps = 0.1;                // eps of the paper's output scale p/(N eps^2)
  Dictionary dictionary = Dictionary::complete;
  std::int64_t overcomplete_ratio = 4;
  // TSSA (attention tssa; ops/tssa.hpp): ToST's coded form, or the paper's with c = d / paper_eps^2
  // and step 1 (the output carries 1/n)
  ops::TssaForm tssa_form = ops::TssaForm::coded;
  // LayerScale (ToST, CaiT): z + gamma_1 . attn(LN z), z + gamma_2 . f(LN z), gamma_i (d) initialised
  // to this value; 0 = none. Needs a residual around the second block (mlp, or ista_residual).
  double layer_scale = 0.0;
  MssaSign mssa_sign = MssaSign::plus;   // the sign of the compression step's update

  std::int64_t inner_dim() const { return heads * dim_head; }  // K p
  // The layer adds its input back after the sparsification step (always for the ViT MLP).
  bool residual_after_mlp() const { return ista_residual || mlp == MlpKind::mlp; }
  // Throws std::invalid_argument("config '<name>': ...") naming the first inconsistent field.
  void validate(const std::string& name) const;
};

// Closed-form parameter count of one layer of this configuration (two LayerNorms, the attention
// block and the ISTA or MLP block; crate-spec §1.5). Throws std::overflow_error when it does not fit
// in 64 bits (absurd sizes, e.g. from a forged checkpoint); approx_ is the same formula in double.
std::int64_t count_layer_parameters(const BlockConfig& c);
double approx_layer_parameters(const BlockConfig& c);

}  // namespace wb::crate
