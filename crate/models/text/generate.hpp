// Sampling from a causal language model (crate/models/text/), as nanoGPT's generate: at every step the
// context is the last block_size tokens, the logits of its last position are divided by the
// temperature, all but the top_k largest set to -inf (top_k 0: all kept; ties with the k-th value
// kept), softmax in float64, one token drawn from Generator(seed) by inverse CDF (one uniform per
// token). top_k = 1 is greedy decoding (argmax, the lowest id among ties). `vocab_limit` (the
// tokenizer's V when the model's V is padded, e.g. 50,257 of 50,304) excludes the padding ids.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "crate/models/text/text_model.hpp"

namespace wb::crate {

struct GenerateOptions {
  std::int64_t max_tokens = 100;
  double temperature = 1.0;   // > 0
  std::int64_t top_k = 0;     // 0: no truncation
  std::uint64_t seed = 0;
  std::int64_t vocab_limit = 0;  // 0: the model's V
};

struct GenerateResult {
  std::vector<std::int64_t> prompt;  // the prompt as used (cropped to the last block_size tokens)
  std::int64_t cropped = 0;          // tokens dropped from the front of the prompt
  std::vector<std::int64_t> tokens;  // the generated tokens
};

// Throws std::invalid_argument for an empty prompt, an id outside [0, V) (naming it and its position),
// a temperature <= 0, top_k < 0 or vocab_limit > V. `on_token` (if given) is called with each token as
// it is drawn (stream it). Runs without a graph, in evaluation mode.
GenerateResult generate(TextModel& model, const std::vector<std::int64_t>& prompt, const GenerateOptions& options,
                        const std::function<void(std::int64_t)>& on_token = {});

// The next-token distribution of the options above from one row of logits (V values, float64): the
// probabilities (zero outside the top k and at and above vocab_limit).
std::vector<double> next_token_probabilities(const std::vector<double>& logits, const GenerateOptions& options);

}  // namespace wb::crate
