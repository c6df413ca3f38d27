// Supervised training of a CRATE (or ViT) image classifier, the engine behind `whitebox train`.
//
// One run directory holds everything a researcher needs to plot, resume and reload:
//   options.json          the resolved options and model config
//   metrics.jsonl         one JSON object per line: {"kind":"step",...} every log_every steps and
//                         {"kind":"epoch",...} after each epoch (train/test loss and accuracy, lr, time)
//   model.safetensors     the latest weights (official PyTorch state_dict names; crate/checkpoint.hpp)
//   train_state.safetensors  optimizer buffers and step counts, the position in the data, RNG states
//   curves.png            loss and accuracy against epoch (gnuplot)
//   measure.{csv,json,png}  with --measure-every: per-layer compression and sparsity (crate/measure.hpp)
//                         at initialization and every N epochs, one curve per measurement
// Checkpoints are written atomically at the end of every epoch (and every checkpoint_every steps, and
// on Ctrl-C); --resume continues from them exactly: the batches, augmentations, optimizer state and
// schedule are those of an uninterrupted run, so the result is bit for bit the same.
// A non-finite loss or gradient stops the run with an error naming the step; the last good checkpoint
// stays in place.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/models/registry.hpp"
#include "crate/models/vision/classifier.hpp"
#include "datasets/dataset.hpp"
#include "datasets/loader.hpp"

namespace wb::crate {

struct TrainOptions {
  CrateConfig model = named_config("crate-mini-28");
  std::string data = "fashion-mnist";  // a name of datasets/registry.hpp
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
  // Sparse rate reduction during training (issue 5):
  std::int64_t measure_every = 0;      // measure per-layer R^c and sparsity at init and every N epochs (0: off)
  std::int64_t measure_limit = 256;    // test images used by each measurement
  double srr_weight = 0.0;             // adds srr_weight * (mean per-layer sparse rate reduction) to the loss
};

struct EvalResult {
  double loss = 0.0;
  double accuracy = 0.0;
  std::int64_t count = 0;
};

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_accuracy = 0, test_loss = 0, test_accuracy = 0;
  double lr = 0, seconds = 0, images_per_second = 0;
};

struct TrainResult {
  std::vector<EpochRecord> epochs;  // every epoch of the run, including those before a resume
  double seconds = 0.0;             // wall time of this invocation
  std::string model_path;
  bool interrupted = false;
};


// Loss and accuracy of `model` over a loader's epoch 0, in evaluation mode, without recording a graph.
EvalResult evaluate(const CrateModel& model, data::Loader& loader, double label_smoothing = 0.0);

nlohmann::json to_json(const TrainOptions& o);
TrainOptions train_options_from_json(const nlohmann::json& j);
// One epoch's record as it appears in metrics.jsonl (and back; throws nlohmann::json::exception).
nlohmann::json to_json(const EpochRecord& e);
EpochRecord epoch_from_json(const nlohmann::json& j);

TrainResult train(const TrainOptions& options);

}  // namespace wb::crate
