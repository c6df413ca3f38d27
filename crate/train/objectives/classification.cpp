#include "crate/train/objectives/classification.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/checkpoint.hpp"
#include "datasets/registry.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

ClassificationTask::ClassificationTask(const TrainOptions& o)
    : model_(std::make_unique<CrateModel>(o.model)), label_smoothing_(o.label_smoothing) {}

ClassificationTask::ClassificationTask(std::unique_ptr<CrateModel> model, double label_smoothing)
    : model_(std::move(model)), label_smoothing_(label_smoothing) {
  if (!model_) throw std::invalid_argument("ClassificationTask: no model");
}

TaskData ClassificationTask::open_data(const TrainOptions& o) {
  auto train_set = std::make_shared<data::Dataset>(
      data::load_dataset(o.data, o.data_dir, data::Split::train, o.train_limit));
  auto test_set = std::make_shared<data::Dataset>(data::load_dataset(o.data, o.data_dir, data::Split::test, o.test_limit));
  const CrateConfig& mc = model_->config();
  if (train_set->channels != mc.channels || train_set->height != mc.image_size || train_set->width != mc.image_size ||
      train_set->num_classes != mc.num_classes)
    throw std::invalid_argument(fmt::format(
        "train: model '{}' expects {}x{}x{} images and {} classes; dataset '{}' has {}x{}x{} and {} classes", mc.name,
        mc.channels, mc.image_size, mc.image_size, mc.num_classes, o.data, train_set->channels, train_set->height,
        train_set->width, train_set->num_classes));
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed;
  lo.normalization = data::dataset_info(o.data).normalization;
  lo.crop_padding = !o.augment ? 0 : o.crop_padding >= 0 ? o.crop_padding : (mc.image_size <= 28 ? 0 : 4);
  lo.horizontal_flip = o.augment && o.flip;
  TaskData d;
  d.train = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(train_set), lo);
  d.test = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(test_set), data::eval_options(lo));
  if (o.measure_every > 0) {
    auto subset = std::make_shared<data::Dataset>(test_set->subset(0, std::min(o.measure_limit, test_set->size())));
    d.measure = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(subset), data::eval_options(lo));
  }
  return d;
}

TaskStep classification_step(const Tensor& logits, const Tensor& labels, double label_smoothing) {
  TaskStep s;
  s.loss = ops::cross_entropy(logits, labels, -100, label_smoothing);
  const auto pred = ops::argmax(logits.detach(), 1).to_vector<std::int64_t>();
  const auto y = labels.to_vector<std::int64_t>();
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
  s.count = static_cast<std::int64_t>(y.size());
  s.sums["accuracy"] = static_cast<double>(correct);
  return s;
}

TaskStep ClassificationTask::step(const data::Batch& b, Phase phase, std::vector<LayerTrace>* traces) {
  const Tensor logits = model_->forward(b.x, traces);
  return classification_step(logits, b.y, phase == Phase::train ? label_smoothing_ : 0.0);
}

std::vector<const CrateLayer*> ClassificationTask::layers() const {
  return {model_->layers().begin(), model_->layers().end()};
}

Measurement ClassificationTask::measure(data::Loader& loader, const std::string& label) {
  return crate::measure(*model_, loader, label);
}

void ClassificationTask::save_weights(const std::string& path, std::map<std::string, std::string> metadata) {
  save_model(path, *model_, std::move(metadata));
}

LoadReport ClassificationTask::load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) {
  if (auto it = file.metadata.find("whitebox.config"); it != file.metadata.end()) {  // another family's file
    const auto j = nlohmann::json::parse(it->second, nullptr, false);
    if (j.is_object() && j.contains("family"))
      throw std::runtime_error(fmt::format("{}: a checkpoint of the '{}' model family, not a classifier (for an MAE "
                                           "encoder use --task mae-classify)",
                                           path, j.at("family").is_string() ? j.at("family").get<std::string>() : "?"));
  }
  return crate::load_weights(*model_, file, path, mode);
}

std::vector<std::pair<std::string, Generator*>> ClassificationTask::generators() {
  return {{"dropout_rng", &model_->dropout_generator()}};
}

}  // namespace wb::crate
