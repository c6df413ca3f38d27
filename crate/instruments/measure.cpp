#include "crate/instruments/measure.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/io/atomic_file.hpp"
#include "crate/instruments/variational_rate.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/report/plot.hpp"
#include "ops/coding_rate.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

// Block-identity "subspaces" that pick head k's p columns of the (B, n, K p) qkv features, so that
// R^c(qkv | I_blocks) is exactly the official hook's computation.
Tensor head_selectors(const BlockConfig& c) {
  Tensor e = Tensor::zeros({c.heads, c.dim_head, c.inner_dim()}, c.dtype);
  auto set = [&](auto* p) {
    for (std::int64_t k = 0; k < c.heads; ++k)
      for (std::int64_t i = 0; i < c.dim_head; ++i) p[(k * c.dim_head + i) * c.inner_dim() + k * c.dim_head + i] = 1;
  };
  if (c.dtype == DType::f32) set(e.data<float>());
  else set(e.data<double>());
  return e;
}

std::vector<double> per_image(const Tensor& t) { return prim::cast(t, DType::f64).to_vector<double>(); }

}  // namespace

const std::vector<std::string>& measure_quantities() {
  static const std::vector<std::string> q{"rc_in",   "rc_half", "rc_out", "r_out", "delta_r",
                                          "nonzero", "l1",      "srr",    "rvar_c"};
  return q;
}

LayerValues measure_layers(LayerStack layers, const std::vector<LayerTrace>& traces) {
  std::vector<BlockConfig> configs;
  std::vector<Tensor> subspaces;
  for (const CrateLayer* l : layers) configs.push_back(l->config()), subspaces.push_back(l->subspaces());
  return measure_layers(configs, subspaces, traces);
}

LayerValues measure_layers(const std::vector<BlockConfig>& configs, const std::vector<Tensor>& subspaces,
                           const std::vector<LayerTrace>& traces) {
  if (configs.size() != traces.size() || subspaces.size() != traces.size())
    throw std::invalid_argument(fmt::format("measure_layers: {} layers ({} subspaces) but {} traces", configs.size(),
                                            subspaces.size(), traces.size()));
  autograd::NoGradGuard ng;
  const double e2 = ops::kMeasurementEps;
  LayerValues out;
  for (std::size_t l = 0; l < traces.size(); ++l) {
    const LayerTrace& t = traces[l];
    const BlockConfig& c = configs[l];
    const Tensor u = subspaces[l];
    const auto rc_in = per_image(ops::compressed_coding_rate(t.qkv, head_selectors(c), e2, ops::kMeasurement));
    const auto rc_half = per_image(ops::compressed_coding_rate(t.z_half, u, e2, ops::kMeasurement));
    const auto rc_out = per_image(ops::compressed_coding_rate(t.output, u, e2, ops::kMeasurement));
    const auto r_out = per_image(ops::coding_rate(t.output, e2, ops::kMeasurement));
    const double entries = static_cast<double>(t.code.size(1) * t.code.size(2));
    const auto l1 = per_image(prim::sum(prim::unary(prim::Unary::abs, t.code), {1, 2}));
    const auto nz = per_image(prim::sum(prim::unary(prim::Unary::gt_scalar, prim::unary(prim::Unary::abs, t.code), 0.0), {1, 2}));
    // the objective itself is on the layer output Z^{l+1} (ops::sparse_rate_reduction, as srr_objective)
    const auto l1_out = t.code.is_same(t.output) ? l1 : per_image(prim::sum(prim::unary(prim::Unary::abs, t.output), {1, 2}));
    std::vector<double> delta(rc_out.size()), srr(rc_out.size()), l1n(rc_out.size()), nzf(rc_out.size());
    for (std::size_t b = 0; b < rc_out.size(); ++b) {
      delta[b] = r_out[b] - rc_out[b];
      srr[b] = rc_out[b] + c.lambda * l1_out[b] - r_out[b];
      l1n[b] = l1[b] / entries;
      nzf[b] = nz[b] / entries;
    }
    out["rc_in"].push_back(rc_in);
    out["rc_half"].push_back(rc_half);
    out["rc_out"].push_back(rc_out);
    out["r_out"].push_back(r_out);
    out["delta_r"].push_back(delta);
    out["nonzero"].push_back(nzf);
    out["l1"].push_back(l1n);
    out["srr"].push_back(srr);
    out["rvar_c"].push_back(per_image(variational_rate(t.qkv, t.assignment, c.heads, e2)));
  }
  return out;
}

LayerValues measure_batch(const CrateModel& model, const Tensor& images) {
  autograd::NoGradGuard ng;
  std::vector<LayerTrace> traces;
  (void)model.features(images, &traces);
  return measure_layers(model.layers(), traces);
}

Measurement measure(CrateModel& model, data::Loader& loader, const std::string& label) {
  return measure(model, model.layers(), loader, label, [&](const data::Batch& b, std::vector<LayerTrace>& traces) {
    (void)model.features(b.x, &traces);
  });
}

namespace {

// One pass over `loader`: `values` turns one batch's traces into the per-layer values of each sample.
using TraceValues = std::function<LayerValues(const std::vector<LayerTrace>&)>;
Measurement measure_over_loader(Module& model, std::size_t depth, data::Loader& loader, const std::string& label,
                                const TraceForward& forward, const TraceValues& values) {
  ModeGuard eval(model, false);
  autograd::NoGradGuard ng;
  std::map<std::string, std::vector<double>> sum, sum2;
  for (const auto& q : measure_quantities()) {
    sum[q].assign(depth, 0.0);
    sum2[q].assign(depth, 0.0);
  }
  Measurement m;
  m.label = label;
  loader.start(0, 0);
  while (auto b = loader.next()) {
    std::vector<LayerTrace> traces;
    forward(*b, traces);
    const auto v = values(traces);
    for (const auto& q : measure_quantities())
      for (std::size_t l = 0; l < depth; ++l)
        for (double x : v.at(q)[l]) {
          sum[q][l] += x;
          sum2[q][l] += x * x;
        }
    m.images += b->x.size(0);
  }
  if (m.images == 0) throw std::invalid_argument("measure: the data loader produced no images");
  const auto n = static_cast<double>(m.images);
  for (std::size_t l = 0; l < depth; ++l) {
    LayerMeasure lm;
    lm.layer = static_cast<std::int64_t>(l) + 1;
    for (const auto& q : measure_quantities()) {
      const double mean = sum[q][l] / n;
      const double var = n > 1 ? std::max(0.0, (sum2[q][l] - n * mean * mean) / (n - 1)) : 0.0;
      lm.values[q] = Stat{mean, std::sqrt(var)};
    }
    m.layers.push_back(lm);
  }
  return m;
}

}  // namespace

Measurement measure(Module& model, LayerStack layers, data::Loader& loader, const std::string& label,
                    const TraceForward& forward) {
  return measure_over_loader(model, layers.size(), loader, label, forward,
                             [&](const std::vector<LayerTrace>& traces) { return measure_layers(layers, traces); });
}

Measurement measure(TextModel& model, data::Loader& loader, const std::string& label) {
  const std::vector<BlockConfig> configs = model.layer_configs();
  Measurement m = measure_over_loader(
      model, configs.size(), loader, label,
      [&](const data::Batch& b, std::vector<LayerTrace>& traces) { (void)model.forward(b.x, &traces); },
      [&](const std::vector<LayerTrace>& traces) { return measure_layers(configs, model.layer_subspaces(), traces); });
  m.samples = "windows";
  m.class_token = false;
  return m;
}

nlohmann::json to_json(const Measurement& m) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& lm : m.layers) {
    nlohmann::json j{{"layer", lm.layer}};
    for (const auto& [q, s] : lm.values) j[q] = {{"mean", s.mean}, {"std", s.std}};
    layers.push_back(j);
  }
  return {{"label", m.label}, {"images", m.images}, {"samples", m.samples}, {"class_token", m.class_token}, {"layers", layers}};
}

Measurement measurement_from_json(const nlohmann::json& j) {
  Measurement m;
  j.at("label").get_to(m.label);
  j.at("images").get_to(m.images);
  m.samples = j.value("samples", m.samples);  // absent in logs written before text models: images
  m.class_token = j.value("class_token", m.class_token);
  for (const auto& lj : j.at("layers")) {
    LayerMeasure lm;
    lj.at("layer").get_to(lm.layer);
    for (const auto& q : measure_quantities())
      if (lj.contains(q)) lm.values[q] = Stat{lj.at(q).at("mean").get<double>(), lj.at(q).at("std").get<double>()};
    m.layers.push_back(lm);
  }
  return m;
}

std::vector<Measurement> read_measurement_log(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the measurement log", path));
  std::vector<Measurement> ms;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    try {
      ms.push_back(measurement_from_json(nlohmann::json::parse(line)));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}:{}: not a measurement record ({})", path, number, e.what()));
    }
  }
  return ms;
}

namespace {
// The JSON convention's "tokens": what each sample's n counts, over the measurements written together.
std::string tokens_convention(const std::vector<Measurement>& ms) {
  const bool with = std::any_of(ms.begin(), ms.end(), [](const Measurement& m) { return m.class_token; });
  const bool without = std::any_of(ms.begin(), ms.end(), [](const Measurement& m) { return !m.class_token; });
  if (with && without) return "per measurement (see class_token)";
  return without ? "T per window (no class token)" : "N + 1 (class token included)";
}
}  // namespace

void write_measurements(const std::string& prefix, const std::vector<Measurement>& ms, bool plot) {
  std::string csv = "label,layer";
  for (const auto& q : measure_quantities()) csv += fmt::format(",{0}_mean,{0}_std", q);
  csv += "\n";
  nlohmann::json all = nlohmann::json::array();
  for (const auto& m : ms) {
    for (const auto& lm : m.layers) {
      std::string label = m.label;
      for (char& ch : label)
        if (ch == ',' || ch == '"') ch = ';';
      csv += fmt::format("{},{}", label, lm.layer);
      for (const auto& q : measure_quantities()) {
        const Stat s = lm.values.count(q) ? lm.values.at(q) : Stat{NAN, NAN};
        csv += fmt::format(",{:.8g},{:.8g}", s.mean, s.std);
      }
      csv += "\n";
    }
    all.push_back(to_json(m));
  }
  const nlohmann::json doc{{"convention", {{"eps_squared", ops::kMeasurementEps},
                                           {"normalize_tokens", true},
                                           {"tokens", tokens_convention(ms)},
                                           {"reference", "crate-spec section 3; Ma-Lab-Berkeley/CRATE vis_utils"}}},
                           {"measurements", all}};
  write_file_atomic(prefix + ".csv", csv);
  write_file_atomic(prefix + ".json", doc.dump(2) + "\n");
  if (!plot) return;
  Panel comp{"compression", "layer", "R^c(Z^l) [SSA block]", {}, false};
  Panel sparse{"sparsity", "layer", "||Z^{l+1}||_0 / (d n)", {}, false};
  Panel variational{"variational rate (ToST)", "layer", "R^{var}_c(Z^l, Pi)", {}, false};
  for (const auto& m : ms) {
    Series a{m.label, {}, {}, {}}, b{m.label, {}, {}, {}}, v{m.label, {}, {}, {}};
    for (const auto& lm : m.layers) {
      a.x.push_back(static_cast<double>(lm.layer));
      a.y.push_back(lm.values.at("rc_in").mean);
      a.err.push_back(lm.values.at("rc_in").std);
      b.x.push_back(static_cast<double>(lm.layer));
      b.y.push_back(lm.values.at("nonzero").mean);
      b.err.push_back(lm.values.at("nonzero").std);
      if (lm.values.count("rvar_c") != 0) {  // absent in logs written before it was measured
        v.x.push_back(static_cast<double>(lm.layer));
        v.y.push_back(lm.values.at("rvar_c").mean);
        v.err.push_back(lm.values.at("rvar_c").std);
      }
    }
    comp.series.push_back(a);
    sparse.series.push_back(b);
    if (!v.x.empty()) variational.series.push_back(v);
  }
  std::vector<Panel> panels{comp, sparse};
  if (!variational.series.empty()) panels.push_back(variational);
  plot_png(prefix + ".png", panels);
}

std::string format_table(const Measurement& m) {
  std::string s = fmt::format("{} ({} {}; eps^2 = {}, unit-norm tokens, {})\n", m.label, m.images, m.samples,
                              ops::kMeasurementEps, m.class_token ? "class token included" : "no class token");
  s += fmt::format("{:>5} {:>16} {:>16} {:>16} {:>10} {:>10} {:>16} {:>9} {:>10} {:>10}\n", "layer", "R^c(LN Z^l)",
                   "R^c(Z^l+1/2)", "R^c(Z^l+1)", "R(Z^l+1)", "dR", "nonzero", "l1", "SRR", "R^var_c");
  for (const auto& lm : m.layers) {
    const auto& v = lm.values;
    const double rvar = v.count("rvar_c") ? v.at("rvar_c").mean : NAN;
    s += fmt::format("{:>5} {:>9.2f} ±{:<6.2f} {:>9.2f} ±{:<6.2f} {:>9.2f} ±{:<6.2f} {:>10.2f} {:>10.2f} {:>9.4f} ±{:<6.4f} {:>9.4f} {:>10.2f} {:>10.2f}\n",
                     lm.layer, v.at("rc_in").mean, v.at("rc_in").std, v.at("rc_half").mean, v.at("rc_half").std,
                     v.at("rc_out").mean, v.at("rc_out").std, v.at("r_out").mean, v.at("delta_r").mean,
                     v.at("nonzero").mean, v.at("nonzero").std, v.at("l1").mean, v.at("srr").mean, rvar);
  }
  return s;
}

}  // namespace wb::crate
