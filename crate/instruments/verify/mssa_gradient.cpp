#include "crate/instruments/verify/mssa_gradient.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/blocks/mssa.hpp"
#include "crate/instruments/subspace_fit.hpp"
#include "crate/instruments/verify/detail.hpp"
#include "datasets/subspaces.hpp"

namespace wb::crate {
namespace {

using namespace verify_detail;
using prim::Binary;
using prim::Unary;

Agreement agreement(const Tensor& approx, const Tensor& exact) {
  return {dot(approx, exact) / (norm(approx) * norm(exact)), norm(minus(approx, exact)) / norm(exact)};
}
double cosine(const Tensor& a, const Tensor& b) { return dot(a, b) / (norm(a) * norm(b)); }

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

}  // namespace wb::crate
