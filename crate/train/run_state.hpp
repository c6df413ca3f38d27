// Run state: where the loop stands, committed together with the weights so that --resume continues
// exactly, whatever moment the process died at.
//
// A checkpoint is a directory <out>/checkpoint-NNNNNN (NNNNNN counts the checkpoints of the run)
// holding model.safetensors (the task's weights, tagged with the optimizer step in "whitebox.step")
// and train_state.safetensors (the optimizer's tensors as "optim.*", and as JSON metadata
// "whitebox.train_state" the position, the running sums of a partly done epoch, the history of
// finished epochs, the task's generator states and the options that shape the trajectory). It is
// written under a temporary name (.checkpoint-NNNNNN.tmp.XXXXXX, every file fsynced) and published by
// one rename (and a directory fsync): a directory named checkpoint-NNNNNN is always complete, and the
// highest-numbered one is the run's checkpoint. Then <out>/model.safetensors is made a hard link to
// its weights (the path eval, --init-from and the official PyTorch code load) and the older
// checkpoint is removed. A process killed at any moment leaves the previous checkpoint or the new one;
// tidy_run_folder repairs the rest (temporaries, older checkpoints, a stale model.safetensors) at the
// next start. Run folders of older whitebox versions (model.safetensors and train_state.safetensors
// side by side) are still resumed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "crate/train/options.hpp"
#include "crate/train/records.hpp"
#include "crate/train/task.hpp"
#include "ops/optim/optimizer.hpp"

namespace wb::crate {

struct Position {
  std::int64_t epoch = 0;  // epoch to run next (0-based)
  std::int64_t batch = 0;  // its first batch
  std::int64_t step = 0;   // optimizer steps so far
  double loss_sum = 0.0;   // running sums of a partly done epoch
  Metrics sums;
  std::int64_t seen = 0;
  double seconds = 0.0;
};

struct RunPaths {
  std::string dir, model, options, metrics, measurements;  // model: the latest weights (a link)
  explicit RunPaths(const std::string& out_dir);
};

// One complete checkpoint of a run folder.
struct CheckpointRef {
  std::string dir;    // <out>/checkpoint-NNNNNN (or <out> itself for an older whitebox's layout)
  std::string model;  // its model.safetensors
  std::string state;  // its train_state.safetensors
  std::int64_t number = 0;  // NNNNNN; 0 for the older layout
};
// The run folder's latest complete checkpoint, if any.
std::optional<CheckpointRef> latest_checkpoint(const std::string& out_dir);
// The "whitebox.train_state" JSON of a checkpoint; throws naming the file when it has none or it does
// not parse.
nlohmann::json read_train_state(const CheckpointRef& ref);

// Repairs what a process killed mid-checkpoint leaves (call under the run folder's lock, before
// anything else): removes temporaries and checkpoints older than the latest, and points
// model.safetensors at the latest checkpoint's weights. Returns one line per repair, for the user.
std::vector<std::string> tidy_run_folder(const RunPaths& paths);

// Commits a new checkpoint (see above) and removes the previous one.
void save_checkpoint(const RunPaths& paths, const TrainOptions& o, const Position& p,
                     const std::vector<EpochRecord>& history, Task& task, optim::Optimizer& opt);
// The inverse: loads checkpoint `ref` into task, optimizer, position and history; throws naming the
// file when it does not match the options, holds non-finite weights, or is damaged.
void load_checkpoint(const CheckpointRef& ref, const TrainOptions& o, Position& pos, std::vector<EpochRecord>& history,
                     Task& task, optim::Optimizer& opt);

}  // namespace wb::crate
