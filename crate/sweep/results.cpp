// Ablation results: every finished run's logs (metrics.jsonl, final_measure.json) reduced over seeds,
// written as results.{md,json,csv} and two comparison plots (crate/ablate.hpp).
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "crate/io/atomic_file.hpp"
#include "crate/sweep/ablate.hpp"
#include "crate/report/plot.hpp"
#include "crate/io/safetensors.hpp"
#include "ops/coding_rate.hpp"

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The epoch records of a run's metrics.jsonl, one per epoch 1..epochs (a resumed run's log holds each
// once; should one appear twice, the later line wins).
std::vector<EpochRecord> read_epochs(const fs::path& path, std::int64_t epochs) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the run's metrics", path.string()));
  std::map<std::int64_t, EpochRecord> by_epoch;
  std::string line;
  for (std::int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error(fmt::format("{}:{}: not a JSON line", path.string(), number));
    if (j.value("kind", std::string()) != "epoch") continue;
    try {
      const EpochRecord e = epoch_from_json(j);
      by_epoch[e.epoch] = e;
    } catch (const json::exception& ex) {
      throw std::runtime_error(fmt::format("{}:{}: {}", path.string(), number, ex.what()));
    }
  }
  std::vector<EpochRecord> out;
  for (std::int64_t e = 1; e <= epochs; ++e) {
    const auto it = by_epoch.find(e);
    if (it == by_epoch.end())
      throw std::runtime_error(fmt::format("{}: no record of epoch {} although the run is finished", path.string(), e));
    out.push_back(it->second);
  }
  return out;
}

RunSummary read_run(const AblationRun& run) {
  const fs::path dir(run.options.out_dir);
  RunSummary s;
  s.id = run.id;
  s.variant = run.variant;
  s.seed = run.seed;
  s.epochs = read_epochs(dir / "metrics.jsonl", run.options.epochs);
  const EpochRecord& last = s.epochs.back();
  s.test_accuracy = last.test_accuracy();
  s.test_loss = last.test_loss;
  for (const auto& e : s.epochs) {
    s.images_per_second += e.samples_per_second / static_cast<double>(s.epochs.size());
    s.seconds += e.seconds;
  }
  std::ifstream in(dir / "final_measure.json");
  const Measurement m = measurement_from_json(json::parse(in));
  for (const auto& l : m.layers) {
    s.rc_in.push_back(l.values.at("rc_in").mean);
    s.nonzero.push_back(l.values.at("nonzero").mean);
  }
  return s;
}

std::string cell(const MeanStd& m, int decimals, double scale = 1.0) {
  if (m.n == 0) return "—";
  if (m.n == 1) return fmt::format("{:.{}f}", scale * m.mean, decimals);
  return fmt::format("{:.{}f} ± {:.{}f}", scale * m.mean, decimals, scale * m.std, decimals);
}

std::string grouped(std::int64_t v) {
  std::string s = std::to_string(v), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string base_text(const AblationGrid& g) {
  const TrainOptions& o = g.base;
  const CrateConfig& c = o.model;
  std::string seeds;
  for (auto s : g.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  return fmt::format(
      "Base: `{}` (d {}, L {}, K {} heads of p {}, patch {}) on {}, {} epochs, {} training / {} test images, batch {}, "
      "{} lr {:g} (warmup {} epoch{}, cosine to {:g}), weight decay {:g}, label smoothing {:g}, augmentation {}. "
      "Seeds {}.",
      c.name, c.dim, c.depth, c.heads, c.dim_head, c.patch_size, o.data, o.epochs,
      o.train_limit > 0 ? fmt::format("first {}", o.train_limit) : std::string("all"),
      o.test_limit > 0 ? fmt::format("first {}", o.test_limit) : std::string("all"), o.batch_size, o.optimizer, o.lr,
      o.warmup_epochs, o.warmup_epochs == 1 ? "" : "s", std::min(o.min_lr, o.lr), o.weight_decay, o.label_smoothing,
      o.augment ? "on" : "off", seeds);
}

json mean_std_json(const MeanStd& m) { return {{"mean", m.mean}, {"std", m.std}, {"n", m.n}}; }

json mean_std_json(const std::vector<MeanStd>& v) {
  json a = json::array();
  for (const auto& m : v) a.push_back(mean_std_json(m));
  return a;
}

// mean_std over runs of f(run)[k], for k below the shortest run's length.
template <class F>
std::vector<MeanStd> by_index(const std::vector<RunSummary>& runs, F f) {
  if (runs.empty()) return {};
  std::size_t n = f(runs[0]).size();
  for (const auto& r : runs) n = std::min(n, f(r).size());
  std::vector<MeanStd> out;
  for (std::size_t k = 0; k < n; ++k) {
    std::vector<double> v;
    for (const auto& r : runs) v.push_back(f(r)[k]);
    out.push_back(mean_std(v));
  }
  return out;
}

}  // namespace

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd m;
  m.n = static_cast<std::int64_t>(values.size());
  if (values.empty()) return m;
  for (double v : values) m.mean += v;
  m.mean /= static_cast<double>(values.size());
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - m.mean) * (v - m.mean);
    m.std = std::sqrt(ss / static_cast<double>(values.size() - 1));
  }
  return m;
}

std::vector<VariantSummary> summarize(const AblationGrid& grid) {
  std::vector<VariantSummary> out;
  for (const auto& v : grid.variants) {
    VariantSummary s;
    s.variant = v;
    s.parameters = count_parameters(v.config);
    for (const auto& r : grid.runs) {
      if (r.variant != v.name) continue;
      const RunStatus st = inspect_run(r);
      if (st.kind == RunStatus::finished && st.measured) s.runs.push_back(read_run(r));
    }
    auto over_runs = [&](double RunSummary::*field) {
      std::vector<double> x;
      for (const auto& r : s.runs) x.push_back(r.*field);
      return mean_std(x);
    };
    s.test_accuracy = over_runs(&RunSummary::test_accuracy);
    s.test_loss = over_runs(&RunSummary::test_loss);
    s.images_per_second = over_runs(&RunSummary::images_per_second);
    std::vector<double> rc, nz;
    for (const auto& r : s.runs) {
      if (!r.rc_in.empty()) rc.push_back(r.rc_in.back());
      if (!r.nonzero.empty()) nz.push_back(r.nonzero.back());
    }
    s.rc_last = mean_std(rc);
    s.nonzero_last = mean_std(nz);
    auto epoch_values = [](auto field) {
      return [field](const RunSummary& r) {
        std::vector<double> x;
        for (const auto& e : r.epochs) x.push_back(field(e));
        return x;
      };
    };
    s.test_accuracy_by_epoch = by_index(s.runs, epoch_values([](const EpochRecord& e) { return e.test_accuracy(); }));
    s.train_loss_by_epoch = by_index(s.runs, epoch_values([](const EpochRecord& e) { return e.train_loss; }));
    s.rc_by_layer = by_index(s.runs, [](const RunSummary& r) { return r.rc_in; });
    s.nonzero_by_layer = by_index(s.runs, [](const RunSummary& r) { return r.nonzero; });
    out.push_back(std::move(s));
  }
  return out;
}

std::string format_cell(const MeanStd& m, int decimals, double scale) { return cell(m, decimals, scale); }

std::string results_markdown(const AblationGrid& grid, const std::vector<VariantSummary>& summary) {
  std::string md = fmt::format("# Ablation results{}\n\n", grid.description.empty() ? "" : ": " + grid.description);
  md += fmt::format("Grid `{}`, written by `whitebox ablate`. {}\n\n", grid.source, base_text(grid));
  md += fmt::format(
      "Each cell: mean ± std over the seeds (n − 1 denominator). Test accuracy and loss: the final epoch. Train "
      "images/s: mean over a run's epochs, as that process measured it. R^c and non-zero fraction: the last layer, on "
      "the first {} test images, in the official measurement convention (R^c(LN1(Z^L) | U^L) with ε² = {}, "
      "unit-norm tokens, class token included; U is the key projection for standard attention; fraction of exact "
      "non-zeros of the last block's sparse code: the ISTA output before any residual for CRATE variants, the "
      "overcomplete code A2 (before the output dictionary D1) for CRATE-alpha, the MLP output for ViT blocks).\n\n",
      grid.measure_images, ops::kMeasurementEps);
  md +=
      "| variant | changes from base | parameters | seeds | test accuracy (%) | test loss | train images/s | R^c last "
      "layer "
      "| non-zero last layer |\n";
  md += "|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& s : summary) {
    md += fmt::format("| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} |\n", s.variant.name,
                      s.variant.changes.empty() ? "—" : s.variant.changes, grouped(s.parameters), s.runs.size(),
                      grid.seeds.size(), cell(s.test_accuracy, 2, 100.0), cell(s.test_loss, 4),
                      cell(s.images_per_second, 0), cell(s.rc_last, 2), cell(s.nonzero_last, 4));
  }
  bool any_description = false;
  for (const auto& s : summary) any_description = any_description || !s.variant.description.empty();
  if (any_description) {
    md += "\n";
    for (const auto& s : summary)
      if (!s.variant.description.empty()) md += fmt::format("- `{}`: {}\n", s.variant.name, s.variant.description);
  }
  return md;
}

void write_results(const AblationGrid& grid, const std::vector<VariantSummary>& summary, bool plot) {
  const fs::path out(grid.out);
  fs::create_directories(out);
  std::string csv =
      "variant,parameters,seeds,test_accuracy_mean,test_accuracy_std,test_loss_mean,test_loss_std,"
      "images_per_second_mean,images_per_second_std,rc_last_mean,rc_last_std,nonzero_last_mean,nonzero_last_std\n";
  json variants = json::array();
  for (const auto& s : summary) {
    csv += fmt::format("{},{},{},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g},{:.8g}\n",
                       s.variant.name, s.parameters, s.runs.size(), s.test_accuracy.mean, s.test_accuracy.std,
                       s.test_loss.mean, s.test_loss.std, s.images_per_second.mean, s.images_per_second.std,
                       s.rc_last.mean, s.rc_last.std, s.nonzero_last.mean, s.nonzero_last.std);
    json runs = json::array();
    for (const auto& r : s.runs)
      runs.push_back({{"id", r.id},
                      {"seed", r.seed},
                      {"test_accuracy", r.test_accuracy},
                      {"test_loss", r.test_loss},
                      {"images_per_second", r.images_per_second},
                      {"seconds", r.seconds},
                      {"rc_in", r.rc_in},
                      {"nonzero", r.nonzero}});
    variants.push_back({{"name", s.variant.name},
                        {"description", s.variant.description},
                        {"changes", s.variant.changes},
                        {"config", to_json(s.variant.config)},
                        {"parameters", s.parameters},
                        {"seeds_done", s.runs.size()},
                        {"test_accuracy", mean_std_json(s.test_accuracy)},
                        {"test_loss", mean_std_json(s.test_loss)},
                        {"images_per_second", mean_std_json(s.images_per_second)},
                        {"rc_last", mean_std_json(s.rc_last)},
                        {"nonzero_last", mean_std_json(s.nonzero_last)},
                        {"test_accuracy_by_epoch", mean_std_json(s.test_accuracy_by_epoch)},
                        {"train_loss_by_epoch", mean_std_json(s.train_loss_by_epoch)},
                        {"rc_by_layer", mean_std_json(s.rc_by_layer)},
                        {"nonzero_by_layer", mean_std_json(s.nonzero_by_layer)},
                        {"runs", runs}});
  }
  const json doc{{"grid", grid.source},
                 {"description", grid.description},
                 {"seeds", grid.seeds},
                 {"measure_images", grid.measure_images},
                 {"std", "over seeds, n - 1 denominator (0 for one seed)"},
                 {"variants", variants}};
  write_file_atomic((out / "results.md").string(), results_markdown(grid, summary));
  write_file_atomic((out / "results.json").string(), doc.dump(2) + "\n");
  write_file_atomic((out / "results.csv").string(), csv);
  if (!plot) return;
  Panel acc{"test accuracy (mean over seeds)", "epoch", "test accuracy (%)", {}, false};
  Panel loss{"train loss (mean over seeds)", "epoch", "train loss", {}, false};
  Panel rc{"compression, last weights", "layer", "R^c(Z^l) [SSA block]", {}, false};
  Panel nz{"sparsity, last weights", "layer", "non-zero fraction of the sparse code", {}, false};
  auto series = [](const std::string& label, const std::vector<MeanStd>& v, double scale) {
    Series s{label, {}, {}, {}};
    for (std::size_t k = 0; k < v.size(); ++k) {
      s.x.push_back(static_cast<double>(k + 1));
      s.y.push_back(scale * v[k].mean);
      s.err.push_back(scale * v[k].std);
    }
    return s;
  };
  for (const auto& s : summary) {
    if (s.runs.empty()) continue;
    acc.series.push_back(series(s.variant.name, s.test_accuracy_by_epoch, 100.0));
    loss.series.push_back(series(s.variant.name, s.train_loss_by_epoch, 1.0));
    rc.series.push_back(series(s.variant.name, s.rc_by_layer, 1.0));
    nz.series.push_back(series(s.variant.name, s.nonzero_by_layer, 1.0));
  }
  plot_png((out / "accuracy.png").string(), {acc, loss}, 0, 560);
  plot_png((out / "layers.png").string(), {rc, nz}, 0, 560);
}

}  // namespace wb::crate
