#include "crate/instruments/verify/ista_prox.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/blocks/ista.hpp"
#include "crate/instruments/subspace_fit.hpp"
#include "crate/instruments/verify/detail.hpp"

namespace wb::crate {
namespace {

using namespace verify_detail;
using prim::Binary;
using prim::Unary;

// Entrywise |z| + eta |D^T| (|z| + |D| |z|) + eta lambda (column form): the scale of the rounding error
// of one ISTA output entry.
Tensor ista_error_scale(const Tensor& zc, const Tensor& d, double eta, double lambda) {
  const Tensor az = prim::unary(Unary::abs, zc), ad = prim::unary(Unary::abs, d);
  const Tensor r = plus(az, mm(ad, az));  // |z| + |D| |z| >= |z - D z|
  return prim::unary(Unary::add_scalar, plus(az, scaled(mm(tr(ad), r), eta)), eta * lambda);
}

// The derivation for one batch element, zc (D, N) tokens as columns, in zc's dtype: the sparse code,
// the block's output (the same tensor for the complete dictionary), and the largest rounding scale
// of an entry of each (each entry's error is at most gamma_m times it).
struct ProxReference {
  Tensor code, out;
  double code_scale = 0.0, out_scale = 0.0;
};
ProxReference prox_reference(const Tensor& zc, const Tensor& d, const Tensor& d1, double eta, double lambda) {
  // prox_{eta g}(v) for g = lambda ||.||_1 + [. >= 0]: max(v - eta lambda, 0) entrywise
  auto prox = [&](const Tensor& v) {
    const Tensor shifted = prim::unary(Unary::add_scalar, v, -eta * lambda);
    return prim::binary(Binary::maximum, shifted, prim::zeros_like(shifted));
  };
  ProxReference ref;
  if (d1.defined()) {
    // CRATE-alpha: two steps from A0 = 0 (grad f(A) = D^T (D A - z)), then the output dictionary D1.
    const Tensor a1 = prox(scaled(mm(tr(d), zc), eta));
    ref.code = prox(minus(a1, scaled(mm(tr(d), minus(mm(d, a1), zc)), eta)));
    ref.out = mm(d1, ref.code);
    // Rounding scale, in the style of ista_error_scale: |D1| (|A2| + |A1| + eta |D^T| (|D| |A1| + |z|) + eta lambda),
    // with absolute values of every factor.
    auto ab = [](const Tensor& t) { return prim::unary(Unary::abs, prim::cast(t, DType::f64)); };
    const Tensor inner = prim::binary(Binary::add, mm(ab(d), ab(a1)), ab(zc));
    const Tensor a2s = prim::unary(Unary::add_scalar,
                                   prim::binary(Binary::add, prim::binary(Binary::add, ab(ref.code), ab(a1)),
                                                scaled(mm(tr(ab(d)), inner), eta)),
                                   eta * lambda);
    ref.code_scale = max_abs(a2s);
    ref.out_scale = max_abs(mm(ab(d1), a2s));
    return ref;
  }
  // One proximal-gradient step on F(A) = lambda ||A||_1 + 1/2 ||Z - D A||^2 + [A >= 0], column form,
  // from A0 = Z:  grad f(A0) = -D^T (Z - D A0);  A+ = prox_{eta g}(A0 - eta grad f(A0)).
  const Tensor grad_f = scaled(mm(tr(d), minus(zc, mm(d, zc))), -1.0);
  ref.code = ref.out = prox(minus(zc, scaled(grad_f, eta)));
  ref.code_scale = ref.out_scale =
      max_abs(ista_error_scale(prim::cast(zc, DType::f64), prim::cast(d, DType::f64), eta, lambda));
  return ref;
}

// 2 gamma_m scale, m the longest chain of rounded operations per entry (two length-d products per
// step; the overcomplete block chains two steps over r d atoms and the output product).
double rounding_bound(DType dtype, std::int64_t dim, std::int64_t atoms, bool overcomplete, int extra, double scale) {
  const double u = dtype == DType::f64 ? std::ldexp(1.0, -53) : std::ldexp(1.0, -24);
  const double m = static_cast<double>((overcomplete ? 3 * atoms + 2 * dim + 16 : 2 * dim + 8) + extra);
  return 2.0 * (m * u / (1.0 - m * u)) * scale;
}

// Magnitude, sparsity and eta ||D^T D||_2 of a block output or code.
void describe(IstaProxResult& r, const Tensor& out, const Tensor& d, double eta) {
  r.max_abs_value = max_abs(out);
  const auto ov = prim::cast(out, DType::f64).to_vector<double>();
  r.zero_fraction = static_cast<double>(std::count(ov.begin(), ov.end(), 0.0)) / static_cast<double>(ov.size());
  const Tensor d64 = prim::cast(d, DType::f64);
  const SymmetricEigen dtd = symmetric_eigen(mm(tr(d64), d64));
  r.eta_lipschitz = eta * *std::max_element(dtd.values.begin(), dtd.values.end());
}

// The value of a scalar parameter of `m` ("eta", "lambd"), or `fallback` when it has none.
double scalar_parameter(const Module& m, const std::string& name, double fallback) {
  for (const auto& [n, t] : m.named_parameters())
    if (n == name) return prim::cast(t, DType::f64).to_vector<double>().at(0);
  return fallback;
}

}  // namespace

IstaProxOptions ista_options_for(const CrateConfig& c) {
  if (c.mlp != MlpKind::ista)
    throw std::invalid_argument(
        fmt::format("verify: config '{}' has mlp '{}', not an ISTA block", c.name, name_of(c.mlp)));
  IstaProxOptions o;
  o.dim = c.dim;
  o.eta = c.eta;
  o.lambda = c.lambda;
  o.dictionary = c.dictionary;
  o.overcomplete_ratio = c.overcomplete_ratio;
  o.learnable_ista = c.learnable_ista;
  return o;
}

IstaProxResult ista_prox_check(const IstaProxOptions& o, DType dtype) {
  if (!is_floating(dtype)) throw std::invalid_argument("ista_prox_check: dtype must be f32 or f64");
  autograd::NoGradGuard ng;
  BlockConfig c;
  c.dim = o.dim;
  c.eta = o.eta;
  c.lambda = o.lambda;
  c.dtype = dtype;
  c.dictionary = o.dictionary;
  c.overcomplete_ratio = o.overcomplete_ratio;
  c.learnable_ista = o.learnable_ista;
  Generator gen(o.seed);
  const ISTA ista(c, gen);
  // LayerNorm'd-like inputs: unit-variance entries, as the block sees after LN2.
  Tensor x = Tensor::empty({o.batch, o.tokens, o.dim}, dtype);
  prim::normal_(x, 0.0, 1.0, gen);
  const Tensor out = ista.forward(x);
  const Tensor d = ista.dictionary().detach();
  const Tensor d1 = o.dictionary == Dictionary::overcomplete ? ista.output_dictionary().detach() : Tensor();
  IstaProxResult r;
  r.dtype = dtype;
  double scale = 0.0;
  for (std::int64_t b = 0; b < o.batch; ++b) {
    const ProxReference ref = prox_reference(tr(prim::select(x, 0, b)), d, d1, o.eta, o.lambda);
    r.max_abs_diff = std::max(r.max_abs_diff, max_abs(minus(tr(prim::select(out, 0, b)), ref.out)));
    scale = std::max(scale, ref.out_scale);
  }
  r.error_bound = rounding_bound(dtype, o.dim, o.overcomplete_ratio * o.dim, d1.defined(), 0, scale);
  describe(r, out, d, o.eta);
  return r;
}

std::vector<Check> ista_checks(const std::vector<IstaProxResult>& rs) {
  std::vector<Check> out;
  for (const auto& r : rs) {
    Check c;
    c.name = fmt::format("ISTA block = prox-gradient step ({})", dtype_name(r.dtype));
    c.pass = r.max_abs_diff <= r.error_bound && (r.dtype != DType::f64 || r.max_abs_diff <= 1e-12);
    c.detail = fmt::format("max |diff| {:.3e} <= rounding bound {:.3e}{}", r.max_abs_diff, r.error_bound,
                           r.dtype == DType::f64 ? " and <= 1e-12" : "");
    out.push_back(c);
  }
  return out;
}

std::vector<IstaProxResult> ista_layer_results(LayerStack layers, const std::vector<LayerTrace>& traces) {
  if (layers.size() != traces.size())
    throw std::invalid_argument(fmt::format("ista_layer_results: {} layers but {} traces", layers.size(), traces.size()));
  autograd::NoGradGuard ng;
  std::vector<IstaProxResult> out;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const ISTA* ista = layers[l]->ista();
    if (ista == nullptr) continue;
    const BlockConfig& c = layers[l]->config();
    const LayerTrace& t = traces[l];
    const double eta = scalar_parameter(*ista, "eta", c.eta), lambda = scalar_parameter(*ista, "lambd", c.lambda);
    const Tensor d = ista->dictionary().detach();
    const Tensor d1 = c.dictionary == Dictionary::overcomplete ? ista->output_dictionary().detach() : Tensor();
    const bool residual = c.residual_after_mlp();
    IstaProxResult r;
    r.dtype = t.ln2.dtype();
    r.layer = static_cast<std::int64_t>(l) + 1;
    double scale = 0.0;
    for (std::int64_t b = 0; b < t.ln2.size(0); ++b) {
      const ProxReference ref = prox_reference(tr(prim::select(t.ln2.detach(), 0, b)), d, d1, eta, lambda);
      const Tensor zh = tr(prim::select(t.z_half.detach(), 0, b));
      const Tensor want = residual ? plus(zh, ref.out) : ref.out;
      r.max_abs_diff = std::max({r.max_abs_diff, max_abs(minus(tr(prim::select(t.code.detach(), 0, b)), ref.code)),
                                 max_abs(minus(tr(prim::select(t.output.detach(), 0, b)), want))});
      scale = std::max({scale, ref.code_scale, ref.out_scale + (residual ? max_abs(zh) : 0.0)});
    }
    r.error_bound = rounding_bound(r.dtype, c.dim, c.overcomplete_ratio * c.dim, d1.defined(), residual ? 1 : 0, scale);
    describe(r, t.code.detach(), d, eta);
    out.push_back(r);
  }
  return out;
}

std::vector<Check> ista_layer_checks(const std::vector<IstaProxResult>& rs) {
  std::vector<Check> out;
  for (const auto& r : rs)
    out.push_back({fmt::format("layer {}: ISTA block = prox-gradient step ({})", r.layer, dtype_name(r.dtype)),
                   r.max_abs_diff <= r.error_bound,
                   fmt::format("max |diff| {:.3e} <= rounding bound {:.3e}", r.max_abs_diff, r.error_bound)});
  return out;
}

std::vector<Check> ista_layer_checks(LayerStack layers, const std::vector<LayerTrace>& traces) {
  return ista_layer_checks(ista_layer_results(layers, traces));
}

std::string format_ista(const std::vector<IstaProxResult>& rs, const IstaProxOptions& o) {
  std::string s = o.dictionary == Dictionary::overcomplete
                      ? fmt::format("overcomplete ISTA block (CRATE-alpha, {} d atoms) vs two proximal-gradient steps of "
                                    "the nonnegative LASSO from A = 0 and the output dictionary "
                                    "(d = {}, {} x {} tokens, eta = {}, lambda = {})\n",
                                    o.overcomplete_ratio, o.dim, o.batch, o.tokens, o.eta, o.lambda)
                      : fmt::format("ISTA block{} vs one proximal-gradient step of the nonnegative LASSO from A = Z "
                                    "(d = {}, {} x {} tokens, eta = {}, lambda = {})\n",
                                    o.learnable_ista ? " (learnable eta, lambda at their initial values)" : "", o.dim,
                                    o.batch, o.tokens, o.eta, o.lambda);
  s += fmt::format("{:>6} {:>12} {:>12} {:>10} {:>10} {:>14}\n", "dtype", "max |diff|", "bound", "max |out|", "zeros",
                   "eta ||D^T D||");
  for (const auto& r : rs)
    s += fmt::format("{:>6} {:>12.3e} {:>12.3e} {:>10.4f} {:>10.4f} {:>14.4f}\n", dtype_name(r.dtype), r.max_abs_diff,
                     r.error_bound, r.max_abs_value, r.zero_fraction, r.eta_lipschitz);
  return s;
}

nlohmann::json to_json(const IstaProxResult& r) {
  nlohmann::json j{{"dtype", dtype_name(r.dtype)},     {"max_abs_diff", r.max_abs_diff},   {"error_bound", r.error_bound},
                   {"max_abs_value", r.max_abs_value}, {"zero_fraction", r.zero_fraction}, {"eta_lipschitz", r.eta_lipschitz}};
  if (r.layer > 0) j["layer"] = r.layer;
  return j;
}

}  // namespace wb::crate
