// TrainOptions: every option of a training run (`whitebox train` sets each as a flag), with its JSON
// form (the run's options.json, the ablation grid's `train` section).
//
// The loop's own options (schedule, optimizer, checkpoints, logging, the objectives it adds) and the
// classification task's (model, dataset, augmentation, label smoothing) sit side by side; a family
// whose task needs more adds its fields here and reads them in its task, the loop does not change.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/models/registry.hpp"

namespace wb::crate {

struct TrainOptions {
  std::string task = "classification";  // classification | mae | mae-classify (objectives/masked_autoencoding.hpp)
                                        // | lm (objectives/language_modeling.hpp)
  CrateConfig model = named_config("crate-mini-28");   // the classifier (task classification)
  MaeConfig mae = named_mae_config("crate-mae-mini-28");  // the autoencoder (task mae), with its mask ratio
  // Task lm: the causal language model (crate/models/text/), its tokenizer and the token windows.
  std::string text_model = "crate-gpt-d256";  // a name of text_config_names()
  TextConfig text = named_text_config("crate-gpt-d256");
  std::string tokenizer = "gpt2:8192";  // gpt2 | gpt2:V | bytes (datasets/text/bpe.hpp); V <= the model's
  std::string cache_dir;                // token caches of the corpus (default: <out>/tokens)
  std::int64_t steps_per_epoch = 200;   // lm: optimizer steps between validations ("epochs" of random windows)
  std::int64_t warmup_steps = -1;       // linear warmup in optimizer steps (-1: warmup_epochs epochs)
  std::string data = "fashion-mnist";  // a name of datasets/registry.hpp (lm: the Brown corpus, data_dir its folder)
  std::string data_dir;                // default: the dataset's standard location
  std::int64_t epochs = 10;
  std::int64_t batch_size = 128;
  std::string optimizer = "adamw";     // adamw | lion | sgd
  double lr = 1e-3;
  double weight_decay = 0.05;
  double min_lr = 1e-5;
  std::int64_t warmup_epochs = 1;
  double label_smoothing = 0.1;
  double clip_grad = 1.0;              // 0: no clipping
  double momentum = 0.9;               // sgd only
  double adam_beta2 = 0.999;           // adamw's beta2 (beta1 0.9); `train --task lm` defaults to 0.95 (nanoGPT)
  bool augment = true;                 // random crop and horizontal flip (below); false turns both off
  std::int64_t crop_padding = -1;      // random-crop padding; -1: none at 28x28 (a shift of the 4x4 patch
                                       // grid costs ~10 points of accuracy there), 4 at 32x32; 0: no crop
  bool flip = true;                    // random horizontal flip
  std::uint64_t seed = 0;              // initialization, data order, augmentation, dropout
  int threads = 0;                     // 0: all cores (or WB_NUM_THREADS)
  std::int64_t train_limit = 0;        // use only the first N training images (0: all)
  std::int64_t test_limit = 0;
  std::string out_dir = "runs/default";
  bool resume = false;
  std::int64_t log_every = 20;         // steps between "step" metric lines
  std::int64_t checkpoint_every = 0;   // steps between mid-epoch checkpoints (0: epoch ends only)
  std::int64_t stop_after_epochs = 0;  // end this invocation after N epochs (0: run to `epochs`)
  bool plot = true;
  bool progress = true;
  // Sparse rate reduction during training:
  std::int64_t measure_every = 0;      // measure per-layer R^c and sparsity at init and every N epochs (0: off)
  std::int64_t measure_limit = 256;    // test images used by each measurement
  double srr_weight = 0.0;             // adds srr_weight * (mean per-layer sparse rate reduction) to the loss
  // Starting point and frozen parameters (fine-tuning, linear probes):
  std::string init_from;               // a model.safetensors whose weights replace the initialization
  bool init_partial = false;           // load the tensors that match, list (not refuse) the rest
  std::vector<std::string> freeze;     // glob patterns (fnmatch: `*`, `?`, `[...]`) of parameters held fixed
};

nlohmann::json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const nlohmann::json& j);
// Throws std::invalid_argument("train: --flag ...") naming the first bad option.
void validate(const TrainOptions& o);
// The options that must not change across a resume (everything that shapes the trajectory).
nlohmann::json trajectory_fields(const TrainOptions& o);

}  // namespace wb::crate
