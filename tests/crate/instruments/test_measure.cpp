// The layer-wise measurement against an independent float64 computation, the sanity bounds of
// crate-spec §3 on random models, and the measurement/objective hooks of the training driver.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "autograd/engine.hpp"
#include "crate/instruments/measure.hpp"
#include "crate/instruments/variational_rate.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/objectives/sparse_rate_reduction.hpp"
#include "datasets/idx.hpp"
#include "ops/coding_rate.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"
#include "tests/support/datasets.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

CrateConfig tiny(DType dtype, std::uint64_t seed) {
  CrateConfig c;
  c.name = "tiny-measure";
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 1;
  c.num_classes = 3;
  c.dim = 6;
  c.depth = 3;
  c.heads = 2;
  c.dim_head = 3;
  c.dtype = dtype;
  c.seed = seed;
  return c;
}

// log det of a symmetric positive-definite matrix by a textbook Cholesky in double.
double logdet_spd(std::vector<double> a, std::size_t n) {
  double ld = 0.0;
  for (std::size_t j = 0; j < n; ++j) {
    double s = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) s -= a[j * n + k] * a[j * n + k];
    const double l = std::sqrt(s);
    a[j * n + j] = l;
    ld += 2.0 * std::log(l);
    for (std::size_t i = j + 1; i < n; ++i) {
      double t = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = t / l;
    }
  }
  return ld;
}

// The official hook's R^c of one image: per head, unit-normalize each token's p-dim projection, then
// 1/2 logdet(I_n + p/(n eps) X X^T) with eps = 0.01, summed over heads.
double reference_rc(const std::vector<double>& qkv, std::size_t n, std::size_t heads, std::size_t p) {
  double total = 0.0;
  for (std::size_t k = 0; k < heads; ++k) {
    std::vector<double> x(n * p);
    for (std::size_t t = 0; t < n; ++t) {
      double norm = 0.0;
      for (std::size_t i = 0; i < p; ++i) norm += qkv[t * heads * p + k * p + i] * qkv[t * heads * p + k * p + i];
      norm = std::sqrt(norm);
      for (std::size_t i = 0; i < p; ++i) x[t * p + i] = qkv[t * heads * p + k * p + i] / norm;
    }
    const double scale = static_cast<double>(p) / (static_cast<double>(n) * 0.01);
    std::vector<double> g(n * n);
    for (std::size_t a = 0; a < n; ++a)
      for (std::size_t b = 0; b < n; ++b) {
        double dot = 0.0;
        for (std::size_t i = 0; i < p; ++i) dot += x[a * p + i] * x[b * p + i];
        g[a * n + b] = (a == b ? 1.0 : 0.0) + scale * dot;
      }
    total += 0.5 * logdet_spd(g, n);
  }
  return total;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(measurement)

BOOST_AUTO_TEST_CASE(matches_an_independent_float64_computation) {
  const CrateModel m(tiny(DType::f64, 4));
  const Tensor images = wbtest::randn({3, 1, 8, 8}, 8);
  const auto got = measure_batch(m, images);
  std::vector<LayerTrace> trace;
  (void)m.features(images, &trace);
  const std::size_t n = 5, heads = 2, p = 3, d = 6;
  for (std::size_t l = 0; l < 3; ++l) {
    const auto q = trace[l].qkv.to_vector<double>();
    const auto out = trace[l].output.to_vector<double>();
    for (std::size_t b = 0; b < 3; ++b) {
      const std::vector<double> qb(q.begin() + static_cast<std::ptrdiff_t>(b * n * heads * p),
                                   q.begin() + static_cast<std::ptrdiff_t>((b + 1) * n * heads * p));
      const double want = reference_rc(qb, n, heads, p);
      BOOST_TEST(std::abs(got.at("rc_in")[l][b] - want) < 1e-9 * std::max(1.0, std::abs(want)),
                 "layer " << l << " image " << b << ": " << got.at("rc_in")[l][b] << " vs " << want);
      std::size_t zeros = 0;
      double l1 = 0.0;
      for (std::size_t i = 0; i < n * d; ++i) {
        zeros += out[b * n * d + i] == 0.0;
        l1 += std::abs(out[b * n * d + i]);
      }
      BOOST_TEST(std::abs(got.at("nonzero")[l][b] - (1.0 - static_cast<double>(zeros) / static_cast<double>(n * d))) < 1e-12);
      BOOST_TEST(std::abs(got.at("l1")[l][b] - l1 / static_cast<double>(n * d)) < 1e-12);
      BOOST_TEST(std::abs(got.at("delta_r")[l][b] - (got.at("r_out")[l][b] - got.at("rc_out")[l][b])) < 1e-9);
    }
  }
}

BOOST_AUTO_TEST_CASE(spec_bounds_hold_on_random_models) {
  // Per head, with unit-norm tokens: 1/2 ln(1 + p/eps^2) <= R_p <= (r/2) ln(1 + p/(r eps^2)), r = min(n, p);
  // R^c of a layer lies within K times these (spec §3).
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    CrateConfig c = tiny(DType::f32, seed);
    c.depth = 4;
    const CrateModel m(c);
    const auto b = ops::head_rate_bounds(5, 3, ops::kMeasurementEps, ops::kMeasurement);
    const auto v = measure_batch(m, wbtest::randn({4, 1, 8, 8}, 10 + seed, DType::f32));
    for (const char* q : {"rc_in", "rc_half", "rc_out"})
      for (const auto& layer : v.at(q))
        for (double x : layer) {
          BOOST_TEST(x >= 2 * b.min - 1e-3, q << " " << x << " below " << 2 * b.min);
          BOOST_TEST(x <= 2 * b.max + 1e-3, q << " " << x << " above " << 2 * b.max);
        }
    for (const auto& layer : v.at("nonzero"))
      for (double x : layer) BOOST_TEST((x >= 0.0 && x <= 1.0));
  }
  // The closed forms themselves (spec §3: CRATE-S, p = 48, K = 12, eps^2 = 0.01 -> about 51 and 1329).
  const auto s = ops::head_rate_bounds(197, 48, ops::kMeasurementEps, ops::kMeasurement);
  BOOST_TEST(std::abs(12 * s.min - 12 * 0.5 * std::log(1 + 4800.0)) < 1e-9);
  BOOST_TEST(std::abs(12 * s.max - 12 * 24 * std::log(101.0)) < 1e-9);
  BOOST_TEST(std::round(12 * s.min) == 51);
  BOOST_TEST(std::round(12 * s.max) == 1329);
}

BOOST_AUTO_TEST_CASE(sparse_rate_reduction_objective_is_differentiable) {
  CrateModel m(tiny(DType::f64, 6));
  const Tensor x = wbtest::randn({2, 1, 8, 8}, 12);
  std::vector<LayerTrace> trace;
  (void)m.forward(x, &trace);
  const Tensor s = sparse_rate_reduction_objective(m.layers(), trace);
  BOOST_TEST(s.numel() == 1);
  // The mean of the per-layer values measure_batch reports.
  const auto v = measure_batch(m, x);
  double mean = 0.0;
  for (const auto& layer : v.at("srr"))
    for (double y : layer) mean += y;
  mean /= 3.0 * 2.0;
  BOOST_TEST(std::abs(s.item() - mean) < 1e-9 * std::abs(mean));
  wb::autograd::backward(s);
  bool any = false;
  for (const auto& p : m.parameters()) any = any || (p.grad().defined() && prim::sum_all(prim::unary(prim::Unary::abs, p.grad())) > 0);
  BOOST_TEST(any);
}

BOOST_AUTO_TEST_CASE(training_records_measurements_and_the_objective, *wbtest::require_dataset("fashion-mnist")) {
  const wbtest::TempDir tmp;
  const std::string dir = tmp.str();
  TrainOptions o;
  o.model = named_config("crate-mini-28");
  o.model.dim = 8;
  o.model.depth = 2;
  o.model.heads = 2;
  o.model.dim_head = 4;
  o.model.patch_size = 7;
  o.epochs = 2;
  o.batch_size = 32;
  o.train_limit = 64;
  o.test_limit = 32;
  o.measure_every = 1;
  o.measure_limit = 16;
  o.srr_weight = 0.01;
  o.log_every = 1;
  o.out_dir = dir + "/run";
  o.progress = false;
  o.plot = false;
  train(o);
  std::ifstream in(dir + "/run/measurements.jsonl");
  std::vector<std::int64_t> epochs;
  std::string line;
  while (std::getline(in, line)) epochs.push_back(nlohmann::json::parse(line).at("epoch").get<std::int64_t>());
  BOOST_TEST((epochs == std::vector<std::int64_t>{0, 1, 2}));
  BOOST_TEST(std::filesystem::exists(dir + "/run/measure.csv"));
  std::ifstream metrics(dir + "/run/metrics.jsonl");
  bool srr_seen = false;
  while (std::getline(metrics, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j["kind"] == "step") srr_seen = srr_seen || j.at("srr").get<double>() != 0.0;
  }
  BOOST_TEST(srr_seen);
}

BOOST_AUTO_TEST_CASE(measures_a_bare_layer_stack_with_per_layer_head_layouts) {
  // A stack of layers outside any model, each with its own head layout (K, p): the rc_in selectors and
  // U come from each layer, so layer l's rc_in is the official hook's R^c of its qkv with its (K, p).
  BlockConfig a;
  a.dim = 6, a.heads = 2, a.dim_head = 3, a.dtype = DType::f64;
  BlockConfig b = a;
  b.heads = 3, b.dim_head = 2, b.ista_residual = true, b.lambda = 0.3;
  Generator gen(5);
  const CrateLayer l1(a, gen), l2(b, gen);
  const std::vector<const CrateLayer*> stack{&l1, &l2};
  std::vector<LayerTrace> traces(2);
  Tensor z = wbtest::randn({2, 5, 6}, 21);
  for (std::size_t l = 0; l < 2; ++l) z = stack[l]->forward(z, &traces[l]);
  const auto v = measure_layers(stack, traces);
  const std::size_t n = 5;
  for (std::size_t l = 0; l < 2; ++l) {
    const auto heads = static_cast<std::size_t>(stack[l]->config().heads), p = static_cast<std::size_t>(stack[l]->config().dim_head);
    const auto q = traces[l].qkv.to_vector<double>();
    for (std::size_t i = 0; i < 2; ++i) {
      const std::vector<double> qi(q.begin() + static_cast<std::ptrdiff_t>(i * n * heads * p),
                                   q.begin() + static_cast<std::ptrdiff_t>((i + 1) * n * heads * p));
      const double want = reference_rc(qi, n, heads, p);
      BOOST_TEST(std::abs(v.at("rc_in")[l][i] - want) < 1e-9 * std::max(1.0, std::abs(want)));
    }
  }
  // srr uses each layer's lambda: the same as the differentiable objective over the stack.
  double mean = 0.0;
  for (const auto& layer : v.at("srr"))
    for (double y : layer) mean += y / 4.0;
  BOOST_TEST(std::abs(sparse_rate_reduction_objective(stack, traces).item() - mean) < 1e-9 * std::abs(mean));
  BOOST_CHECK_THROW(measure_layers(stack, std::vector<LayerTrace>(1)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(measure_batch_is_measure_layers_on_the_model_stack) {
  const CrateModel m(tiny(DType::f64, 9));
  const Tensor images = wbtest::randn({2, 1, 8, 8}, 13);
  std::vector<LayerTrace> traces;
  (void)m.features(images, &traces);
  BOOST_TEST((measure_batch(m, images) == measure_layers(m.layers(), traces)));  // bit for bit
}

BOOST_AUTO_TEST_CASE(measure_runs_in_evaluation_mode_and_restores_the_callers_mode) {
  data::Dataset d;
  d.name = "tiny";
  d.channels = 1, d.height = 8, d.width = 8, d.num_classes = 3;
  for (int i = 0; i < 5 * 64; ++i) d.pixels.push_back(static_cast<std::uint8_t>((i * 37) % 256));
  d.labels = {0, 1, 2, 0, 1};
  data::LoaderOptions lo;
  lo.batch_size = 2;
  data::Loader loader(std::move(d), data::eval_options(lo));
  CrateConfig c = tiny(DType::f32, 3);
  c.dropout = 0.5;  // would change the values in training mode
  CrateModel m(c);
  for (const bool mode : {true, false}) {
    m.train(mode);
    const Measurement got = measure(m, loader, "x");
    BOOST_TEST(m.training() == mode);
    BOOST_TEST(got.images == 5);
    BOOST_TEST(got.layers.size() == 3u);
  }
  // Evaluation mode, so both passes measured the same numbers.
  m.train(true);
  const double first = measure(m, loader, "a").layers[0].values.at("rc_in").mean;
  BOOST_TEST(measure(m, loader, "b").layers[0].values.at("rc_in").mean == first);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(variational_rate_measure)

BOOST_AUTO_TEST_CASE(hand_computed_values_and_bounds) {
  const double e2 = 0.01;
  // One head of p = 2, two tokens (3, 4) and (1, 0), Pi = 1: unit-norm squares (0.36, 0.64) and (1, 0),
  // x = (0.68, 0.32), R^var = 1/2 [ln(1 + 200 * 0.68) + ln(1 + 200 * 0.32)].
  const Tensor w = Tensor::from_vector(std::vector<double>{3, 4, 1, 0}, {1, 2, 2});
  const double want = 0.5 * (std::log(1 + 200 * 0.68) + std::log(1 + 200 * 0.32));
  BOOST_TEST(std::abs(variational_rate(w, Tensor(), 1, e2).item() - want) < 1e-12);
  // Halving token 1's weight: n_1 = 1.5, x = (0.36 + 0.5, 0.64) / 1.5, times n_1 / n = 0.75.
  const Tensor pi = Tensor::from_vector(std::vector<double>{1, 0.5}, {1, 2, 1});
  const double want_pi = 0.75 * 0.5 * (std::log(1 + 200 * 0.86 / 1.5) + std::log(1 + 200 * 0.64 / 1.5));
  BOOST_TEST(std::abs(variational_rate(w, pi, 1, e2).item() - want_pi) < 1e-12);
  // The maximum under a Pi that sums to 1 over K = 2 heads: p = 3 tokens whose head projections are the
  // axes (x_ki = 1/p) and Pi = 1/2 give (p/2) ln(1 + 1/eps^2); ToST's 110.7 is this at p = 48.
  std::vector<double> axes(3 * 6, 0.0);
  for (int j = 0; j < 3; ++j) axes[static_cast<std::size_t>(j * 6 + j)] = axes[static_cast<std::size_t>(j * 6 + 3 + j)] = 2.0;
  const Tensor half = Tensor::full({1, 3, 2}, 0.5, DType::f64);
  BOOST_TEST(std::abs(variational_rate(Tensor::from_vector(axes, {1, 3, 6}), half, 2, e2).item() - 1.5 * std::log(101.0)) <
             1e-12);
  BOOST_TEST(std::abs(24 * std::log(101.0) - 110.76) < 0.01);
}

BOOST_AUTO_TEST_CASE(with_pi_one_it_bounds_rc_from_above) {
  // Hadamard's inequality: logdet(I + a W^T W) <= sum_i log(1 + a (W^T W)_ii), per head.
  const Tensor w = wbtest::randn({3, 7, 6}, 401);
  Tensor sel = Tensor::zeros({2, 3, 6}, DType::f64);
  for (int k = 0; k < 2; ++k)
    for (int i = 0; i < 3; ++i) sel.data<double>()[(k * 3 + i) * 6 + k * 3 + i] = 1.0;
  const auto rc = ops::compressed_coding_rate(w, sel, ops::kMeasurementEps, ops::kMeasurement).to_vector<double>();
  const auto rv = variational_rate(w, Tensor(), 2, ops::kMeasurementEps).to_vector<double>();
  for (std::size_t b = 0; b < rc.size(); ++b) BOOST_TEST(rv[b] >= rc[b] - 1e-9, rv[b] << " < " << rc[b]);
  BOOST_CHECK_THROW(variational_rate(w, Tensor::ones({3, 7, 3}, DType::f64), 2, 0.01), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
