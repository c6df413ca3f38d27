// The "mae-classify" task: an MAE encoder with a class head, trained on labels.
#pragma once

#include <memory>

#include "crate/models/mae/encoder_classifier.hpp"
#include "crate/train/task.hpp"

namespace wb::crate {

// Linear probe and fine-tuning of an MAE encoder on labels (task "mae-classify"): the encoder of
// o.mae with a head of o.model.num_classes classes (models/mae/encoder_classifier.hpp), the
// cross-entropy (label smoothing in training only) and the accuracy, as the classification task.
// With --init-from an MAE checkpoint (and --init-partial) it starts from the pretrained encoder.
class MaeClassifyTask : public Task {
 public:
  explicit MaeClassifyTask(const TrainOptions& o);
  const std::string& name() const override { return name_; }
  MaeEncoderClassifier& model() override { return *model_; }
  TaskData open_data(const TrainOptions& o) override;
  TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) override;
  std::vector<MetricSpec> metrics() const override { return {{"accuracy", "acc", true}}; }
  std::vector<const CrateLayer*> layers() const override;
  Measurement measure(data::Loader& loader, const std::string& label) override;
  void save_weights(const std::string& path, std::map<std::string, std::string> metadata) override;
  LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) override;
  std::vector<std::pair<std::string, Generator*>> generators() override { return {}; }

 private:
  std::unique_ptr<MaeEncoderClassifier> model_;
  std::string name_;
  double label_smoothing_;
};

}  // namespace wb::crate
