// Derivation of the step-size bounds (header comment), for f_k(W) = 1/2 logdet(I + beta W^T W), W (N, p):
//
// 1. grad f_k(W) = beta W (I + beta W^T W)^{-1} maps W's singular values s to phi(s) = beta s/(1 + beta s^2)
//    and keeps its singular vectors. Hence ||grad f_k||_2 = max_s phi(s) = sqrt(beta)/2 (at s = 1/sqrt(beta)),
//    and, for such singular-value maps, the derivative's eigenvalues are phi'(s_i), the divided differences
//    (phi(s_i) -+ phi(s_j))/(s_i -+ s_j) and phi(s_i)/s_i; all lie in [min phi', max(phi', phi(s)/s)] =
//    [-beta/8, beta], so grad f_k is beta-Lipschitz.
// 2. R^c(Z) = sum_k f_k(Z U[k]^T): the quadratic form of its Hessian is sum_k <H U[k]^T, Hess f_k [H U[k]^T]>,
//    bounded by beta sum_k ||H U[k]^T||^2 <= beta ||U||_2^2 ||H||^2, so L_c = beta ||U||_2^2 and the descent
//    lemma gives the R^c decrease for kappa <= 1/L_c. grad R^c = [G_1 ... G_K] U_stacked with ||G_k||_2 <=
//    sqrt(beta)/2, so every entry is at most ||grad R^c||_2 <= sqrt(K beta) ||U||_2 / 2 = g_c; likewise
//    every entry of grad R is at most sqrt(alpha)/2 = g_r.
// 3. Objective descent with D = I. With eta lambda >= kappa g_c, each entry after a layer,
//    z+ = prox(z - kappa g), satisfies |z+| <= |z| with sign(z+) in {sign(z), 0}: a sign flip or a move away
//    from 0 needs |kappa g| > eta lambda. On the segment Z(t) = Z + t (Z+ - Z) each moving entry keeps its
//    sign, so dF/dt = sum (d(R^c - R)/dz + lambda sign z) (z+ - z) <= -(lambda - g_c - g_r) ||Z+ - Z||_1,
//    and integrating over t in [0, 1] gives F(Z+) <= F(Z) - (lambda - lambda*) ||Z+ - Z||_1.
#include "crate/instruments/unrolled.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/blocks/mssa.hpp"
#include "crate/instruments/subspace_fit.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace {

using prim::Binary;
using prim::Unary;

std::int64_t batch_count(const Tensor& z) { return z.numel() / (z.size(-1) * z.size(-2)); }

double batch_mean(const Tensor& per_element) {
  return prim::sum_all(per_element) / static_cast<double>(std::max<std::int64_t>(1, per_element.numel()));
}

Tensor scale_by(const Tensor& x, double s) { return prim::unary(Unary::mul_scalar, x, s); }

void check_shapes(const Tensor& z, const Tensor& u, const char* what) {
  if (z.dim() != 2 && z.dim() != 3)
    throw std::invalid_argument(fmt::format("{}: tokens must be (N, d) or (B, N, d), got {}", what, shape_str(z.shape())));
  if (u.dim() != 3 || u.size(2) != z.size(-1))
    throw std::invalid_argument(fmt::format("{}: subspaces must be (K, p, d) with d = {} (the token width), got {}", what,
                                            z.size(-1), shape_str(u.shape())));
  if (u.dtype() != z.dtype())
    throw std::invalid_argument(fmt::format("{}: tokens are {} but subspaces are {}", what, dtype_name(z.dtype()),
                                            dtype_name(u.dtype())));
}

}  // namespace

const char* compression_name(CompressionStep c) { return c == CompressionStep::exact ? "exact" : "mssa"; }

void validate(const UnrolledOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("unrolled process: " + m); };
  if (o.layers < 1) bad(fmt::format("needs at least one layer, got {}", o.layers));
  if (!(o.kappa > 0.0) || !std::isfinite(o.kappa)) bad(fmt::format("step size kappa must be > 0, got {}", o.kappa));
  if (!(o.eta > 0.0) || !std::isfinite(o.eta)) bad(fmt::format("ISTA step size eta must be > 0, got {}", o.eta));
  if (!(o.lambda >= 0.0) || !std::isfinite(o.lambda)) bad(fmt::format("lambda must be >= 0, got {}", o.lambda));
  if (!(o.eps > 0.0) || !std::isfinite(o.eps)) bad(fmt::format("eps must be > 0, got {}", o.eps));
  if (!(o.softmax_scale >= 0.0) || !std::isfinite(o.softmax_scale))
    bad(fmt::format("softmax scale must be >= 0 (0: 1/sqrt(p)), got {}", o.softmax_scale));
}

ObjectiveTerms objective_terms(const Tensor& z, const Tensor& u, double lambda, double eps) {
  check_shapes(z, u, "objective_terms");
  autograd::NoGradGuard ng;
  ObjectiveTerms t;
  const double b = static_cast<double>(batch_count(z));
  t.rc = batch_mean(ops::compressed_coding_rate(z, u, eps));
  t.r = batch_mean(ops::coding_rate(z, eps));
  t.objective = batch_mean(ops::sparse_rate_reduction(z, u, lambda, eps));
  t.l1 = prim::sum_all(prim::unary(Unary::abs, z)) / b;
  std::int64_t zeros = 0;
  for (const double v : prim::contiguous(z).to_vector<double>()) zeros += v == 0.0 ? 1 : 0;
  t.zeros = static_cast<double>(zeros) / static_cast<double>(z.numel());
  return t;
}

Tensor compressed_rate_gradient(const Tensor& z, const Tensor& u, double eps) {
  autograd::EnableGradGuard on;
  Tensor leaf = prim::clone(z.detach());
  leaf.requires_grad_(true);
  autograd::backward(ops::sum(ops::compressed_coding_rate(leaf, u.detach(), eps)));
  return leaf.grad();
}

Tensor mssa_paper(const Tensor& z, const Tensor& u, double eps, double softmax_scale) {
  check_shapes(z, u, "mssa_paper");
  autograd::NoGradGuard ng;
  const std::int64_t k = u.size(0), p = u.size(1), d = u.size(2), n = z.size(-2);
  const double beta = static_cast<double>(p) / (static_cast<double>(n) * eps * eps);
  const double s = softmax_scale > 0.0 ? softmax_scale : 1.0 / std::sqrt(static_cast<double>(p));
  const Tensor zb = z.dim() == 2 ? prim::unsqueeze(z, 0) : z;
  const Tensor uf = prim::reshape(u, {k * p, d});
  const Tensor q = split_heads(prim::matmul(zb, prim::transpose(uf, 0, 1)), k);  // (B, K, N, p): W_k
  const Tensor out = scale_by(prim::matmul(merge_heads(attend(q, q, q, s)), uf), beta);
  return z.dim() == 2 ? prim::squeeze(out, 0) : out;
}

Tensor compression_step(const Tensor& z, const Tensor& u, const UnrolledOptions& o) {
  if (o.compression == CompressionStep::exact)
    return prim::binary(Binary::sub, z, scale_by(compressed_rate_gradient(z, u, o.eps), o.kappa));
  const double beta = static_cast<double>(u.size(1)) / (static_cast<double>(z.size(-2)) * o.eps * o.eps);
  const double kb = o.kappa * beta;
  return prim::binary(Binary::add, scale_by(z, 1.0 - kb), scale_by(mssa_paper(z, u, o.eps, o.softmax_scale), kb));
}

Tensor ista_step(const Tensor& z_half, const Tensor& dictionary, double eta, double lambda, bool nonnegative) {
  Tensor v = z_half;
  if (dictionary.defined()) {
    if (dictionary.dim() != 2 || dictionary.size(0) != z_half.size(-1) || dictionary.size(1) != z_half.size(-1))
      throw std::invalid_argument(fmt::format("ista_step: dictionary must be (d, d) with d = {}, got {}", z_half.size(-1),
                                              shape_str(dictionary.shape())));
    const Tensor residual = prim::binary(Binary::sub, z_half, prim::matmul(z_half, prim::transpose(dictionary, 0, 1)));
    v = prim::binary(Binary::add, z_half, scale_by(prim::matmul(residual, dictionary), eta));
  }
  const double t = eta * lambda;
  const Tensor pos = prim::unary(Unary::soft_threshold, v, t);
  if (nonnegative) return pos;
  return prim::binary(Binary::sub, pos, prim::unary(Unary::soft_threshold, prim::unary(Unary::neg, v), t));
}

double lasso_objective(const Tensor& a, const Tensor& z_half, const Tensor& dictionary, double lambda) {
  const Tensor recon = dictionary.defined() ? prim::matmul(a, prim::transpose(dictionary, 0, 1)) : a;
  const Tensor r = prim::binary(Binary::sub, z_half, recon);
  return lambda * prim::sum_all(prim::unary(Unary::abs, a)) + 0.5 * prim::sum_all(prim::unary(Unary::square, r));
}

UnrolledRun run_unrolled(const Tensor& z0, const Tensor& u, const Tensor& dictionary, const UnrolledOptions& o) {
  validate(o);
  check_shapes(z0, u, "run_unrolled");
  UnrolledRun run;
  run.compression = o.compression;
  const double b = static_cast<double>(batch_count(z0));
  Tensor z = prim::clone(z0.detach());
  for (std::int64_t l = 1; l <= o.layers; ++l) {
    LayerRecord rec;
    rec.layer = l;
    rec.input = objective_terms(z, u, o.lambda, o.eps);
    const Tensor grad = compressed_rate_gradient(z, u, o.eps);
    rec.grad_sq = prim::sum_all(prim::unary(Unary::square, grad)) / b;
    const Tensor half = compression_step(z, u, o);
    const Tensor move = prim::binary(Binary::sub, z, half);
    const double move_sq = prim::sum_all(prim::unary(Unary::square, move)) / b;
    const double dot = prim::sum_all(prim::binary(Binary::mul, move, grad)) / b;
    rec.direction_cos = move_sq > 0.0 && rec.grad_sq > 0.0 ? dot / std::sqrt(move_sq * rec.grad_sq) : 0.0;
    rec.half = objective_terms(half, u, o.lambda, o.eps);
    const Tensor next = ista_step(half, dictionary, o.eta, o.lambda, o.nonnegative);
    rec.output = objective_terms(next, u, o.lambda, o.eps);
    rec.step_l1 = prim::sum_all(prim::unary(Unary::abs, prim::binary(Binary::sub, next, z))) / b;
    run.layers.push_back(rec);
    z = next;
  }
  run.output = z;
  return run;
}

DescentBounds descent_bounds(std::int64_t n_tokens, std::int64_t d, const Tensor& u, const UnrolledOptions& o,
                             bool identity_dictionary) {
  validate(o);
  if (n_tokens < 1 || u.dim() != 3 || u.size(2) != d)
    throw std::invalid_argument(fmt::format("descent_bounds: needs N >= 1 tokens and U (K, p, d = {}), got N = {}, U {}",
                                            d, n_tokens, shape_str(u.shape())));
  DescentBounds b;
  const double n = static_cast<double>(n_tokens), e2 = o.eps * o.eps;
  const double k = static_cast<double>(u.size(0)), p = static_cast<double>(u.size(1));
  b.beta = p / (n * e2);
  b.alpha = static_cast<double>(d) / (n * e2);
  b.u_norm_sq = stacked_spectral_norm_squared(u);
  b.lipschitz_rc = b.beta * b.u_norm_sq;
  b.kappa_rc = 1.0 / b.lipschitz_rc;
  b.grad_rc_max = std::sqrt(k * b.beta * b.u_norm_sq) / 2.0;
  b.grad_r_max = std::sqrt(b.alpha) / 2.0;
  b.lambda_star = b.grad_rc_max + b.grad_r_max;
  b.kappa_monotone = o.eta * o.lambda / b.grad_rc_max;
  b.rc_descent = o.compression == CompressionStep::exact && o.kappa <= b.kappa_rc;
  b.objective_descent = o.compression == CompressionStep::exact && identity_dictionary && o.lambda > b.lambda_star &&
                        o.kappa <= b.kappa_monotone;
  return b;
}

std::string describe(const DescentBounds& b, const UnrolledOptions& o) {
  std::string s = fmt::format("beta = p/(N eps^2) = {:.4g}, ||U||_2^2 = {:.4g}, L_c = {:.4g}\n", b.beta, b.u_norm_sq,
                              b.lipschitz_rc);
  s += fmt::format("  exact R^c descent needs kappa <= 1/L_c = {:.4g}: kappa = {:.4g} {}\n", b.kappa_rc, o.kappa,
                   o.kappa <= b.kappa_rc ? "(guaranteed)" : "(not guaranteed)");
  s += fmt::format("  objective descent (exact, identity D) needs lambda > lambda* = {:.4g} and kappa <= eta lambda / g_c "
                   "= {:.4g}: {}\n",
                   b.lambda_star, b.kappa_monotone, b.objective_descent ? "guaranteed" : "not guaranteed");
  return s;
}

}  // namespace wb::crate
