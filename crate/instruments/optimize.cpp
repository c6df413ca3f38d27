#include "crate/instruments/optimize.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "crate/instruments/subspace_fit.hpp"
#include "crate/io/atomic_file.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/models/vision/patch_embedding.hpp"
#include "crate/report/plot.hpp"
#include "datasets/idx.hpp"
#include "datasets/loader.hpp"
#include "datasets/subspaces.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

constexpr std::uint64_t kSubspaceStream = 11, kDictionaryStream = 12, kProjectionStream = 13;
constexpr std::int64_t kFashionClasses = 10;

Generator stream(std::uint64_t seed, std::uint64_t id) { return Generator(data::derive_seed(seed, id, 0, 0)); }

struct Tokens {
  Tensor z, labels;
  std::string description;
};

Tokens synthetic_tokens(const OptimizeOptions& o, Tensor* true_subspaces) {
  data::SubspaceMixtureOptions m;
  m.ambient_dim = o.dim;
  m.num_subspaces = o.num_subspaces;
  m.subspace_dim = o.subspace_dim;
  m.num_tokens = o.tokens;
  m.noise = o.noise;
  m.coefficients = data::Coefficients::unit_norm;
  Generator gen(o.seed);
  const data::SubspaceMixture mix = data::make_subspace_mixture(m, gen);
  *true_subspaces = bases_to_rows(mix.bases);
  return {mix.tokens, mix.labels,
          fmt::format("synthetic mixture: N = {} tokens in d = {}, K = {} random subspaces of dimension p = {}, "
                      "unit-norm coefficients, noise {}",
                      o.tokens, o.dim, o.num_subspaces, o.subspace_dim, o.noise)};
}

Tokens fashion_tokens(const OptimizeOptions& o) {
  const data::Dataset test = o.data_dir.empty() ? data::load_fashion_mnist(data::Split::test)
                                                : data::load_fashion_mnist(o.data_dir, data::Split::test);
  std::vector<std::int64_t> chosen, per_class(kFashionClasses, 0);
  for (std::int64_t i = 0; i < test.size() && static_cast<std::int64_t>(chosen.size()) < kFashionClasses * o.images_per_class; ++i) {
    const std::int64_t c = test.labels[static_cast<std::size_t>(i)];
    if (per_class[static_cast<std::size_t>(c)] < o.images_per_class) {
      ++per_class[static_cast<std::size_t>(c)];
      chosen.push_back(i);
    }
  }
  const std::int64_t b = static_cast<std::int64_t>(chosen.size());
  if (b < kFashionClasses * o.images_per_class)
    throw std::runtime_error(fmt::format("optimize: {} has only {} images for {} per class", test.name, b, o.images_per_class));
  const data::Normalization norm = data::fashion_mnist_normalization();
  Tensor images = Tensor::empty({b, test.channels, test.height, test.width}, DType::f64);
  std::vector<std::int64_t> labels;
  const std::int64_t n = (test.height / o.patch) * (test.width / o.patch);
  for (std::int64_t i = 0; i < b; ++i) {
    const std::int64_t idx = chosen[static_cast<std::size_t>(i)];
    prim::copy_(prim::select(images, 0, i), data::transform_image(test, idx, {}, norm));
    labels.insert(labels.end(), static_cast<std::size_t>(n), test.labels[static_cast<std::size_t>(idx)]);
  }
  Tensor z = prim::contiguous(patchify(images, o.patch));  // (B, N, P^2)
  std::string proj = "no projection";
  if (o.project_dim > 0) {
    Generator gen = stream(o.seed, kProjectionStream);
    Tensor p = Tensor::empty({z.size(-1), o.project_dim}, DType::f64);
    prim::normal_(p, 0.0, 1.0 / std::sqrt(static_cast<double>(o.project_dim)), gen);
    z = prim::matmul(z, p);
    proj = fmt::format("a fixed Gaussian projection to d = {}", o.project_dim);
  }
  const double mean_sq = prim::sum_all(prim::unary(prim::Unary::square, z)) / static_cast<double>(b * n);
  if (!(mean_sq > 0.0)) throw std::runtime_error("optimize: the Fashion-MNIST patch tokens are all zero");
  z = prim::unary(prim::Unary::mul_scalar, z, 1.0 / std::sqrt(mean_sq));
  return {z, Tensor::from_vector(labels, {b * n}),
          fmt::format("fashion-mnist test: {} images ({} per class), {}x{} patches -> Z ({}, {}, {}), {}, mean squared "
                      "token norm 1; clusters = image classes",
                      b, o.images_per_class, o.patch, o.patch, b, n, z.size(-1), proj)};
}

// Rows of the table / CSV: position 0 is the input, l - 0.5 the compression output of layer l, l its output.
struct Point {
  double position;
  std::string stage;
  const ObjectiveTerms* terms;
  const LayerRecord* layer;
};
std::vector<Point> points(const UnrolledRun& run) {
  std::vector<Point> p;
  if (run.layers.empty()) return p;
  p.push_back({0.0, "input", &run.layers.front().input, &run.layers.front()});
  for (const auto& l : run.layers) {
    p.push_back({static_cast<double>(l.layer) - 0.5, "compression", &l.half, &l});
    p.push_back({static_cast<double>(l.layer), "sparsification", &l.output, &l});
  }
  return p;
}

nlohmann::json terms_json(const ObjectiveTerms& t, double lambda) {
  return {{"rc", t.rc}, {"l1", t.l1}, {"lambda_l1", lambda * t.l1}, {"r", t.r}, {"objective", t.objective}, {"zeros", t.zeros}};
}

nlohmann::json run_json(const UnrolledRun& run, double lambda) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : run.layers)
    layers.push_back({{"layer", l.layer}, {"input", terms_json(l.input, lambda)}, {"half", terms_json(l.half, lambda)},
                      {"output", terms_json(l.output, lambda)}, {"grad_rc_sq", l.grad_sq}, {"step_l1", l.step_l1},
                      {"direction_cos", l.direction_cos}});
  return {{"compression", compression_name(run.compression)}, {"layers", layers},
          {"objective_increases", objective_increases(run)}};
}

}  // namespace

void validate(const OptimizeOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("optimize: " + m); };
  validate(o.process);
  if (o.data != "synthetic" && o.data != "fashion-mnist") bad(fmt::format("unknown --data '{}' (synthetic, fashion-mnist)", o.data));
  if (o.subspaces != "true" && o.subspaces != "pca" && o.subspaces != "random")
    bad(fmt::format("unknown --subspaces '{}' (true, pca, random)", o.subspaces));
  if (o.dictionary != "identity" && o.dictionary != "orthogonal")
    bad(fmt::format("unknown --dictionary '{}' (identity, orthogonal)", o.dictionary));
  if (o.subspace_dim < 1) bad(fmt::format("--subspace-dim must be >= 1, got {}", o.subspace_dim));
  if (o.data == "synthetic") {
    if (o.dim < 1 || o.num_subspaces < 1 || o.tokens < 2)
      bad(fmt::format("synthetic data needs --dim >= 1, --num-subspaces >= 1, --tokens >= 2; got {}, {}, {}", o.dim,
                      o.num_subspaces, o.tokens));
    if (o.subspace_dim > o.dim) bad(fmt::format("--subspace-dim {} exceeds --dim {}", o.subspace_dim, o.dim));
    if (!(o.noise >= 0.0)) bad(fmt::format("--noise must be >= 0, got {}", o.noise));
    if (o.subspaces == "pca" && o.tokens < o.num_subspaces * o.subspace_dim)
      bad(fmt::format("--subspaces pca needs at least p tokens per subspace: --tokens {} < K p = {}", o.tokens,
                      o.num_subspaces * o.subspace_dim));
  } else {
    if (o.subspaces == "true") bad("--subspaces true needs --data synthetic (Fashion-MNIST has no true subspaces); use pca or random");
    if (o.patch < 1 || 28 % o.patch != 0) bad(fmt::format("--patch must divide 28 (1, 2, 4, 7, 14, 28), got {}", o.patch));
    if (o.images_per_class < 1) bad(fmt::format("--images-per-class must be >= 1, got {}", o.images_per_class));
    if (o.project_dim < 0) bad(fmt::format("--project-dim must be >= 0, got {}", o.project_dim));
    const std::int64_t d = o.project_dim > 0 ? o.project_dim : o.patch * o.patch;
    if (o.subspace_dim > d) bad(fmt::format("--subspace-dim {} exceeds the token width d = {}", o.subspace_dim, d));
    if ((28 / o.patch) * (28 / o.patch) < 2) bad("--patch 28 leaves one token per image; rates need N >= 2");
  }
}

OptimizeProblem make_problem(const OptimizeOptions& o) {
  validate(o);
  OptimizeProblem pr;
  const Tokens t = o.data == "synthetic" ? synthetic_tokens(o, &pr.true_subspaces) : fashion_tokens(o);
  pr.tokens = t.z;
  pr.labels = t.labels;
  const std::int64_t d = t.z.size(-1);
  const std::int64_t k = o.data == "synthetic" ? o.num_subspaces : kFashionClasses;
  std::string sub;
  if (o.subspaces == "true") {
    pr.subspaces = pr.true_subspaces;
    sub = "the true subspaces";
  } else if (o.subspaces == "pca") {
    pr.subspaces = fit_pca_subspaces(t.z, t.labels, k, o.subspace_dim);
    sub = fmt::format("PCA of each cluster (top {} eigenvectors of its second moment)", o.subspace_dim);
  } else {
    Generator gen = stream(o.seed, kSubspaceStream);
    pr.subspaces = random_subspaces(k, o.subspace_dim, d, gen);
    sub = "random subspaces";
  }
  if (o.dictionary == "orthogonal") {
    Generator gen = stream(o.seed, kDictionaryStream);
    pr.dictionary = data::random_orthonormal(d, d, gen);
  }
  pr.description = fmt::format("{}\nsubspaces: K = {}, p = {}, {}; dictionary: {}", t.description, k, o.subspace_dim, sub,
                               o.dictionary);
  return pr;
}

OptimizeResult optimize(const OptimizeOptions& o) {
  const OptimizeProblem pr = make_problem(o);
  OptimizeResult r;
  r.options = o;
  r.description = pr.description;
  UnrolledOptions exact = o.process, mssa = o.process;
  exact.compression = CompressionStep::exact;
  mssa.compression = CompressionStep::mssa;
  r.bounds = descent_bounds(pr.tokens.size(-2), pr.tokens.size(-1), pr.subspaces, exact, !pr.dictionary.defined());
  if (pr.true_subspaces.defined())
    for (std::int64_t k = 0; k < pr.subspaces.size(0); ++k)
      r.min_principal_cosine.push_back(
          principal_cosines(prim::select(pr.subspaces, 0, k), prim::select(pr.true_subspaces, 0, k)).back());
  r.exact = run_unrolled(pr.tokens, pr.subspaces, pr.dictionary, exact);
  r.mssa = run_unrolled(pr.tokens, pr.subspaces, pr.dictionary, mssa);
  return r;
}

std::vector<std::int64_t> objective_increases(const UnrolledRun& run) {
  std::vector<std::int64_t> up;
  for (const auto& l : run.layers)
    if (l.output.objective > l.input.objective) up.push_back(l.layer);
  return up;
}

std::string format_optimize_table(const OptimizeResult& r) {
  const UnrolledOptions& p = r.options.process;
  std::string s = r.description + "\n";
  s += fmt::format("L = {}, kappa = {}, eta = {}, lambda = {}, eps = {}, {} soft threshold\n", p.layers, p.kappa, p.eta,
                   p.lambda, p.eps, p.nonnegative ? "nonnegative" : "signed");
  if (!r.min_principal_cosine.empty()) {
    s += "smallest principal cosine, used vs true subspace:";
    for (const double c : r.min_principal_cosine) s += fmt::format(" {:.6f}", c);
    s += "\n";
  }
  s += describe(r.bounds, p);
  s += fmt::format("{:>6} | {:<56} | {}\n", "", "exact gradient step on R^c", "MSSA step");
  s += fmt::format("{:>6} | {:>10} {:>15} {:>10} {:>11} {:>6} | {:>10} {:>15} {:>10} {:>11} {:>6}\n", "layer", "R^c",
                   "lambda||Z||_1", "R", "objective", "zeros", "R^c", "lambda||Z||_1", "R", "objective", "zeros");
  const auto pe = points(r.exact), pm = points(r.mssa);
  for (std::size_t i = 0; i < pe.size() && i < pm.size(); ++i) {
    const ObjectiveTerms &a = *pe[i].terms, &b = *pm[i].terms;
    s += fmt::format("{:>6} | {:>10.4f} {:>15.4f} {:>10.4f} {:>11.4f} {:>5.1f}% | {:>10.4f} {:>15.4f} {:>10.4f} {:>11.4f} {:>5.1f}%\n",
                     fmt::format("{:g}", pe[i].position), a.rc, p.lambda * a.l1, a.r, a.objective, 100 * a.zeros, b.rc,
                     p.lambda * b.l1, b.r, b.objective, 100 * b.zeros);
  }
  for (const UnrolledRun* run : {&r.exact, &r.mssa}) {
    const auto up = objective_increases(*run);
    std::int64_t rc_down = 0;
    double cos_min = 1.0;
    for (const auto& l : run->layers) {
      rc_down += l.half.rc < l.input.rc ? 1 : 0;
      cos_min = std::min(cos_min, l.direction_cos);
    }
    s += fmt::format("{}: objective decreased at {}/{} layers{}; compression lowered R^c at {}/{} layers; "
                     "min cos(step, grad R^c) = {:.4f}\n",
                     compression_name(run->compression), run->layers.size() - up.size(), run->layers.size(),
                     up.empty() ? "" : fmt::format(" (rose at layer {})", fmt::join(up, ", ")), rc_down,
                     run->layers.size(), cos_min);
  }
  return s;
}

nlohmann::json to_json(const OptimizeResult& r) {
  const OptimizeOptions& o = r.options;
  const UnrolledOptions& p = o.process;
  const DescentBounds& b = r.bounds;
  return {{"description", r.description},
          {"options", {{"data", o.data}, {"subspaces", o.subspaces}, {"dictionary", o.dictionary}, {"seed", o.seed},
                       {"subspace_dim", o.subspace_dim}, {"dim", o.dim}, {"num_subspaces", o.num_subspaces},
                       {"tokens", o.tokens}, {"noise", o.noise}, {"images_per_class", o.images_per_class},
                       {"patch", o.patch}, {"project_dim", o.project_dim}, {"layers", p.layers}, {"kappa", p.kappa},
                       {"eta", p.eta}, {"lambda", p.lambda}, {"eps", p.eps}, {"nonnegative", p.nonnegative},
                       {"softmax_scale", p.softmax_scale}}},
          {"bounds", {{"beta", b.beta}, {"alpha", b.alpha}, {"u_norm_sq", b.u_norm_sq}, {"lipschitz_rc", b.lipschitz_rc},
                      {"kappa_rc", b.kappa_rc}, {"lambda_star", b.lambda_star}, {"kappa_monotone", b.kappa_monotone},
                      {"rc_descent", b.rc_descent}, {"objective_descent", b.objective_descent}}},
          {"min_principal_cosine", r.min_principal_cosine},
          {"runs", {run_json(r.exact, p.lambda), run_json(r.mssa, p.lambda)}}};
}

void write_optimize(const std::string& prefix, const OptimizeResult& r, bool plot) {
  const double lambda = r.options.process.lambda;
  std::string csv = "variant,position,stage,layer,rc,l1,lambda_l1,r,objective,zeros,grad_rc_sq,step_l1,direction_cos\n";
  for (const UnrolledRun* run : {&r.exact, &r.mssa})
    for (const Point& pt : points(*run)) {
      const ObjectiveTerms& t = *pt.terms;
      csv += fmt::format("{},{},{},{},{:.10g},{:.10g},{:.10g},{:.10g},{:.10g},{:.6g},{:.10g},{:.10g},{:.8g}\n",
                         compression_name(run->compression), pt.position, pt.stage, pt.layer->layer, t.rc, t.l1,
                         lambda * t.l1, t.r, t.objective, t.zeros, pt.layer->grad_sq, pt.layer->step_l1,
                         pt.layer->direction_cos);
    }
  write_file_atomic(prefix + ".csv", csv);
  write_file_atomic(prefix + ".json", to_json(r).dump(2) + "\n");
  if (!plot) return;
  Panel obj{"objective R^c + lambda||Z||_1 - R", "layer", "objective", {}, false};
  Panel gap{"R^c - R (objective without lambda||Z||_1)", "layer", "R^c - R", {}, false};
  Panel rc{"compression R^c(Z | U)", "layer", "R^c", {}, false};
  Panel rate{"coding rate R(Z)", "layer", "R", {}, false};
  Panel l1{"sparsity term lambda ||Z||_1", "layer", "lambda ||Z||_1", {}, false};
  for (const UnrolledRun* run : {&r.exact, &r.mssa}) {
    const std::string label = run->compression == CompressionStep::exact ? "exact gradient" : "MSSA";
    Series so{label, {}, {}, {}}, sg{label, {}, {}, {}}, sr{label, {}, {}, {}}, sa{label, {}, {}, {}}, sl{label, {}, {}, {}};
    for (const Point& pt : points(*run)) {
      for (Series* s : {&so, &sg, &sr, &sa, &sl}) s->x.push_back(pt.position);
      so.y.push_back(pt.terms->objective);
      sg.y.push_back(pt.terms->rc - pt.terms->r);
      sr.y.push_back(pt.terms->rc);
      sa.y.push_back(pt.terms->r);
      sl.y.push_back(lambda * pt.terms->l1);
    }
    obj.series.push_back(so);
    gap.series.push_back(sg);
    rc.series.push_back(sr);
    rate.series.push_back(sa);
    l1.series.push_back(sl);
  }
  plot_png(prefix + ".png", {obj, gap, rc, rate, l1}, 1900, 420);
}

}  // namespace wb::crate
