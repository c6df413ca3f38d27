// The training loop, the engine behind `whitebox train`, over any task (task.hpp).
//
// One run directory holds everything a researcher needs to plot, resume and reload:
//   options.json          the resolved options and model config
//   metrics.jsonl         {"kind":"step",...} every log_every steps and {"kind":"epoch",...} after each
//                         epoch (train/test loss and the task's metrics, lr, time; run_log.hpp)
//   checkpoint-NNNNNN/    the latest checkpoint, committed atomically (run_state.hpp):
//     model.safetensors   its weights (official PyTorch state_dict names; io/checkpoint.hpp)
//     train_state.safetensors  optimizer buffers and step counts, the position in the data, RNG states
//   model.safetensors     the latest checkpoint's weights (a hard link into checkpoint-NNNNNN/)
//   .lock                 the one-writer lock (io/file_lock.hpp)
//   curves.png            loss and each metric against epoch (gnuplot)
//   measure.{csv,json,png}  with --measure-every: per-layer compression and sparsity
//                         (instruments/measure.hpp) at initialization and every N epochs
// Checkpoints are written atomically at the end of every epoch (and every checkpoint_every steps, and
// on Ctrl-C); --resume continues from them exactly: the batches, augmentations, optimizer state and
// schedule are those of an uninterrupted run, so the result is bit for bit the same.
// A non-finite loss, gradient, weight or metric stops the run with an error naming the step; the last
// checkpoint, all finite, stays in place and no NaN reaches metrics.jsonl. A folder with no complete
// checkpoint (a run killed before its first) is started afresh, or from scratch under --resume, with
// a message saying which. The loop adds the objectives of the options to the task's loss (--srr-weight:
// objectives/sparse_rate_reduction.hpp), starts from --init-from's weights and holds --freeze's
// parameters fixed.
#pragma once

#include <string>
#include <vector>

#include "crate/train/options.hpp"
#include "crate/train/records.hpp"
#include "crate/train/task.hpp"

namespace wb::crate {

struct TrainResult {
  std::vector<EpochRecord> epochs;  // every epoch of the run, including those before a resume
  double seconds = 0.0;             // wall time of this invocation
  std::string model_path;
  bool interrupted = false;
};

// Trains `task`'s model under `options` (validated here).
TrainResult train(Task& task, const TrainOptions& options);
// The classification task of options.model on options.data (objectives/classification.hpp).
TrainResult train(const TrainOptions& options);

// The names of `params` matching any of the glob `patterns` (fnmatch); throws std::invalid_argument
// naming a pattern that matches no parameter.
std::vector<std::string> match_parameters(const NamedTensors& params, const std::vector<std::string>& patterns);

}  // namespace wb::crate
