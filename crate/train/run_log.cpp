#include "crate/train/run_log.hpp"

#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/atomic_file.hpp"
#include "crate/report/plot.hpp"

namespace wb::crate {
using nlohmann::json;

void append_jsonl(const std::string& path, const json& record) {
  std::ofstream out(path, std::ios::app);
  out << record.dump() << "\n";
  out.flush();
  if (!out) throw std::runtime_error(fmt::format("{}: cannot append a record", path));
}

void keep_records_upto(const std::string& path, const char* key, std::int64_t limit) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value(key, std::int64_t{0}) <= limit) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

void plot_curves(const std::string& path, const std::vector<EpochRecord>& hist, const std::vector<MetricSpec>& metrics,
                 double label_smoothing, const std::string& eval_split) {
  const std::string train_label = label_smoothing > 0 ? fmt::format("train (label smoothing {})", label_smoothing) : "train";
  Series tl{train_label, {}, {}, {}}, vl{eval_split, {}, {}, {}};
  for (const auto& e : hist) {
    const auto x = static_cast<double>(e.epoch);
    tl.x.push_back(x), tl.y.push_back(e.train_loss);
    vl.x.push_back(x), vl.y.push_back(e.test_loss);
  }
  std::vector<Panel> panels{Panel{"loss", "epoch", "cross-entropy", {tl, vl}, false}};
  for (const auto& m : metrics) {
    const double scale = m.percent ? 100.0 : 1.0;
    Series tr{"train", {}, {}, {}}, te{eval_split, {}, {}, {}};
    for (const auto& e : hist) {
      const auto x = static_cast<double>(e.epoch);
      if (auto it = e.train.find(m.name); it != e.train.end()) tr.x.push_back(x), tr.y.push_back(scale * it->second);
      if (auto it = e.test.find(m.name); it != e.test.end()) te.x.push_back(x), te.y.push_back(scale * it->second);
    }
    panels.push_back(Panel{m.name, "epoch", m.percent ? m.name + " (%)" : m.name, {tr, te}, false});
  }
  plot_png(path, panels);
}

}  // namespace wb::crate
