#include "crate/instruments/verify.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/blocks/mssa.hpp"
#include "crate/blocks/ista.hpp"
#include "crate/instruments/subspace_fit.hpp"
#include "datasets/subspaces.hpp"
#include "ops/coding_rate.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

using prim::Binary;
using prim::Unary;

// ---- small f64 helpers (prim:: calls, no graph) ----
Tensor mm(const Tensor& a, const Tensor& b) { return prim::matmul(a, b); }
Tensor tr(const Tensor& a) { return prim::contiguous(prim::transpose(a, -1, -2)); }
Tensor scaled(const Tensor& a, double s) { return prim::unary(Unary::mul_scalar, a, s); }
Tensor plus(const Tensor& a, const Tensor& b) { return prim::binary(Binary::add, a, b); }
Tensor minus(const Tensor& a, const Tensor& b) { return prim::binary(Binary::sub, a, b); }
double dot(const Tensor& a, const Tensor& b) { return prim::sum_all(prim::binary(Binary::mul, a, b)); }
double norm(const Tensor& a) { return std::sqrt(dot(a, a)); }
double max_abs(const Tensor& a) {
  double m = 0.0;
  for (const double v : prim::cast(a, DType::f64).to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

Agreement agreement(const Tensor& approx, const Tensor& exact) {
  return {dot(approx, exact) / (norm(approx) * norm(exact)), norm(minus(approx, exact)) / norm(exact)};
}
double cosine(const Tensor& a, const Tensor& b) { return dot(a, b) / (norm(a) * norm(b)); }

// Exact gradient of R^c(Z | U) (paper convention, distortion eps) by autograd through the op.
Tensor rc_gradient(const Tensor& z, const Tensor& u, double eps) {
  Tensor zz = prim::clone(z);
  zz.requires_grad_(true);
  autograd::backward(ops::compressed_coding_rate(zz, u, eps));
  return zz.grad();
}

// bases (K, d, p) (U_k as columns) -> the op's U (K, p, d).
Tensor op_subspaces(const Tensor& bases) { return tr(bases); }

// Per head: W_k = Z U_k (N, p) and the eigendecomposition of C_k = W_k^T W_k.
struct Head {
  Tensor uk;  // (d, p)
  Tensor w;   // (N, p)
  SymmetricEigen c;  // of C_k (p x p), values ascending
  double max_row2 = 0.0;  // max_n ||w_nk||^2
};
std::vector<Head> heads_of(const Tensor& z, const Tensor& bases) {
  std::vector<Head> hs;
  for (std::int64_t k = 0; k < bases.size(0); ++k) {
    Head h;
    h.uk = prim::contiguous(prim::select(bases, 0, k));
    h.w = mm(z, h.uk);
    h.c = symmetric_eigen(mm(tr(h.w), h.w));
    const auto row2 = prim::sum(prim::unary(Unary::square, h.w), {1}).to_vector<double>();
    h.max_row2 = *std::max_element(row2.begin(), row2.end());
    hs.push_back(std::move(h));
  }
  return hs;
}
double max_eigenvalue(const std::vector<Head>& hs) {
  double m = 0.0;
  for (const auto& h : hs)
    for (const double l : h.c.values) m = std::max(m, l);
  return m;
}

// Entrywise |z| + eta |D^T| (|z| + |D| |z|) + eta lambda (column form): the scale of the rounding error
// of one ISTA output entry.
Tensor ista_error_scale(const Tensor& zc, const Tensor& d, double eta, double lambda) {
  const Tensor az = prim::unary(Unary::abs, zc), ad = prim::unary(Unary::abs, d);
  const Tensor r = plus(az, mm(ad, az));  // |z| + |D| |z| >= |z - D z|
  return prim::unary(Unary::add_scalar, plus(az, scaled(mm(tr(ad), r), eta)), eta * lambda);
}

}  // namespace

bool all_pass(const std::vector<Check>& checks) {
  return std::all_of(checks.begin(), checks.end(), [](const Check& c) { return c.pass; });
}

// ---------------------------------------------------------------------------------------------
// 1. ISTA
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

  // One proximal-gradient step on F(A) = lambda ||A||_1 + 1/2 ||Z - D A||^2 + [A >= 0], column form,
  // from A0 = Z:  grad f(A0) = -D^T (Z - D A0);  A+ = prox_{eta g}(A0 - eta grad f(A0)), and the prox of
  // eta (lambda ||.||_1 + [. >= 0]) is v -> max(v - eta lambda, 0) entrywise.
  const Tensor d = ista.dictionary().detach();
  IstaProxResult r;
  r.dtype = dtype;
  double scale = 0.0;
  // prox_{eta g}(v) for g = lambda ||.||_1 + [. >= 0]: max(v - eta lambda, 0) entrywise
  auto prox = [&](const Tensor& v) {
    const Tensor shifted = prim::unary(Unary::add_scalar, v, -o.eta * o.lambda);
    return prim::binary(Binary::maximum, shifted, prim::zeros_like(shifted));
  };
  for (std::int64_t b = 0; b < o.batch; ++b) {
    const Tensor zc = tr(prim::select(x, 0, b));  // (d, n): tokens as columns
    const Tensor ista_b = tr(prim::select(out, 0, b));
    if (o.dictionary == Dictionary::overcomplete) {
      // CRATE-alpha: two steps from A0 = 0 (grad f(A) = D^T (D A - z)), then the output dictionary D1.
      const Tensor a1 = prox(scaled(mm(tr(d), zc), o.eta));
      const Tensor a2 = prox(minus(a1, scaled(mm(tr(d), minus(mm(d, a1), zc)), o.eta)));
      const Tensor d1 = ista.output_dictionary().detach();
      const Tensor y = mm(d1, a2);
      r.max_abs_diff = std::max(r.max_abs_diff, max_abs(minus(ista_b, y)));
      // Rounding scale, in the style of ista_error_scale: |D1| (|A2| + |A1| + eta |D^T| (|D| |A1| + |z|) + eta lambda),
      // with absolute values of every factor (each entry's error is at most gamma_m times this).
      auto ab = [](const Tensor& t) { return prim::unary(Unary::abs, prim::cast(t, DType::f64)); };
      const Tensor inner = prim::binary(Binary::add, mm(ab(d), ab(a1)), ab(zc));
      const Tensor a2s = prim::unary(Unary::add_scalar,
                                     prim::binary(Binary::add, prim::binary(Binary::add, ab(a2), ab(a1)),
                                                  scaled(mm(tr(ab(d)), inner), o.eta)),
                                     o.eta * o.lambda);
      scale = std::max(scale, max_abs(mm(ab(d1), a2s)));
      continue;
    }
    const Tensor grad_f = scaled(mm(tr(d), minus(zc, mm(d, zc))), -1.0);
    const Tensor a_plus = prox(minus(zc, scaled(grad_f, o.eta)));
    r.max_abs_diff = std::max(r.max_abs_diff, max_abs(minus(ista_b, a_plus)));
    scale = std::max(scale, max_abs(ista_error_scale(prim::cast(zc, DType::f64), prim::cast(d, DType::f64), o.eta, o.lambda)));
  }
  {
    // m: the longest chain of rounded operations per entry (two length-d products per step; the
    // overcomplete block chains two steps over r d atoms and the output product).
    const double u = dtype == DType::f64 ? std::ldexp(1.0, -53) : std::ldexp(1.0, -24);
    const double m = o.dictionary == Dictionary::overcomplete ? static_cast<double>(3 * o.overcomplete_ratio * o.dim + 2 * o.dim + 16)
                                                    : static_cast<double>(2 * o.dim + 8);
    r.error_bound = 2.0 * (m * u / (1.0 - m * u)) * scale;
  }
  r.max_abs_value = max_abs(out);
  const auto ov = prim::cast(out, DType::f64).to_vector<double>();
  r.zero_fraction = static_cast<double>(std::count(ov.begin(), ov.end(), 0.0)) / static_cast<double>(ov.size());
  const Tensor d64 = prim::cast(d, DType::f64);
  const SymmetricEigen dtd = symmetric_eigen(mm(tr(d64), d64));
  r.eta_lipschitz = o.eta * *std::max_element(dtd.values.begin(), dtd.values.end());
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

// ---------------------------------------------------------------------------------------------
// 2. MSSA vs the exact gradient
namespace {

// The sums over heads at one beta: the closed-form gradient, the Neumann form, the attention term
// sum_k softmax_row(G_k) W_k U_k^T, and the eigenvalue weights of the error prediction.
struct HeadSums {
  Tensor closed, neumann, attention;
  double w_sum = 0.0, w_x2 = 0.0, w_x4 = 0.0, max_row2 = 0.0;
};
HeadSums head_sums(const std::vector<Head>& hs, std::int64_t n, std::int64_t d, double beta) {
  HeadSums s;
  s.closed = Tensor::zeros({n, d}, DType::f64);
  s.neumann = s.attention = s.closed;
  for (const auto& h : hs) {
    const std::int64_t p = h.w.size(1);
    // Closed form (spec §2.2): beta W (I + beta C)^{-1} U^T with C = V diag(l) V^T. In the SVD basis the
    // exact, zeroth-order and Neumann components are beta s/(1+x), beta s and beta s (1-x), x = beta l.
    std::vector<double> f;
    for (const double l : h.c.values) {
      f.push_back(beta / (1.0 + beta * l));
      const double x = beta * l, w = beta * beta * l / ((1.0 + x) * (1.0 + x));  // exact component^2
      s.w_sum += w;
      s.w_x2 += w * x * x;
      s.w_x4 += w * x * x * x * x;
    }
    const Tensor v = Tensor::from_vector(h.c.vectors, {p, p});
    const Tensor vf = prim::binary(Binary::mul, v, Tensor::from_vector(f, {1, p}));  // V diag(f)
    s.closed = plus(s.closed, mm(mm(h.w, mm(vf, tr(v))), tr(h.uk)));
    // Neumann with the Gram matrix (paper form beta U U^T Z - beta^2 U (U^T Z)[(U^T Z)^T (U^T Z)], in rows).
    const Tensor gram = mm(h.w, tr(h.w));  // (N, N)
    s.neumann = plus(s.neumann, mm(minus(scaled(h.w, beta), scaled(mm(gram, h.w), beta * beta)), tr(h.uk)));
    // Softmax in place of the Gram matrix: softmax_row(G_k) W_k, the paper's SSA (column softmax) in rows.
    s.attention = plus(s.attention, mm(mm(prim::softmax(gram, 1), h.w), tr(h.uk)));
    s.max_row2 += h.max_row2;
  }
  return s;
}

// The CRATE MSSA module with the paper's output map and qkv weight [U_1 .. U_K]^T, applied to Z:
// beta sum_k softmax(W_k W_k^T / sqrt p) W_k U_k^T with beta = p / (N eps^2).
Tensor mssa_module_output(const Tensor& z, const Tensor& u, double eps) {
  const std::int64_t K = u.size(0), p = u.size(1), d = u.size(2), N = z.size(0);
  BlockConfig cc;
  cc.dim = d;
  cc.heads = K;
  cc.dim_head = p;
  cc.output_map = OutputMap::paper;
  cc.paper_eps = eps;
  cc.dtype = DType::f64;
  Generator init(0);
  const MSSA mssa(cc, init);
  for (const auto& [name, w] : mssa.named_parameters())
    if (name == "qkv.weight") prim::copy_(w, prim::reshape(u, {K * p, d}));
  return prim::reshape(mssa.forward(prim::reshape(z, {1, N, d})), {N, d});
}

MssaRow sweep_point(const Tensor& z, const Tensor& u, const std::vector<Head>& hs, double t, double gram_norm) {
  const std::int64_t N = z.size(0), d = z.size(1), p = u.size(1);
  MssaRow row;
  row.t = t;
  row.beta = t / gram_norm;
  row.eps = std::sqrt(static_cast<double>(p) / (static_cast<double>(N) * row.beta));
  const double beta = row.beta;
  const Tensor g = rc_gradient(z, u, row.eps);
  autograd::NoGradGuard ng;
  const HeadSums s = head_sums(hs, N, d, beta);
  const Tensor zeroth = scaled(z, beta);
  const Tensor softmax_form = minus(zeroth, scaled(s.attention, beta * beta));
  row.closed_form_rel = norm(minus(g, s.closed)) / norm(g);
  row.zeroth = agreement(zeroth, g);
  row.neumann = agreement(s.neumann, g);
  row.softmax = agreement(softmax_form, g);
  row.zeroth_predicted = std::sqrt(s.w_x2 / s.w_sum);
  row.neumann_predicted = std::sqrt(s.w_x4 / s.w_sum);
  row.softmax_bound = t + beta * (1.0 + t) * std::sqrt(static_cast<double>(N) * s.max_row2) / norm(z);
  const Tensor exact_correction = minus(zeroth, g);
  row.correction_cos = cosine(exact_correction, s.attention);
  row.correction_scale = beta * beta * norm(s.attention) / norm(exact_correction);
  const double c_best = dot(s.attention, exact_correction) / dot(s.attention, s.attention);
  row.rescaled_rel = norm(minus(exact_correction, scaled(s.attention, c_best))) / norm(g);
  const Tensor code = mssa_module_output(z, u, row.eps);
  row.code_step_cos = cosine(code, scaled(g, -1.0));
  row.code_correction_cos = cosine(code, exact_correction);
  row.code_z_cos = cosine(code, z);
  return row;
}

}  // namespace

MssaResult mssa_vs_gradient(const MssaOptions& o) {
  if (o.heads <= 0 || o.dim % o.heads != 0)
    throw std::invalid_argument(fmt::format("mssa_vs_gradient: d = {} must be a multiple of K = {} (K p = d)", o.dim, o.heads));
  if (o.t_values.empty()) throw std::invalid_argument("mssa_vs_gradient: empty sweep");
  const std::int64_t d = o.dim, K = o.heads, p = d / K, N = o.tokens;
  Generator gen(o.seed);
  data::SubspaceMixtureOptions so;
  so.ambient_dim = d;
  so.num_subspaces = K;
  so.subspace_dim = p;
  so.num_tokens = N;
  so.noise = o.noise;
  so.coefficients = data::Coefficients::unit_norm;
  so.scale = o.scale;
  so.orthogonal = true;  // U_j^T U_k = 0, and K p = d gives sum_k U_k U_k^T = I
  const auto mix = data::make_subspace_mixture(so, gen);
  const Tensor& z = mix.tokens;  // (N, d)
  const Tensor u = op_subspaces(mix.bases);
  const auto hs = heads_of(z, mix.bases);

  MssaResult res;
  res.options = o;
  res.subspace_dim = p;
  res.gram_norm = max_eigenvalue(hs);  // ||G_k||_2 = ||W_k||_2^2 = max eigenvalue of C_k
  {
    // The paper's constants: LayerNorm'd tokens (norm sqrt(d)) and eps = 0.1.
    const Tensor norms = prim::unary(Unary::sqrt, prim::sum(prim::unary(Unary::square, z), {1}, true));
    const Tensor zs = scaled(prim::binary(Binary::div, z, norms), std::sqrt(static_cast<double>(d)));
    const double beta = static_cast<double>(p) / (static_cast<double>(N) * 0.01);
    res.paper_regime_t = beta * max_eigenvalue(heads_of(zs, mix.bases));
  }
  for (const double t : o.t_values) res.rows.push_back(sweep_point(z, u, hs, t, res.gram_norm));
  return res;
}

std::vector<Check> mssa_checks(const MssaResult& r) {
  std::vector<Check> out;
  const auto& rows = r.rows;
  double cf = 0.0, pred = 0.0;
  bool bounded = true, increasing = true;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    cf = std::max(cf, rows[i].closed_form_rel);
    pred = std::max({pred, std::abs(rows[i].neumann.rel - rows[i].neumann_predicted) / std::max(1.0, rows[i].neumann_predicted),
                     std::abs(rows[i].zeroth.rel - rows[i].zeroth_predicted) / std::max(1.0, rows[i].zeroth_predicted)});
    bounded = bounded && rows[i].neumann.rel <= rows[i].t * rows[i].t * (1 + 1e-9);
    if (i > 0) increasing = increasing && rows[i].neumann.rel > rows[i - 1].neumann.rel;
  }
  out.push_back({"autograd gradient of R^c = closed form beta W (I + beta C)^{-1} U^T", cf <= 1e-10,
                 fmt::format("max relative difference {:.2e} <= 1e-10", cf)});
  out.push_back({"Neumann and zeroth-order errors = eigenvalue prediction", pred <= 1e-8,
                 fmt::format("max |measured - predicted| {:.2e} <= 1e-8", pred)});
  out.push_back({"Neumann relative error <= t^2 at every sweep point", bounded, ""});
  out.push_back({"Neumann relative error increases strictly with t", increasing, ""});
  if (rows.size() >= 2) {
    const auto slope = [&](auto get) { return std::log(get(rows[1]) / get(rows[0])) / std::log(rows[1].t / rows[0].t); };
    const double sn = slope([](const MssaRow& x) { return x.neumann.rel; });
    const double ss = slope([](const MssaRow& x) { return x.softmax.rel; });
    out.push_back({"Neumann form is second order in t (log-log slope at small t in [1.8, 2.2])", sn >= 1.8 && sn <= 2.2,
                   fmt::format("slope {:.3f}", sn)});
    out.push_back({"softmax form is first order in t (log-log slope at small t in [0.8, 1.2])", ss >= 0.8 && ss <= 1.2,
                   fmt::format("slope {:.3f}", ss)});
  }
  bool soft_bounded = true, chebyshev = true;
  for (const auto& x : rows) {
    soft_bounded = soft_bounded && x.softmax.rel <= x.softmax_bound;
    chebyshev = chebyshev && x.code_z_cos >= 0.0;
  }
  out.push_back({"softmax form: relative error <= t + beta (1 + t) sqrt(N sum_k max_n ||w_nk||^2) / ||Z||", soft_bounded, ""});
  out.push_back({"CRATE MSSA module (paper map): <MSSA(Z), Z> >= 0 (Chebyshev), i.e. it adds along Z", chebyshev,
                 fmt::format("cos(MSSA(Z), Z) = {:.4f}", rows.front().code_z_cos)});
  const double one_minus_cos = 1.0 - rows.front().neumann.cos;
  out.push_back({"Neumann direction -> exact as t -> 0 (1 - cos <= t^4 at the smallest t)",
                 one_minus_cos <= std::pow(rows.front().t, 4) + 1e-15,
                 fmt::format("1 - cos = {:.2e} at t = {}", one_minus_cos, rows.front().t)});
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. Denoising
DenoiseResult denoising_check(const DenoiseOptions& o) {
  if (o.heads <= 0 || o.dim % o.heads != 0)
    throw std::invalid_argument(fmt::format("denoising_check: d = {} must be a multiple of K = {} (K p = d)", o.dim, o.heads));
  const std::int64_t d = o.dim, K = o.heads, p = d / K;
  DenoiseResult res;
  res.options = o;
  res.subspace_dim = p;
  for (const std::int64_t N : o.token_counts) {
    Generator gen(o.seed + static_cast<std::uint64_t>(N));
    data::SubspaceMixtureOptions so;
    so.ambient_dim = d;
    so.num_subspaces = K;
    so.subspace_dim = p;
    so.num_tokens = N;
    so.coefficients = data::Coefficients::unit_norm;  // ||x_n|| = 1
    so.orthogonal = true;
    const auto mix = data::make_subspace_mixture(so, gen);
    const Tensor& x = mix.clean;
    Tensor noise = Tensor::empty({N, d}, DType::f64);
    prim::normal_(noise, 0.0, 1.0, gen);
    const Tensor u_true = op_subspaces(mix.bases);
    const Tensor u_random = op_subspaces(prim::contiguous(prim::permute(
        prim::reshape(data::random_orthonormal(d, d, gen), {d, K, p}), {1, 0, 2})));  // (K, d, p)
    const auto labels = mix.labels.to_vector<std::int64_t>();
    for (const double sigma : o.sigmas) {
      const Tensor z = plus(x, scaled(noise, sigma));
      const double base = norm(minus(z, x));
      // The distortion matched to the noise: eps^2 = p sigma^2, the expected squared noise in one
      // subspace, so that beta times the noise variance N sigma^2 of a direction is 1.
      const double eps = o.eps_per_noise * sigma * std::sqrt(static_cast<double>(p));
      const double beta = static_cast<double>(p) / (static_cast<double>(N) * eps * eps);
      const Tensor g_true = rc_gradient(z, u_true, eps), g_random = rc_gradient(z, u_random, eps);
      autograd::NoGradGuard ng;
      // Oracle: each token projected onto its own subspace, U_l U_l^T z.
      Tensor oracle = Tensor::zeros({N, d}, DType::f64);
      for (std::int64_t n = 0; n < N; ++n) {
        const Tensor ul = prim::select(mix.bases, 0, labels[static_cast<std::size_t>(n)]);
        const Tensor zn = prim::slice(z, 0, n, n + 1);
        prim::copy_(prim::slice(oracle, 0, n, n + 1), mm(mm(zn, ul), tr(ul)));
      }
      const double r_oracle = norm(minus(oracle, x)) / base;
      const double a_best = dot(z, x) / dot(z, z);
      const double r_best_shrink = norm(minus(scaled(z, a_best), x)) / base;
      for (const double step : o.steps) {
        const double kappa = step / beta;
        DenoiseRow row;
        row.tokens = N;
        row.sigma = sigma;
        row.step = step;
        row.ratio_true = norm(minus(minus(z, scaled(g_true, kappa)), x)) / base;
        row.ratio_random = norm(minus(minus(z, scaled(g_random, kappa)), x)) / base;
        const double c = kappa * norm(g_true) / norm(z);
        row.ratio_shrink = norm(minus(scaled(z, 1.0 - c), x)) / base;
        row.ratio_oracle = r_oracle;
        row.ratio_best_shrink = r_best_shrink;
        row.beta = beta;
        res.rows.push_back(row);
      }
    }
  }
  return res;
}

std::vector<Check> denoise_checks(const DenoiseResult& r) {
  std::vector<Check> out;
  const auto p = r.subspace_dim, K = r.options.heads;
  const double largest = *std::max_element(r.options.steps.begin(), r.options.steps.end());
  const auto few = [&](const DenoiseRow& x) { return x.tokens < K * p; };  // N / K < p tokens per subspace
  double worst = 0.0;
  for (const auto& x : r.rows) worst = std::max(worst, x.ratio_true);
  out.push_back({"the step with the true subspaces reduces the distance to the clean tokens (every row)", worst < 1.0,
                 fmt::format("largest ratio {:.4f} < 1", worst)});
  // Few tokens per subspace, signal protected (beta >= 10: a unit-norm token's direction is shrunk by
  // at most 1/11 of a step): the noise-only directions of each subspace are shrunk by about half a
  // step, which neither a random basis nor a uniform shrink reproduces.
  bool beats = true;
  int rows = 0;
  std::string detail;
  for (const auto& x : r.rows) {
    if (!few(x) || x.beta < 10.0 || x.step != largest) continue;
    ++rows;
    beats = beats && x.ratio_true <= x.ratio_random - 0.05 && x.ratio_true <= x.ratio_best_shrink - 0.05;
    detail += fmt::format("{}sigma {}: {:.4f} vs random {:.4f}, best shrink {:.4f}", detail.empty() ? "" : "; ", x.sigma,
                          x.ratio_true, x.ratio_random, x.ratio_best_shrink);
  }
  out.push_back({"N/K < p, beta >= 10, largest step: true U beats random U and every uniform shrink by >= 0.05",
                 beats && rows > 0, detail});
  // Many tokens per subspace: E[C_k] = N (1/d + sigma^2) I_p for the true and for random bases alike,
  // so the true subspaces' advantage is a fluctuation, not a first-order effect.
  bool smaller = true;
  int pairs = 0;
  for (const auto& m : r.rows) {
    if (few(m) || m.step != largest) continue;
    for (const auto& f : r.rows)
      if (few(f) && f.sigma == m.sigma && f.step == m.step) {
        ++pairs;
        smaller = smaller && (m.ratio_random - m.ratio_true) < 0.5 * (f.ratio_random - f.ratio_true);
      }
  }
  out.push_back({"N/K >= p: the true subspaces' advantage over random ones is < half of that at N/K < p", smaller && pairs > 0,
                 fmt::format("{} (sigma, step) pairs compared", pairs)});
  return out;
}

// ---------------------------------------------------------------------------------------------
// Formatting
std::string format_checks(const std::string& claim, const std::vector<Check>& checks) {
  std::string s;
  for (const auto& c : checks)
    s += fmt::format("  [{}] {}{}\n", c.pass ? "pass" : "FAIL", c.name, c.detail.empty() ? "" : ": " + c.detail);
  s += fmt::format("{}: {}\n", all_pass(checks) ? "PASS" : "FAIL", claim);
  return s;
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

std::string format_mssa(const MssaResult& r) {
  const auto& o = r.options;
  std::string s = fmt::format(
      "Tokens: N = {} on K = {} orthogonal subspaces of dimension p = {} in R^{} (sum_k U_k U_k^T = I), clean norm {}, "
      "noise {}; max_k ||G_k|| = {:.3f}. t = beta max_k ||G_k||, beta = p / (N eps^2).\n",
      o.tokens, o.heads, r.subspace_dim, o.dim, o.scale, o.noise, r.gram_norm);
  s += "(a) Gram matrix: zeroth order beta Z and first-order Neumann vs the exact gradient (pred = from the eigenvalues "
       "of W_k^T W_k)\n";
  s += fmt::format("{:>6} {:>9} {:>10} | {:>8} {:>9} {:>9} | {:>8} {:>9} {:>9} | {:>9}\n", "t", "eps", "beta", "cos bZ",
                   "rel bZ", "pred", "cos Neu", "rel Neu", "pred", "autograd");
  for (const auto& x : r.rows)
    s += fmt::format("{:>6.3g} {:>9.4g} {:>10.4g} | {:>8.5f} {:>9.3e} {:>9.3e} | {:>8.5f} {:>9.3e} {:>9.3e} | {:>9.1e}\n", x.t,
                     x.eps, x.beta, x.zeroth.cos, x.zeroth.rel, x.zeroth_predicted, x.neumann.cos, x.neumann.rel,
                     x.neumann_predicted, x.closed_form_rel);
  s += "(b) softmax in place of the Gram matrix, beta Z - beta MSSA(Z|U) (bound = the a-priori bound on rel sm); corr = "
       "its part beyond beta Z vs the exact beta Z - grad (direction, size ratio, and rel with the best scalar on it); "
       "the CRATE MSSA module (output_map paper) vs the exact step -grad, vs that correction and vs Z\n";
  s += fmt::format("{:>6} | {:>8} {:>9} {:>9} | {:>8} {:>10} {:>9} | {:>9} {:>9} {:>8}\n", "t", "cos sm", "rel sm",
                   "bound", "cos corr", "|corr| rat", "rel best", "code/step", "code/corr", "code/Z");
  for (const auto& x : r.rows)
    s += fmt::format("{:>6.3g} | {:>8.5f} {:>9.3e} {:>9.3e} | {:>8.4f} {:>10.3e} {:>9.3e} | {:>9.4f} {:>9.4f} {:>8.4f}\n", x.t,
                     x.softmax.cos, x.softmax.rel, x.softmax_bound, x.correction_cos, x.correction_scale, x.rescaled_rel,
                     x.code_step_cos, x.code_correction_cos, x.code_z_cos);
  s += fmt::format("The paper's constants (the same tokens rescaled to norm sqrt(d) as after LayerNorm, eps = 0.1) give "
                   "t = {:.4g}.\n",
                   r.paper_regime_t);
  return s;
}

std::string format_denoise(const DenoiseResult& r) {
  const auto& o = r.options;
  std::string s = fmt::format("Distance to the clean tokens after Z' = Z - kappa grad R^c(Z|U), ||Z' - X|| / ||Z - X|| "
                              "(d = {}, K = {} orthogonal subspaces of p = {}, unit-norm clean tokens, eps = {} sigma sqrt(p); 'best a' = min_a ||a Z - X||, 'oracle' = each token projected on its own subspace)\n",
                              o.dim, o.heads, r.subspace_dim, o.eps_per_noise);
  s += fmt::format("{:>5} {:>6} {:>7} {:>10} | {:>8} {:>8} {:>8} {:>8} | {:>8}\n", "N", "sigma", "beta", "kappa*beta",
                   "true U", "random U", "shrink", "best a", "oracle");
  for (const auto& x : r.rows)
    s += fmt::format("{:>5} {:>6.3g} {:>7.3g} {:>10.3g} | {:>8.4f} {:>8.4f} {:>8.4f} {:>8.4f} | {:>8.4f}\n", x.tokens, x.sigma,
                     x.beta, x.step, x.ratio_true, x.ratio_random, x.ratio_shrink, x.ratio_best_shrink, x.ratio_oracle);
  return s;
}

// ---------------------------------------------------------------------------------------------
// JSON
nlohmann::json to_json(const IstaProxResult& r) {
  return {{"dtype", dtype_name(r.dtype)},        {"max_abs_diff", r.max_abs_diff},   {"error_bound", r.error_bound},
          {"max_abs_value", r.max_abs_value},    {"zero_fraction", r.zero_fraction}, {"eta_lipschitz", r.eta_lipschitz}};
}

nlohmann::json to_json(const MssaResult& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& x : r.rows)
    rows.push_back({{"t", x.t},
                    {"eps", x.eps},
                    {"beta", x.beta},
                    {"closed_form_rel", x.closed_form_rel},
                    {"zeroth", {{"cos", x.zeroth.cos}, {"rel", x.zeroth.rel}, {"predicted_rel", x.zeroth_predicted}}},
                    {"neumann", {{"cos", x.neumann.cos}, {"rel", x.neumann.rel}, {"predicted_rel", x.neumann_predicted}}},
                    {"softmax", {{"cos", x.softmax.cos}, {"rel", x.softmax.rel}}},
                    {"softmax_bound", x.softmax_bound},
                    {"correction_cos", x.correction_cos},
                    {"correction_scale", x.correction_scale},
                    {"rescaled_rel", x.rescaled_rel},
                    {"code_z_cos", x.code_z_cos},
                    {"code_step_cos", x.code_step_cos},
                    {"code_correction_cos", x.code_correction_cos}});
  const auto& o = r.options;
  return {{"dim", o.dim},         {"heads", o.heads},          {"subspace_dim", r.subspace_dim},
          {"tokens", o.tokens},   {"noise", o.noise},          {"scale", o.scale},
          {"seed", o.seed},       {"gram_norm", r.gram_norm},  {"paper_regime_t", r.paper_regime_t},
          {"rows", rows}};
}

nlohmann::json to_json(const DenoiseResult& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& x : r.rows)
    rows.push_back({{"tokens", x.tokens},
                    {"sigma", x.sigma},
                    {"kappa_beta", x.step},
                    {"ratio_true", x.ratio_true},
                    {"ratio_random", x.ratio_random},
                    {"ratio_shrink", x.ratio_shrink},
                    {"ratio_best_shrink", x.ratio_best_shrink},
                    {"ratio_oracle", x.ratio_oracle},
                    {"beta", x.beta}});
  const auto& o = r.options;
  return {{"dim", o.dim}, {"heads", o.heads}, {"subspace_dim", r.subspace_dim}, {"seed", o.seed}, {"rows", rows}};
}

nlohmann::json to_json(const std::vector<Check>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : checks) out.push_back({{"name", c.name}, {"pass", c.pass}, {"detail", c.detail}});
  return out;
}

}  // namespace wb::crate
