// What a run records: a task's named metrics, an evaluation over a loader, and one finished epoch,
// with the JSON form of the epoch as metrics.jsonl holds it.
//
// Metrics are sums over examples (for classification, "accuracy" sums the correct predictions), so
// a mean over any number of batches is one division and every partial sum is exact.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace wb::crate {

using Metrics = std::map<std::string, double>;

// How the progress line and the epoch line show a metric: "acc 83.60%" for {"accuracy", "acc", true}.
struct MetricSpec {
  std::string name;   // key in Metrics and in metrics.jsonl ("train_<name>", "test_<name>")
  std::string label;  // short label on the terminal
  bool percent = false;
};

struct EvalResult {
  double loss = 0.0;        // mean over the examples
  Metrics metrics;          // means over the examples
  std::int64_t count = 0;   // examples seen
  double metric(const std::string& name) const;  // throws std::out_of_range naming the metric
};

struct EpochRecord {
  std::int64_t epoch = 0;  // 1-based
  double train_loss = 0, test_loss = 0;
  Metrics train, test;     // means over the epoch's examples / the test set
  double lr = 0, seconds = 0, samples_per_second = 0;
  std::string unit = "img";  // what samples_per_second counts (Task::unit(): "img", "tok")
  double test_accuracy() const { return test.at("accuracy"); }
};

// {"epoch", "train_loss", "train_<metric>"..., "test_loss", "test_<metric>"..., "lr", "seconds",
// "images_per_second" (unit "img") or "tokens_per_second" (unit "tok")}, and back (every "train_*" / "test_*" key other than the losses is a metric;
// throws nlohmann::json::exception for a missing field).
nlohmann::json to_json(const EpochRecord& e);
EpochRecord epoch_from_json(const nlohmann::json& j);
// The JSON key of a rate in `unit`: "images_per_second", "tokens_per_second" (else "<unit>_per_second").
std::string per_second_key(const std::string& unit);

// "loss 0.4499 acc 86.05%": each metric shown as value / count (times 100 for a percentage), so
// running sums (count = examples) and means (count = 1) print alike. `width` and `decimals` format
// the percentages (the progress line uses 5.1, the epoch line 0.2).
std::string format_metrics(double loss, const Metrics& values, double count, const std::vector<MetricSpec>& specs,
                           int width, int decimals);

}  // namespace wb::crate
