// The causal language-modelling task (`whitebox train --task lm`): token windows of the block size T
// (datasets/text/windows.hpp) through a model of crate/models/text/ (CRATE-GPT, CRATE-LM, GPT-2),
// with the next-token cross-entropy, mean over the B T predicted tokens (TextModel::loss).
//
// Data: the Brown corpus (datasets/text/brown.hpp) train split for training, its validation split for
// the evaluation after every "epoch" (steps_per_epoch optimizer steps of random windows), tokenized by
// `tokenizer` and cached in cache_dir (default <out>/tokens) as token_cache files. Training windows are
// random (seeded by the run's seed, a pure function of the position, so --resume is bit for bit);
// validation windows are tiled, test_limit of them (0: the whole split). Metrics: `count` is tokens (the
// rate on the terminal is tokens/s); perplexity = exp(mean loss), train and validation, per epoch.
// Checkpoints are text_checkpoint files with the tokenizer spec in "whitebox.tokenizer", which
// `whitebox generate` reads back.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "crate/models/text/text_model.hpp"
#include "crate/train/task.hpp"
#include "datasets/text/token_cache.hpp"

namespace wb::crate {

// Metadata key of the tokenizer spec in a language model's checkpoint.
inline constexpr const char* kTokenizerKey = "whitebox.tokenizer";

// The tokenizer spec a text checkpoint was trained with ("" when it records none).
std::string checkpoint_tokenizer(const SafeTensors& file);

class LmTask : public Task {
 public:
  // Builds the model of o.text (seeded by o.seed); the corpus is read and tokenized by open_data.
  explicit LmTask(const TrainOptions& o);
  // Given streams instead of the corpus (tests, other corpora): both must match the tokenizer's V.
  LmTask(const TrainOptions& o, data::text::TokenStream train, data::text::TokenStream validation);
  const std::string& name() const override { return name_; }
  Module& model() override { return *model_; }
  const TextModel& text_model() const { return *model_; }
  TaskData open_data(const TrainOptions& o) override;
  TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) override;
  std::vector<MetricSpec> metrics() const override { return {{"perplexity", "ppl", false}}; }
  const char* unit() const override { return "tok"; }
  const char* eval_split() const override { return "validation"; }
  std::vector<const CrateLayer*> layers() const override { return {}; }
  Measurement measure(data::Loader& loader, const std::string& label) override;
  void save_weights(const std::string& path, std::map<std::string, std::string> metadata) override;
  LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) override;
  std::vector<std::pair<std::string, Generator*>> generators() override { return {}; }
  void derive_metrics(double mean_loss, Metrics& means) const override;

 private:
  std::string name_, tokenizer_;
  std::unique_ptr<TextModel> model_;
  std::optional<data::text::TokenStream> train_, validation_;
};

}  // namespace wb::crate
