// Task: what the training loop needs to know about one family of models, and nothing more.
//
// A task owns its model and its data. It turns a batch into a loss and named metrics, says how it is
// evaluated, which CRATE layers it holds (for the objectives the loop adds and for the measurement
// hook), and how its weights are written and read. The loop (loop.hpp) alone owns everything around
// that: the optimizer and schedule, resume, SIGINT, checkpoints, progress, the metrics log and the
// measurement hook. Classification (objectives/classification.hpp) is the first task; adding a model
// family is one folder under models/, one objective and one task (docs/ARCHITECTURE.md).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crate/blocks/layer.hpp"
#include "crate/instruments/measure.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/train/options.hpp"
#include "crate/train/records.hpp"
#include "datasets/loader.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {

enum class Phase { train, eval };

// One batch through the task.
struct TaskStep {
  Tensor loss;              // scalar graph tensor: the task's own loss (the loop adds its objectives)
  std::int64_t count = 0;   // examples in the batch (the loss is their mean)
  Metrics sums;             // per-metric sums over the batch's examples
};

// The loaders of a run. Loaders own prefetch threads, so they are held by pointer.
struct TaskData {
  std::unique_ptr<data::Loader> train, test;
  std::unique_ptr<data::Loader> measure;  // only when the options ask for measurements
};

class Task {
 public:
  virtual ~Task() = default;
  virtual const std::string& name() const = 0;  // the model's name, for messages
  virtual Module& model() = 0;
  // Builds the loaders of a run from the options, checking the data against the model.
  virtual TaskData open_data(const TrainOptions& o) = 0;
  // The loss and metric sums of one batch. With `traces`, the forward fills one LayerTrace per
  // CRATE layer of layers() (graph tensors, so objectives on them backpropagate).
  virtual TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) = 0;
  virtual std::vector<MetricSpec> metrics() const = 0;
  virtual const char* unit() const { return "img"; }          // what `count` counts: the rate's unit ("img", "tok")
  virtual const char* eval_split() const { return "test"; }  // what the evaluation loader holds, for the terminal and plots
  // The CRATE layers the traces of step() belong to, in order.
  virtual std::vector<const CrateLayer*> layers() const = 0;
  // The per-layer measurement of the model on one pass over `loader` (evaluation mode).
  virtual Measurement measure(data::Loader& loader, const std::string& label) = 0;
  // Writes the weights as <path> (safetensors, with `metadata` and the model's own config entry).
  virtual void save_weights(const std::string& path, std::map<std::string, std::string> metadata) = 0;
  // Copies the weights of `file` (read from `path`) into the model (io/checkpoint.hpp's LoadMode).
  virtual LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) = 0;
  // The generators whose state a checkpoint must carry (dropout), by name.
  virtual std::vector<std::pair<std::string, Generator*>> generators() = 0;
  // Called after each epoch's checkpoint (epoch counted from 1), for what a family shows per epoch
  // (the MAE's reconstruction grid); nothing by default.
  virtual void end_of_epoch(std::int64_t /*epoch*/, const TrainOptions& /*options*/) {}
  // Metrics that are functions of an epoch's mean loss rather than sums over examples (the language
  // model's perplexity exp(loss)), added to the epoch record's train and test means; none by default.
  virtual void derive_metrics(double /*mean_loss*/, Metrics& /*means*/) const {}
};

}  // namespace wb::crate
