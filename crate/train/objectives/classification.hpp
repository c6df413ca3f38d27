// The classification task: images (B, C, H, W) and class indices (B) through the CRATE (or ViT)
// classifier of models/vision/, with the cross-entropy loss (label smoothing s in training only,
// target (1 - s) onehot + s / C) and the accuracy metric (the sum of correct top-1 predictions).
// Its data come from the dataset registry, checked against the model's input shape and classes.
#pragma once

#include <memory>

#include "crate/models/vision/classifier.hpp"
#include "crate/train/task.hpp"

namespace wb::crate {

// Cross-entropy (labels -100 ignored) and the accuracy sum of one batch of logits: the step of every
// task that classifies (this one, and an MAE encoder with a head).
TaskStep classification_step(const Tensor& logits, const Tensor& labels, double label_smoothing);

class ClassificationTask : public Task {
 public:
  // Builds the model of `o.model` (seeded by o.model.seed) with the loss options of `o`.
  explicit ClassificationTask(const TrainOptions& o);
  // Wraps a built (or loaded) model, for evaluation and gradients outside a training run.
  explicit ClassificationTask(std::unique_ptr<CrateModel> model, double label_smoothing = 0.0);
  const std::string& name() const override { return model_->config().name; }
  CrateModel& model() override { return *model_; }
  const CrateModel& classifier() const { return *model_; }
  TaskData open_data(const TrainOptions& o) override;
  TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) override;
  std::vector<MetricSpec> metrics() const override { return {{"accuracy", "acc", true}}; }
  std::vector<const CrateLayer*> layers() const override;
  Measurement measure(data::Loader& loader, const std::string& label) override;
  void save_weights(const std::string& path, std::map<std::string, std::string> metadata) override;
  LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) override;
  std::vector<std::pair<std::string, Generator*>> generators() override;

 private:
  std::unique_ptr<CrateModel> model_;
  double label_smoothing_;
};

}  // namespace wb::crate
