// Run state: where the loop stands, written beside the weights so that --resume continues exactly.
//
// A checkpoint is two files in the run directory: model.safetensors (the task's weights, tagged
// with the optimizer step in "whitebox.step") and train_state.safetensors (the optimizer's tensors
// as "optim.*", and as JSON metadata "whitebox.train_state" the position, the running sums of a
// partly done epoch, the history of finished epochs, the task's generator states and the options
// that shape the trajectory). The weights are written first: a run killed between the two files
// leaves weights one step ahead of their state, which load_checkpoint refuses.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
  std::string dir, model, state, options, metrics, measurements;
  explicit RunPaths(const std::string& out_dir);
};

void save_checkpoint(const RunPaths& paths, const TrainOptions& o, const Position& p,
                     const std::vector<EpochRecord>& history, Task& task, optim::Optimizer& opt);
// The inverse: loads the checkpoint of `paths` into task, optimizer, position and history; throws
// naming the file when it is missing, does not match the options, or was cut short.
void load_checkpoint(const RunPaths& paths, const TrainOptions& o, Position& pos, std::vector<EpochRecord>& history,
                     Task& task, optim::Optimizer& opt);

}  // namespace wb::crate
