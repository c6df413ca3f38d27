// `whitebox generate`: text from a language model's checkpoint (train --task lm, or an official
// CRATE-GPT / nanoGPT file converted to safetensors), printed token by token as it is drawn
// (crate/models/text/generate.hpp).
#include <cstdio>
#include <memory>
#include <sstream>

#include <fmt/format.h>

#include "crate/io/text_checkpoint.hpp"
#include "crate/models/text/generate.hpp"
#include "crate/train/objectives/language_modeling.hpp"
#include "datasets/text/bpe.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {

struct GenerateFlags {
  std::string checkpoint, prompt, prompt_ids, tokenizer;
  crate::GenerateOptions g;
  int threads = 0;
};

std::vector<std::int64_t> parse_prompt_ids(const std::string& s) {
  std::vector<std::int64_t> ids;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || item.find_first_not_of(" \t", used) != std::string::npos)
      throw std::invalid_argument(fmt::format("generate --prompt-ids: '{}' is not a token id (expected e.g. 464,3290)", item));
    ids.push_back(v);
  }
  return ids;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  GenerateFlags& f = *flags;
  auto* cmd = app.add_subcommand("generate", "sample text from a language model checkpoint (train --task lm)");
  cmd->add_option("--checkpoint", f.checkpoint, "model.safetensors of a text model")->required()->check(CLI::ExistingFile);
  auto* text = cmd->add_option("--prompt", f.prompt, "prompt text (encoded with the checkpoint's tokenizer)");
  auto* ids = cmd->add_option("--prompt-ids", f.prompt_ids, "prompt as comma-separated token ids instead");
  text->excludes(ids);
  ids->excludes(text);
  cmd->add_option("--tokenizer", f.tokenizer,
                  "gpt2, gpt2:V or bytes (default: the one the checkpoint records; given, it must agree)");
  cmd->add_option("--max-tokens", f.g.max_tokens, "tokens to generate")->check(IntRange(0, 1000000))->capture_default_str();
  cmd->add_option("--temperature", f.g.temperature, "softmax temperature (> 0)")->check(Positive)->capture_default_str();
  cmd->add_option("--top-k", f.g.top_k, "sample among the k most likely tokens (0: all; 1: greedy)")
      ->check(IntRange(0, 100000000))
      ->capture_default_str();
  cmd->add_option("--seed", f.g.seed, "sampling seed")->check(Seed)->capture_default_str();
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->callback([flags] {
    GenerateFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    const crate::SafeTensors file = crate::read_safetensors(f.checkpoint);
    const std::string recorded = crate::checkpoint_tokenizer(file);
    if (!f.tokenizer.empty() && !recorded.empty() && f.tokenizer != recorded)
      throw std::invalid_argument(fmt::format("generate: {} was trained with tokenizer '{}', not '{}' (drop --tokenizer)",
                                              f.checkpoint, recorded, f.tokenizer));
    const std::string spec = !f.tokenizer.empty() ? f.tokenizer : !recorded.empty() ? recorded : "gpt2";
    const data::text::Tokenizer tok = data::text::Tokenizer::from_spec(spec);
    const auto model = crate::load_text_model(f.checkpoint);
    const std::int64_t v = model->config().vocab_size;
    if (tok.vocab_size() > v)
      throw std::invalid_argument(fmt::format("generate: tokenizer '{}' has V = {}, but {}'s vocabulary has {} ids "
                                              "(transformer.wte.weight is {} x {}); give the tokenizer it was trained with",
                                              spec, tok.vocab_size(), f.checkpoint, v, v, model->config().dim));
    std::vector<std::int64_t> prompt;
    if (!f.prompt_ids.empty()) {
      prompt = parse_prompt_ids(f.prompt_ids);
      for (std::size_t i = 0; i < prompt.size(); ++i)
        if (prompt[i] < 0 || prompt[i] >= tok.vocab_size())
          throw std::invalid_argument(fmt::format("generate --prompt-ids: token {} at position {} is outside the vocabulary "
                                                  "[0, {}) of tokenizer '{}'",
                                                  prompt[i], i, tok.vocab_size(), spec));
    } else {
      for (const auto id : tok.encode(f.prompt)) prompt.push_back(id);
    }
    if (prompt.empty())
      throw std::invalid_argument("generate: the prompt is empty; give --prompt \"some text\" or --prompt-ids");
    f.g.vocab_limit = tok.vocab_size();
    const std::int64_t block = model->config().block_size;
    if (static_cast<std::int64_t>(prompt.size()) > block)
      fmt::print(stderr, "generate: the prompt has {} tokens, more than the block size {}; cropped to its last {} tokens\n",
                 prompt.size(), block, block);
    auto decode = [&](std::int64_t id) { return tok.token_bytes(static_cast<data::text::TokenId>(id)); };
    const std::size_t first = prompt.size() > static_cast<std::size_t>(block) ? prompt.size() - static_cast<std::size_t>(block) : 0;
    for (std::size_t i = first; i < prompt.size(); ++i) std::fputs(decode(prompt[i]).c_str(), stdout);
    std::fflush(stdout);
    const auto r = crate::generate(*model, prompt, f.g, [&](std::int64_t id) {
      const std::string& b = decode(id);
      std::fwrite(b.data(), 1, b.size(), stdout);
      std::fflush(stdout);
    });
    std::fputs("\n", stdout);
    std::fflush(stdout);
    fmt::print(stderr, "generate: {} prompt tokens{}, {} generated (temperature {}, top-k {}, seed {}, tokenizer {})\n",
               r.prompt.size(), r.cropped > 0 ? fmt::format(" (cropped by {})", r.cropped) : "", r.tokens.size(),
               f.g.temperature, f.g.top_k, f.g.seed, spec);
  });
}

}  // namespace wb::cli
