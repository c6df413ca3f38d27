#include "crate/instruments/rate.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/instruments/subspace_fit.hpp"
#include "crate/io/atomic_file.hpp"
#include "crate/report/plot.hpp"
#include "tensor/prim.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {
namespace {

[[noreturn]] void rate_fail(const std::string& file, const std::string& what) {
  throw std::invalid_argument(fmt::format("{}: {}", file, what));
}

std::string index_str(const Shape& shape, std::int64_t flat) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t a = shape.size(); a-- > 0;) {
    idx[a] = shape[a] > 0 ? flat % shape[a] : 0;
    flat = shape[a] > 0 ? flat / shape[a] : 0;
  }
  return fmt::format("[{}]", fmt::join(idx, ", "));
}

Tensor to_f64(const Tensor& t) { return prim::contiguous(prim::cast(t, DType::f64)); }

// The first non-finite entry of a float array, named by the file, the array and the index.
void check_finite(const std::string& file, const std::string& name, const Tensor& t) {
  if (t.dtype() == DType::i64) return;
  const Tensor c = to_f64(t);
  const double* p = c.data<double>();
  for (std::int64_t i = 0; i < c.numel(); ++i)
    if (!std::isfinite(p[i]))
      rate_fail(file, fmt::format("array '{}' {} holds {} at index {}", name, shape_str(t.shape()), p[i],
                                  index_str(t.shape(), i)));
}

const Tensor& find_array(const NamedArrays& arrays, const std::string& file, const std::string& name, const char* role) {
  for (const auto& [n, t] : arrays)
    if (n == name) return t;
  std::vector<std::string> names;
  for (const auto& a : arrays) names.push_back(fmt::format("'{}' {}", a.first, shape_str(a.second.shape())));
  rate_fail(file, fmt::format("has no array '{}' (the {}); it holds {}", name, role, fmt::join(names, ", ")));
}

Tensor stack_f64(const std::vector<Tensor>& parts, Shape inner) {
  Shape shape{static_cast<std::int64_t>(parts.size())};
  shape.insert(shape.end(), inner.begin(), inner.end());
  Tensor out = Tensor::empty(shape, DType::f64);
  double* dst = out.data<double>();
  for (const auto& p : parts) {
    const Tensor c = to_f64(p);
    std::memcpy(dst, c.data<double>(), static_cast<std::size_t>(c.numel()) * sizeof(double));
    dst += c.numel();
  }
  return out;
}

// The parts (R_i, ...) with equal trailing axes, concatenated along the first axis, in float64.
Tensor concat_rows_f64(const std::vector<Tensor>& parts) {
  Shape s = parts.front().shape();
  s[0] = 0;
  for (const auto& p : parts) s[0] += p.size(0);
  Tensor out = Tensor::empty(s, DType::f64);
  double* dst = out.data<double>();
  for (const auto& p : parts) {
    const Tensor c = to_f64(p);
    std::memcpy(dst, c.data<double>(), static_cast<std::size_t>(c.numel()) * sizeof(double));
    dst += c.numel();
  }
  return out;
}

// Column k of the one-hot memberships (B, J, N) of labels (B, N).
Tensor one_hot_memberships(const Tensor& labels, std::int64_t classes) {
  const std::int64_t b = labels.size(0), n = labels.size(1);
  Tensor pi = Tensor::zeros({b, classes, n}, DType::f64);
  const auto* l = labels.data<std::int64_t>();
  double* p = pi.data<double>();
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t t = 0; t < n; ++t) p[(i * classes + l[i * n + t]) * n + t] = 1.0;
  return pi;
}

std::vector<double> per_group(const Tensor& t) { return to_f64(t).to_vector<double>(); }

}  // namespace

FeatureSet select_features(const NamedArrays& arrays, const std::string& file, const FeatureSelection& sel) {
  if (sel.layout != "samples" && sel.layout != "layers")
    throw std::invalid_argument(fmt::format("rate: layout '{}' is not 'samples' or 'layers'", sel.layout));
  FeatureSet fs;
  fs.file = file;
  std::vector<std::pair<std::string, Tensor>> chosen;
  if (sel.features.empty()) {
    for (const auto& [n, t] : arrays)
      if (t.dtype() != DType::i64 && n != sel.labels && n != sel.subspaces) chosen.emplace_back(n, t);
    if (chosen.empty()) rate_fail(file, "holds no float array to measure");
  } else {
    for (const auto& n : sel.features) chosen.emplace_back(n, find_array(arrays, file, n, "features"));
  }
  for (const auto& [name, t] : chosen) {
    if (t.dtype() == DType::i64)
      rate_fail(file, fmt::format("array '{}' holds integers; features must be float32 or float64", name));
    check_finite(file, name, t);
    const Tensor x = to_f64(t);
    if (x.dim() == 4) {
      if (chosen.size() > 1)
        rate_fail(file, fmt::format("array '{}' {} is a whole stack of layers; give it alone (--features {})", name,
                                    shape_str(x.shape()), name));
      for (std::int64_t l = 0; l < x.size(0); ++l) {
        fs.layer_names.push_back(fmt::format("{}[{}]", name, l));
        fs.layers.push_back(prim::contiguous(prim::select(x, 0, l)));
      }
    } else if (x.dim() == 3 && sel.layout == "layers") {
      if (chosen.size() > 1)
        rate_fail(file, fmt::format("array '{}' {} is read as a stack of layers (layout 'layers'); give it alone", name,
                                    shape_str(x.shape())));
      for (std::int64_t l = 0; l < x.size(0); ++l) {
        fs.layer_names.push_back(fmt::format("{}[{}]", name, l));
        fs.layers.push_back(prim::contiguous(prim::reshape(prim::select(x, 0, l), {1, x.size(1), x.size(2)})));
      }
    } else if (x.dim() == 3) {
      fs.layer_names.push_back(name);
      fs.layers.push_back(x);
    } else if (x.dim() == 2) {
      fs.layer_names.push_back(name);
      fs.layers.push_back(prim::contiguous(prim::reshape(x, {1, x.size(0), x.size(1)})));
    } else {
      rate_fail(file, fmt::format("array '{}' has shape {}; features are (S, d), (B, N, d) or (L, B, N, d)", name,
                                  shape_str(x.shape())));
    }
  }
  // token selection or pooling: (B, N, d) -> (1, B, d)
  if (sel.token >= 0 || sel.mean_tokens) {
    for (std::size_t l = 0; l < fs.layers.size(); ++l) {
      const Tensor& z = fs.layers[l];
      Tensor one;
      if (sel.token >= 0) {
        if (sel.token >= z.size(1))
          rate_fail(file, fmt::format("layer '{}' {} has {} tokens per sample; --token {} is out of range", fs.layer_names[l],
                                      shape_str(z.shape()), z.size(1), sel.token));
        one = prim::select(z, 1, sel.token);
      } else {
        one = prim::unary(prim::Unary::mul_scalar, prim::sum(z, {1}), 1.0 / static_cast<double>(z.size(1)));
      }
      fs.layers[l] = prim::contiguous(prim::reshape(one, {1, z.size(0), z.size(2)}));
    }
  }
  const Tensor& first = fs.layers.front();
  for (std::size_t l = 1; l < fs.layers.size(); ++l) {
    const Tensor& z = fs.layers[l];
    if (z.size(2) != first.size(2))
      rate_fail(file, fmt::format("layer {} ('{}') has width {} but layer 0 ('{}') has width {}: the layers of a stack "
                                  "must have one width (measure layers of another width from a file of their own)",
                                  l, fs.layer_names[l], z.size(2), fs.layer_names[0], first.size(2)));
    if (z.size(0) != first.size(0) || z.size(1) != first.size(1))
      rate_fail(file, fmt::format("layer {} ('{}') holds {} samples of {} tokens but layer 0 ('{}') holds {} of {}", l,
                                  fs.layer_names[l], z.size(0), z.size(1), fs.layer_names[0], first.size(0), first.size(1)));
  }
  const std::int64_t b = first.size(0), n = first.size(1), d = first.size(2);
  if (n < 1 || d < 1 || b < 1)
    rate_fail(file, fmt::format("layer 0 ('{}') is empty: {} groups of {} tokens of width {}", fs.layer_names[0], b, n, d));
  if (!sel.labels.empty()) {
    const Tensor& lab = find_array(arrays, file, sel.labels, "labels");
    if (lab.dtype() != DType::i64)
      rate_fail(file, fmt::format("array '{}' (the labels) is {}; labels must be integers", sel.labels, dtype_name(lab.dtype())));
    const std::int64_t count = lab.numel();
    const bool per_token = count == b * n && (lab.dim() == 1 || (lab.dim() == 2 && lab.size(0) == b && lab.size(1) == n));
    if (!per_token) {
      std::string hint;
      if (b > 1 && count == b && lab.dim() == 1)
        hint = "; these are one label per sample: add --token 0 (a class token) or --mean-tokens to rate one vector per "
               "sample";
      rate_fail(file, fmt::format("array '{}' (the labels) has shape {} but the features hold {} groups of {} tokens: "
                                  "expected ({}) or ({}, {}){}",
                                  sel.labels, shape_str(lab.shape()), b, n, b * n, b, n, hint));
    }
    fs.labels = prim::contiguous(prim::reshape(lab, {b, n}));
    const auto* p = fs.labels.data<std::int64_t>();
    for (std::int64_t i = 0; i < b * n; ++i)
      if (p[i] < 0 || p[i] > 1000000)
        rate_fail(file, fmt::format("array '{}' (the labels) holds {} at index {}; labels are class indices in [0, 10^6]",
                                    sel.labels, p[i], index_str(lab.shape(), i)));
  }
  if (!sel.subspaces.empty()) {
    const Tensor& u = find_array(arrays, file, sel.subspaces, "subspaces");
    if (u.dtype() == DType::i64) rate_fail(file, fmt::format("array '{}' (the subspaces) holds integers", sel.subspaces));
    check_finite(file, sel.subspaces, u);
    const Tensor uf = to_f64(u);
    const auto layers = static_cast<std::int64_t>(fs.layers.size());
    if (uf.dim() == 3 && uf.size(2) == d) {
      fs.subspaces.assign(fs.layers.size(), uf);
    } else if (uf.dim() == 4 && uf.size(0) == layers && uf.size(3) == d) {
      for (std::int64_t l = 0; l < layers; ++l) fs.subspaces.push_back(prim::contiguous(prim::select(uf, 0, l)));
    } else {
      rate_fail(file, fmt::format("array '{}' (the subspaces) has shape {}; for {} layers of width {} it must be (K, p, {}) "
                                  "or ({}, K, p, {})",
                                  sel.subspaces, shape_str(u.shape()), layers, d, d, layers, d));
    }
    if (fs.subspaces.front().size(0) < 1 || fs.subspaces.front().size(1) < 1)
      rate_fail(file, fmt::format("array '{}' (the subspaces) has shape {}: no subspace", sel.subspaces, shape_str(u.shape())));
  }
  return fs;
}

Tensor spherical_kmeans(const Tensor& z, std::int64_t k, std::uint64_t seed, int iterations) {
  const Tensor x = to_f64(z);
  const std::int64_t m = x.size(0), d = x.size(1);
  if (k < 1 || k > m) throw std::invalid_argument(fmt::format("rate: {} clusters of {} tokens", k, m));
  std::vector<double> u(x.to_vector<double>());
  for (std::int64_t i = 0; i < m; ++i) {
    double s = 0;
    for (std::int64_t j = 0; j < d; ++j) s += u[i * d + j] * u[i * d + j];
    s = std::max(std::sqrt(s), 1e-12);
    for (std::int64_t j = 0; j < d; ++j) u[i * d + j] /= s;
  }
  auto dot = [&](const double* a, const double* b) {
    double s = 0;
    for (std::int64_t j = 0; j < d; ++j) s += a[j] * b[j];
    return s;
  };
  Generator gen(seed);
  std::vector<double> c(static_cast<std::size_t>(k * d));
  // k-means++ on the cosine distance 1 - cos
  std::vector<double> dist(static_cast<std::size_t>(m), std::numeric_limits<double>::infinity());
  std::int64_t pick = static_cast<std::int64_t>(gen.below(static_cast<std::uint64_t>(m)));
  for (std::int64_t c_i = 0; c_i < k; ++c_i) {
    std::copy(u.begin() + pick * d, u.begin() + (pick + 1) * d, c.begin() + c_i * d);
    double total = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      dist[i] = std::min(dist[i], std::max(0.0, 1.0 - dot(&u[i * d], &c[c_i * d])));
      total += dist[i];
    }
    if (c_i + 1 == k) break;
    double r = gen.uniform() * total;
    pick = m - 1;
    for (std::int64_t i = 0; i < m; ++i) {
      r -= dist[i];
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }
  std::vector<std::int64_t> lab(static_cast<std::size_t>(m), -1);
  for (int it = 0; it < iterations; ++it) {
    bool changed = false;
    for (std::int64_t i = 0; i < m; ++i) {
      std::int64_t best = 0;
      double bv = -std::numeric_limits<double>::infinity();
      for (std::int64_t j = 0; j < k; ++j)
        if (const double v = dot(&u[i * d], &c[j * d]); v > bv) bv = v, best = j;
      if (lab[i] != best) lab[i] = best, changed = true;
    }
    if (!changed) break;
    std::fill(c.begin(), c.end(), 0.0);
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < d; ++j) c[lab[i] * d + j] += u[i * d + j];
    for (std::int64_t j = 0; j < k; ++j) {
      double s = std::sqrt(dot(&c[j * d], &c[j * d]));
      if (s < 1e-12) continue;  // an empty cluster keeps a zero centre (it attracts nothing)
      for (std::int64_t t = 0; t < d; ++t) c[j * d + t] /= s;
    }
  }
  return Tensor::from_vector(lab, {m});
}

std::vector<std::string> rate_quantities(const Measurement& m) {
  std::vector<std::string> q;
  if (m.layers.empty()) return q;
  for (const char* name : {"r", "rc", "delta_r", "mcr2", "nonzero", "l1", "srr"})
    if (m.layers.front().values.count(name)) q.emplace_back(name);
  return q;
}

Measurement rate_features(const FeatureSet& fs, const RateOptions& o, const std::string& label) {
  autograd::NoGradGuard ng;
  if (!o.fit.empty() && o.fit != "pca" && o.fit != "clusters")
    throw std::invalid_argument(fmt::format("rate: fit '{}' is not 'pca' or 'clusters'", o.fit));
  if (o.fit == "pca" && !fs.labels.defined())
    throw std::invalid_argument("rate: fitting subspaces per class (--fit pca) needs labels (--labels NAME)");
  if (o.fit == "clusters" && o.clusters < 1)
    throw std::invalid_argument("rate: fitting subspaces per cluster (--fit clusters) needs --clusters K");
  if (!o.fit.empty() && !fs.subspaces.empty())
    throw std::invalid_argument("rate: give subspaces from the file or fit them, not both");
  if (!(o.eps > 0) || !std::isfinite(o.eps)) throw std::invalid_argument(fmt::format("rate: eps {} must be positive", o.eps));
  std::int64_t classes = 0;
  if (fs.labels.defined()) {
    const auto v = fs.labels.to_vector<std::int64_t>();
    classes = *std::max_element(v.begin(), v.end()) + 1;
  }
  Measurement m;
  m.label = label;
  m.images = fs.layers.front().size(0);
  for (std::size_t l = 0; l < fs.layers.size(); ++l) {
    const Tensor& z = fs.layers[l];
    const std::int64_t b = z.size(0), n = z.size(1), d = z.size(2);
    Tensor u;
    if (!fs.subspaces.empty()) {
      u = fs.subspaces[l];
    } else if (!o.fit.empty()) {
      const Tensor pooled = prim::reshape(z, {b * n, d});
      const std::int64_t k = o.fit == "pca" ? classes : o.clusters;
      const Tensor lab = o.fit == "pca" ? prim::reshape(fs.labels, {b * n}) : spherical_kmeans(pooled, k, o.seed + l);
      const std::int64_t p = o.subspace_dim > 0 ? o.subspace_dim : std::max<std::int64_t>(1, d / k);
      try {
        u = fit_pca_subspaces(pooled, lab, k, p);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(fmt::format("{}: layer {} ('{}'): cannot fit {} subspaces of dimension {} ({})", fs.file,
                                                l, fs.layer_names[l], k, p, e.what()));
      }
    }
    std::map<std::string, std::vector<double>> v;
    const auto r = per_group(ops::coding_rate(z, o.eps, o.convention));
    v["r"] = r;
    const auto l1 = per_group(prim::sum(prim::unary(prim::Unary::abs, z), {1, 2}));
    std::vector<double> nz;
    if (o.zero_tol > 0) {
      const Tensor a = prim::unary(prim::Unary::abs, z);
      const double* pa = a.data<double>();
      for (std::int64_t i = 0; i < b; ++i) {
        double c = 0;
        for (std::int64_t t = 0; t < n * d; ++t) c += pa[i * n * d + t] > o.zero_tol ? 1 : 0;
        nz.push_back(c);
      }
    } else {
      nz = per_group(prim::sum(prim::unary(prim::Unary::gt_scalar, prim::unary(prim::Unary::abs, z), 0.0), {1, 2}));
    }
    const double entries = static_cast<double>(n * d);
    if (u.defined()) {
      const auto rc = per_group(ops::compressed_coding_rate(z, u, o.eps, o.convention));
      std::vector<double> dr(b), srr(b);
      for (std::int64_t i = 0; i < b; ++i) {
        dr[i] = r[i] - rc[i];
        srr[i] = rc[i] + o.lambda * l1[i] - r[i];
      }
      v["rc"] = rc;
      v["delta_r"] = dr;
      v["srr"] = srr;
    }
    if (fs.labels.defined())
      v["mcr2"] = per_group(ops::mcr2_rate_reduction(z, one_hot_memberships(fs.labels, classes), o.eps, o.convention));
    std::vector<double> l1n(b), nzf(b);
    for (std::int64_t i = 0; i < b; ++i) {
      l1n[i] = l1[i] / entries;
      nzf[i] = nz[i] / entries;
    }
    v["l1"] = l1n;
    v["nonzero"] = nzf;
    LayerMeasure lm;
    lm.layer = static_cast<std::int64_t>(l) + 1;
    const auto count = static_cast<double>(b);
    for (const auto& [q, xs] : v) {
      double sum = 0, sum2 = 0;
      for (double x : xs) sum += x, sum2 += x * x;
      const double mean = sum / count;
      const double var = b > 1 ? std::max(0.0, (sum2 - count * mean * mean) / (count - 1)) : 0.0;
      lm.values[q] = Stat{mean, std::sqrt(var)};
    }
    m.layers.push_back(lm);
  }
  return m;
}

namespace {
const char* rate_heading(const std::string& q) {
  if (q == "r") return "R(Z)";
  if (q == "rc") return "R^c(Z|U)";
  if (q == "delta_r") return "dR";
  if (q == "mcr2") return "MCR^2";
  if (q == "nonzero") return "nonzero";
  if (q == "l1") return "l1";
  return "SRR";
}
nlohmann::json rate_convention(const RateOptions& o) {
  return {{"eps", o.eps}, {"eps_is_squared", o.convention.eps_is_squared},
          {"normalize_tokens", o.convention.normalize_tokens}, {"lambda", o.lambda}, {"zero_tol", o.zero_tol},
          {"subspaces", o.fit.empty() ? "file" : o.fit}};
}
}  // namespace

std::string format_rate_table(const Measurement& m, const RateOptions& o) {
  const auto qs = rate_quantities(m);
  std::string s = fmt::format("{} ({} group{}; eps{} = {}, {}; lambda = {})\n", m.label, m.images, m.images == 1 ? "" : "s",
                              o.convention.eps_is_squared ? "^2" : "", o.eps,
                              o.convention.normalize_tokens ? "unit-norm tokens" : "raw tokens", o.lambda);
  s += fmt::format("{:>5}", "layer");
  for (const auto& q : qs) s += fmt::format(" {:>18}", rate_heading(q));
  s += "\n";
  for (const auto& lm : m.layers) {
    s += fmt::format("{:>5}", lm.layer);
    for (const auto& q : qs) {
      const Stat st = lm.values.at(q);
      const bool frac = q == "nonzero" || q == "l1";
      s += frac ? fmt::format(" {:>9.4f} ±{:<7.4f}", st.mean, st.std) : fmt::format(" {:>9.2f} ±{:<7.2f}", st.mean, st.std);
    }
    s += "\n";
  }
  return s;
}

void write_rates(const std::string& prefix, const Measurement& m, const RateOptions& o, bool plot) {
  const auto qs = rate_quantities(m);
  std::string csv = "label,layer";
  for (const auto& q : qs) csv += fmt::format(",{0}_mean,{0}_std", q);
  csv += "\n";
  std::string label = m.label;
  for (char& ch : label)
    if (ch == ',' || ch == '"') ch = ';';
  for (const auto& lm : m.layers) {
    csv += fmt::format("{},{}", label, lm.layer);
    for (const auto& q : qs) csv += fmt::format(",{:.17g},{:.17g}", lm.values.at(q).mean, lm.values.at(q).std);
    csv += "\n";
  }
  const nlohmann::json doc{{"convention", rate_convention(o)}, {"measurement", to_json(m)}};
  write_file_atomic(prefix + ".csv", csv);
  write_file_atomic(prefix + ".json", doc.dump(2) + "\n");
  if (!plot) return;
  Panel rates{"coding rates", "layer", "nats", {}, false};
  Panel sparse{"sparsity", "layer", "||Z||_0 / (N d)", {}, false};
  for (const auto& q : qs) {
    Series s{rate_heading(q), {}, {}, {}};
    for (const auto& lm : m.layers) {
      s.x.push_back(static_cast<double>(lm.layer));
      s.y.push_back(lm.values.at(q).mean);
      s.err.push_back(lm.values.at(q).std);
    }
    if (q == "nonzero") sparse.series.push_back(s);
    else if (q != "l1" && q != "srr") rates.series.push_back(s);
  }
  plot_png(prefix + ".png", {rates, sparse});
}

NamedArrays collect_layer_features(LayerStack layers, const std::vector<std::vector<LayerTrace>>& batches) {
  if (batches.empty()) throw std::invalid_argument("collect_layer_features: no batches");
  const std::size_t depth = layers.size();
  NamedArrays out;
  auto gather = [&](const char* name, Tensor LayerTrace::*field) {
    std::vector<Tensor> per_layer;
    Shape inner;
    for (std::size_t l = 0; l < depth; ++l) {
      std::vector<Tensor> parts;
      for (const auto& traces : batches) {
        if (traces.size() != depth)
          throw std::invalid_argument(fmt::format("collect_layer_features: {} layers but {} traces", depth, traces.size()));
        parts.push_back(traces[l].*field);
      }
      per_layer.push_back(concat_rows_f64(parts));
      inner = per_layer.back().shape();
    }
    out.emplace_back(name, stack_f64(per_layer, inner));
  };
  gather("input", &LayerTrace::input);
  gather("ln1", &LayerTrace::ln1);
  gather("qkv", &LayerTrace::qkv);
  gather("z_half", &LayerTrace::z_half);
  gather("output", &LayerTrace::output);
  gather("code", &LayerTrace::code);
  std::vector<Tensor> us;
  for (std::size_t l = 0; l < depth; ++l) us.push_back(to_f64(layers[l]->subspaces().detach()));
  out.emplace_back("subspaces", stack_f64(us, us.front().shape()));
  return out;
}

}  // namespace wb::crate
