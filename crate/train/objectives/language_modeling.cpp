#include "crate/train/objectives/language_modeling.hpp"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "crate/io/text_checkpoint.hpp"
#include "datasets/text/brown.hpp"
#include "datasets/text/windows.hpp"

namespace wb::crate {
namespace {

std::unique_ptr<TextModel> lm_task_model(const TrainOptions& o) {
  Generator gen(o.seed);
  return make_text_model(o.text, gen);
}

// The stream's tokenizer and V must be the run's, and V must fit the model.
void check_lm_stream(const data::text::TokenStream& s, const std::string& tokenizer, const TextConfig& c,
                     const std::string& model) {
  if (s.tokenizer != tokenizer)
    throw std::invalid_argument(fmt::format("train --task lm: the {} tokens were made by tokenizer '{}', the run uses '{}'",
                                            s.source, s.tokenizer, tokenizer));
  if (s.vocab_size > c.vocab_size)
    throw std::invalid_argument(fmt::format("train --task lm: tokenizer '{}' has V = {}, more than the vocabulary of "
                                            "{} of model '{}' (choose gpt2:V with V <= {})",
                                            tokenizer, s.vocab_size, c.vocab_size, model, c.vocab_size));
}

std::string lm_cache_path(const std::string& dir, const std::string& spec, data::text::TextSplit s) {
  std::string name = spec;
  for (char& ch : name)
    if (ch == ':') ch = '-';
  return (std::filesystem::path(dir) / fmt::format("brown-{}-{}.tok", data::text::text_split_name(s), name)).string();
}

}  // namespace

std::string checkpoint_tokenizer(const SafeTensors& file) {
  const auto it = file.metadata.find(kTokenizerKey);
  return it == file.metadata.end() ? std::string() : it->second;
}

LmTask::LmTask(const TrainOptions& o) : name_(o.text_model), tokenizer_(o.tokenizer), model_(lm_task_model(o)) {}

LmTask::LmTask(const TrainOptions& o, data::text::TokenStream train, data::text::TokenStream validation)
    : LmTask(o) {
  check_lm_stream(train, tokenizer_, model_->config(), name_);
  check_lm_stream(validation, tokenizer_, model_->config(), name_);
  train_ = std::move(train);
  validation_ = std::move(validation);
}

TaskData LmTask::open_data(const TrainOptions& o) {
  namespace t = data::text;
  if (!train_ || !validation_) {
    const t::Tokenizer tok = t::Tokenizer::from_spec(o.tokenizer);
    if (tok.vocab_size() > model_->config().vocab_size)
      throw std::invalid_argument(fmt::format("train --task lm: tokenizer '{}' has V = {}, more than the vocabulary "
                                              "of {} of model '{}'",
                                              o.tokenizer, tok.vocab_size(), model_->config().vocab_size, name_));
    const t::BrownCorpus corpus = t::load_brown(o.data_dir);
    const std::string dir = o.cache_dir.empty() ? (std::filesystem::path(o.out_dir) / "tokens").string() : o.cache_dir;
    std::filesystem::create_directories(dir);
    auto load = [&](t::TextSplit s) {
      return t::cached_tokens(lm_cache_path(dir, tok.spec(), s), tok, fmt::format("brown/{}", t::text_split_name(s)),
                              [&] { return corpus.text(s); });
    };
    train_ = load(t::TextSplit::train);
    validation_ = load(t::TextSplit::validation);
    check_lm_stream(*train_, tok.spec(), model_->config(), name_);
    check_lm_stream(*validation_, tok.spec(), model_->config(), name_);
    if (o.progress)
      fmt::print(stderr, "Brown corpus, tokenizer {} (V = {}): {} training tokens, {} validation tokens\n", tok.spec(),
                 tok.vocab_size(), train_->ids.size(), validation_->ids.size());
  }
  const std::int64_t v = model_->config().vocab_size;
  t::WindowOptions w;
  w.block_size = model_->config().block_size;
  w.batch_size = o.batch_size;
  w.seed = o.seed;
  w.steps = o.steps_per_epoch;
  t::WindowOptions eval = w;
  eval.random = false;
  eval.limit = o.test_limit;
  auto train_ids = std::make_shared<const std::vector<t::TokenId>>(train_->ids);
  auto val_ids = std::make_shared<const std::vector<t::TokenId>>(validation_->ids);
  TaskData d;
  d.train = std::make_unique<t::WindowLoader>(train_ids, v, w, train_->source);
  d.test = std::make_unique<t::WindowLoader>(val_ids, v, eval, validation_->source);
  if (o.measure_every > 0) {
    t::WindowOptions m = eval;
    m.limit = o.measure_limit;
    d.measure = std::make_unique<t::WindowLoader>(val_ids, v, m, validation_->source);
  }
  return d;
}

TaskStep LmTask::step(const data::Batch& b, Phase /*phase*/, std::vector<LayerTrace>* /*traces*/) {
  TaskStep s;
  s.loss = model_->loss(b.x, b.y);
  s.count = b.y.numel();
  return s;
}

void LmTask::derive_metrics(double mean_loss, Metrics& means) const { means["perplexity"] = std::exp(mean_loss); }

Measurement LmTask::measure(data::Loader& loader, const std::string& label) {
  return crate::measure(*model_, loader, label);
}

void LmTask::save_weights(const std::string& path, std::map<std::string, std::string> metadata) {
  metadata[kTokenizerKey] = tokenizer_;
  metadata["whitebox.text_model"] = name_;
  save_text_model(path, *model_, std::move(metadata));
}

LoadReport LmTask::load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) {
  const std::string tok = checkpoint_tokenizer(file);
  if (!tok.empty() && tok != tokenizer_)
    throw std::runtime_error(fmt::format("{}: trained with tokenizer '{}', this run uses '{}'", path, tok, tokenizer_));
  return load_text_weights(*model_, file, path, mode);
}

}  // namespace wb::crate
