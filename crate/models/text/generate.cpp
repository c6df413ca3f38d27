#include "crate/models/text/generate.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

std::vector<double> next_token_probabilities(const std::vector<double>& logits, const GenerateOptions& o) {
  const auto v = static_cast<std::int64_t>(logits.size());
  const std::int64_t limit = o.vocab_limit > 0 ? std::min(o.vocab_limit, v) : v;
  std::vector<double> z(logits.begin(), logits.begin() + limit);
  for (double& x : z) x /= o.temperature;
  if (o.top_k > 0 && o.top_k < limit) {
    std::vector<double> sorted = z;
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<>());
    const double kth = sorted[static_cast<std::size_t>(o.top_k - 1)];
    for (double& x : z)
      if (x < kth) x = -std::numeric_limits<double>::infinity();
  }
  const double m = *std::max_element(z.begin(), z.end());
  std::vector<double> p(static_cast<std::size_t>(v), 0.0);
  double total = 0.0;
  for (std::int64_t i = 0; i < limit; ++i) total += p[static_cast<std::size_t>(i)] = std::exp(z[static_cast<std::size_t>(i)] - m);
  for (double& x : p) x /= total;
  return p;
}

GenerateResult generate(TextModel& model, const std::vector<std::int64_t>& prompt, const GenerateOptions& o,
                        const std::function<void(std::int64_t)>& on_token) {
  const TextConfig& c = model.config();
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt is empty (give at least one token)");
  for (std::size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= c.vocab_size)
      throw std::invalid_argument(fmt::format("generate: prompt token {} at position {} is outside the model's "
                                              "vocabulary [0, {})",
                                              prompt[i], i, c.vocab_size));
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw std::invalid_argument(fmt::format("generate: temperature must be positive, got {}", o.temperature));
  if (o.top_k < 0) throw std::invalid_argument(fmt::format("generate: top-k must be >= 0, got {}", o.top_k));
  if (o.max_tokens < 0) throw std::invalid_argument(fmt::format("generate: max tokens must be >= 0, got {}", o.max_tokens));
  if (o.vocab_limit > c.vocab_size)
    throw std::invalid_argument(fmt::format("generate: the tokenizer's {} ids exceed the model's vocabulary of {}",
                                            o.vocab_limit, c.vocab_size));
  const ModeGuard eval(model, false);
  autograd::NoGradGuard ng;
  GenerateResult r;
  const auto t = static_cast<std::size_t>(c.block_size);
  r.cropped = prompt.size() > t ? static_cast<std::int64_t>(prompt.size() - t) : 0;
  r.prompt.assign(prompt.begin() + r.cropped, prompt.end());
  std::vector<std::int64_t> context = r.prompt;
  Generator gen(o.seed);
  for (std::int64_t step = 0; step < o.max_tokens; ++step) {
    const std::size_t n = std::min(context.size(), t);
    Tensor ids = Tensor::empty({1, static_cast<std::int64_t>(n)}, DType::i64);
    std::copy(context.end() - static_cast<std::ptrdiff_t>(n), context.end(), ids.data<std::int64_t>());
    const Tensor logits = model.forward(ids);  // (1, n, V)
    const Tensor last = prim::cast(prim::contiguous(prim::select(prim::select(logits, 0, 0), 0, static_cast<std::int64_t>(n) - 1)), DType::f64);
    const std::vector<double> p = next_token_probabilities(last.to_vector<double>(), o);
    std::int64_t next = 0;
    if (o.top_k == 1) {  // greedy: no draw
      next = std::max_element(p.begin(), p.end()) - p.begin();
    } else {
      const double u = gen.uniform();
      double acc = 0.0;
      next = -1;
      for (std::size_t i = 0; i < p.size(); ++i) {
        if (p[i] == 0.0) continue;
        acc += p[i];
        next = static_cast<std::int64_t>(i);
        if (u < acc) break;
      }
    }
    context.push_back(next);
    r.tokens.push_back(next);
    if (on_token) on_token(next);
  }
  return r;
}

}  // namespace wb::crate
