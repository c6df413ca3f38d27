#include "crate/train/records.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace wb::crate {
using nlohmann::json;

double EvalResult::metric(const std::string& name) const {
  const auto it = metrics.find(name);
  if (it == metrics.end()) throw std::out_of_range(fmt::format("evaluation has no metric '{}'", name));
  return it->second;
}

std::string per_second_key(const std::string& unit) {
  if (unit == "img") return "images_per_second";
  if (unit == "tok") return "tokens_per_second";
  return unit + "_per_second";
}

json to_json(const EpochRecord& e) {
  json j = {{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"test_loss", e.test_loss},
            {"lr", e.lr},       {"seconds", e.seconds},       {per_second_key(e.unit), e.samples_per_second}};
  for (const auto& [name, v] : e.train) j["train_" + name] = v;
  for (const auto& [name, v] : e.test) j["test_" + name] = v;
  return j;
}

EpochRecord epoch_from_json(const json& j) {
  EpochRecord e;
  j.at("epoch").get_to(e.epoch);
  j.at("train_loss").get_to(e.train_loss);
  j.at("test_loss").get_to(e.test_loss);
  j.at("lr").get_to(e.lr);
  j.at("seconds").get_to(e.seconds);
  if (j.contains("tokens_per_second")) {
    e.unit = "tok";
    j.at("tokens_per_second").get_to(e.samples_per_second);
  } else {
    j.at("images_per_second").get_to(e.samples_per_second);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "train_loss" || k == "test_loss" || !it.value().is_number()) continue;
    if (k.rfind("train_", 0) == 0) e.train[k.substr(6)] = it.value().get<double>();
    else if (k.rfind("test_", 0) == 0) e.test[k.substr(5)] = it.value().get<double>();
  }
  return e;
}

std::string format_metrics(double loss, const Metrics& values, double count, const std::vector<MetricSpec>& specs,
                           int width, int decimals) {
  std::string s = fmt::format("loss {:.4f}", loss);
  for (const auto& m : specs) {
    const auto it = values.find(m.name);
    if (it == values.end()) continue;
    s += m.percent ? fmt::format(" {} {:{}.{}f}%", m.label, 100.0 * it->second / count, width, decimals)
                   : fmt::format(" {} {:.4f}", m.label, it->second / count);
  }
  return s;
}

}  // namespace wb::crate
