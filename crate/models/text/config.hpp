// TextConfig: every choice of the causal language models in crate/models/text/ (crate-spec §7.1,
// crate-family.md §2.4, §2.5, §5.3). Three families:
//   crate-gpt  CRATE-GPT (PR #13): z += c_proj(CausalMSSA(prenorm_1 z)); z = ISTA(prenorm_2 z) with no
//              residual and a complete d x d dictionary; no final LayerNorm; logits = z wte^T (tied).
//   crate-lm   CRATE-LM: the same attention, ISTA with an overcomplete dictionary W (r d x d, r = 4) and
//              two steps from A0 = 0, decoded by the same W; ln_f before the tied head.
//   gpt2       nanoGPT's GPT-2: c_attn d -> 3d (separate Q, K, V), causal attention, c_proj; a GELU MLP
//              of 4d; ln_f; tied head; `bias` switches every Linear and LayerNorm bias on or off.
// attention tssa (crate-gpt, crate-lm only): ToST's causal token-statistics attention in place of the
//              causal MSSA: x += c_proj(causal_tssa(c_attn(prenorm_1 x), temp, denom_bias)) (ops/tssa.hpp),
//              linear in T; the ISTA block is unchanged. gpt2 runs its standard attention only.
// Shape letters: B batch, T tokens (<= block_size), d width, K heads (p = d / K), V vocabulary, L layers.
#pragma once

#include <cstdint>
#include <string>

#include "crate/blocks/config.hpp"
#include "tensor/dtype.hpp"

namespace wb::crate {

enum class TextFamily { crate_gpt, crate_lm, gpt2 };
const char* name_of(TextFamily f);      // "crate-gpt", "crate-lm", "gpt2"
TextFamily parse_text_family(const std::string& name);  // throws std::invalid_argument naming the known ones

struct TextConfig {
  TextFamily family = TextFamily::crate_gpt;
  std::int64_t vocab_size = 50304;  // V (50,304: GPT-2's 50,257 padded to a multiple of 64)
  std::int64_t block_size = 1024;   // longest context (rows of wpe)
  std::int64_t dim = 768;           // d
  std::int64_t depth = 12;          // L
  std::int64_t heads = 12;          // K
  std::int64_t dict_ratio = 4;      // crate-lm: ISTA width r d
  std::int64_t ista_steps = 2;      // crate-lm: proximal steps (crate-gpt: one, from A = x)
  double eta = 0.1, lambda = 0.1;   // ISTA step size and sparsity weight
  // crate-gpt, crate-lm: mssa (the causal MSSA, official) or tssa (ToST's causal TSSA). gpt2: its
  // standard attention; mssa (the default) and standard both name it there, tssa is refused.
  AttentionKind attention = AttentionKind::mssa;
  bool bias = true;                 // gpt2 only (CRATE-GPT ignores the flag, as the official code)
  double ln_eps = 1e-5;
  DType dtype = DType::f32;

  std::int64_t dim_head() const { return dim / heads; }  // p
  // The attention the layers run: standard for gpt2, else `attention`.
  AttentionKind attention_kind() const { return family == TextFamily::gpt2 ? AttentionKind::standard : attention; }
  // Throws std::invalid_argument naming the field for an inconsistent configuration.
  void validate() const;
};

// Closed-form parameter count (the tied head counted once); with_wpe false leaves out the position
// embedding (block_size x d), as the CRATE-LM table counts.
std::int64_t count_parameters(const TextConfig& c, bool with_wpe = true);

}  // namespace wb::crate
