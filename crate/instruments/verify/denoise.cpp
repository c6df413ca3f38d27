#include "crate/instruments/verify/denoise.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/instruments/verify/detail.hpp"
#include "datasets/subspaces.hpp"

namespace wb::crate {

using namespace verify_detail;

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

}  // namespace wb::crate
