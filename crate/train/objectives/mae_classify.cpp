#include "crate/train/objectives/mae_classify.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/checkpoint.hpp"
#include "crate/train/objectives/classification.hpp"
#include "crate/train/objectives/masked_autoencoding.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

MaeClassifyTask::MaeClassifyTask(const TrainOptions& o)
    : model_(std::make_unique<MaeEncoderClassifier>(o.mae, o.model.num_classes)),
      name_(o.mae.name + "-classify"),
      label_smoothing_(o.label_smoothing) {}

TaskData MaeClassifyTask::open_data(const TrainOptions& o) {
  return mae_open_data(o, model_->config(), model_->num_classes(), nullptr);
}

TaskStep MaeClassifyTask::step(const data::Batch& b, Phase phase, std::vector<LayerTrace>* traces) {
  const Tensor logits = model_->forward(b.x, traces);
  return classification_step(logits, b.y, phase == Phase::train ? label_smoothing_ : 0.0);
}

std::vector<const CrateLayer*> MaeClassifyTask::layers() const {
  return {model_->layers().begin(), model_->layers().end()};
}

Measurement MaeClassifyTask::measure(data::Loader& loader, const std::string& label) {
  return crate::measure(*model_, layers(), loader, label,
                        [&](const data::Batch& b, std::vector<LayerTrace>& t) { (void)model_->features(b.x, &t); });
}

void MaeClassifyTask::save_weights(const std::string& path, std::map<std::string, std::string> metadata) {
  NamedTensors tensors;
  for (const auto& [n, t] : model_->named_parameters()) tensors.emplace_back(n, t.detach());
  metadata["format"] = "pt";
  nlohmann::json j = to_json(model_->config());
  j["family"] = "mae-classify";
  j["num_classes"] = model_->num_classes();
  metadata["whitebox.config"] = j.dump();
  write_safetensors(path, tensors, metadata);
}

LoadReport MaeClassifyTask::load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) {
  auto it = file.metadata.find("whitebox.config");
  if (it != file.metadata.end()) {
    const auto j = nlohmann::json::parse(it->second, nullptr, false);
    const std::string family = j.is_object() && j.contains("family") && j.at("family").is_string()
                                   ? j.at("family").get<std::string>() : "classifier";
    if (family != "mae" && family != "mae-classify")
      throw std::runtime_error(fmt::format("{}: a checkpoint of the '{}' model family; an MAE encoder loads only MAE "
                                           "checkpoints (another model family)", path, family));
  }
  return crate::load_weights(*model_, name_, file, path, mode);
}

}  // namespace wb::crate
