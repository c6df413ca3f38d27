#include "ops/coding_rate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "autograd/node.hpp"
#include "ops/arith.hpp"
#include "ops/reduce.hpp"
#include "ops/unary.hpp"
#include "ops/util.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

constexpr double kNormFloor = 1e-12;  // x / max(||x||, floor), as torch.nn.functional.normalize

double eps_squared(double eps, const CodingRateOptions& o, const char* what) {
  if (!(eps > 0.0) || !std::isfinite(eps))
    throw std::invalid_argument(fmt::format("{}: eps must be positive and finite, got {}", what, eps));
  return o.eps_is_squared ? eps : eps * eps;
}

void check_tokens(const Tensor& z, const char* what) {
  if (!z.defined() || z.dim() < 2 || !is_floating(z.dtype()) || z.size(-2) == 0 || z.size(-1) == 0)
    throw std::invalid_argument(fmt::format(
        "{}: Z must be a floating (..., N, d) tensor of N >= 1 tokens (rows) of dimension d >= 1, got {} {}", what,
        z.defined() ? shape_str(z.shape()) : "undefined", z.defined() ? dtype_name(z.dtype()) : "-"));
}

Tensor trailing_ones(const Tensor& t, int n) {  // (...) -> (..., 1, ..., 1) for broadcasting
  Tensor r = t;
  for (int i = 0; i < n; ++i) r = prim::unsqueeze(r, -1);
  return r;
}

// Unit-norm rows over the last axis; r = max(||x||, floor) keeps the last axis (size 1).
struct Normalized {
  Tensor xhat, r;
};
Normalized normalize_rows(const Tensor& x) {
  const Tensor norm = prim::unary(prim::Unary::sqrt, prim::sum(prim::unary(prim::Unary::square, x), {-1}, true));
  const Tensor r = prim::unary(prim::Unary::add_scalar, prim::unary(prim::Unary::soft_threshold, norm, kNormFloor),
                               kNormFloor);
  return {prim::binary(prim::Binary::div, x, r), r};
}
// dx = (dx^ - x^ (x^ . dx^)) / r where ||x|| > floor; dx^ / floor where the norm was clamped.
Tensor normalize_rows_backward(const Tensor& dxhat, const Normalized& n) {
  const Tensor unclamped = prim::unary(prim::Unary::gt_scalar, n.r, kNormFloor);
  const Tensor dot = prim::sum(prim::binary(prim::Binary::mul, n.xhat, dxhat), {-1}, true);
  const Tensor proj = prim::binary(prim::Binary::mul, n.xhat, prim::binary(prim::Binary::mul, dot, unclamped));
  return prim::binary(prim::Binary::div, prim::binary(prim::Binary::sub, dxhat, proj), n.r);
}

// Cholesky factor and logdet of the smaller Gram side of each X (..., M, m): I_M + a X X^T when M <= m
// (token side), else I_m + a X^T X, built, factored and summed one matrix at a time in cache.
struct Factor {
  Tensor l, logdet;
  bool token_side = true;
};
Factor factor(const Tensor& x, double a, const char* what) {
  const bool token_side = x.size(-2) <= x.size(-1);
  prim::GramCholesky gc = prim::gram_cholesky(x, token_side ? prim::Gram::xxt : prim::Gram::xtx, a, 1.0, what);
  return {std::move(gc.l), std::move(gc.logdet), token_side};
}
// dx holds c X (c per matrix); becomes c a X (I + a X^T X)^{-1} = c a (I + a X X^T)^{-1} X in place.
void solve_gradient_(const Factor& f, const Tensor& dx, double a) {
  prim::cholesky_solve_(f.l, dx, f.token_side ? prim::Side::left : prim::Side::right, a);
}

Tensor half_logdet(const Factor& f) { return prim::unary(prim::Unary::mul_scalar, f.logdet, 0.5); }

// ---------------- R(Z) ----------------

class CodingRateNode final : public autograd::Node {
 public:
  CodingRateNode(Tensor x, Factor f, double a, Normalized norm)
      : x_(std::move(x)), f_(std::move(f)), a_(a), norm_(std::move(norm)) {}
  std::string_view name() const override { return "coding_rate"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = prim::binary(prim::Binary::mul, x_, trailing_ones(dy, 2));
    solve_gradient_(f_, dx, a_);
    if (norm_.r.defined()) dx = normalize_rows_backward(dx, norm_);
    return {dx};
  }
  void release_saved() override {
    x_ = f_.l = f_.logdet = norm_.xhat = norm_.r = Tensor();
  }

 private:
  Tensor x_;
  Factor f_;
  double a_;
  Normalized norm_;
};

}  // namespace

Tensor coding_rate(const Tensor& z, double eps, const CodingRateOptions& options) {
  check_tokens(z, "coding_rate");
  const double e2 = eps_squared(eps, options, "coding_rate");
  const double n = static_cast<double>(z.size(-2)), d = static_cast<double>(z.size(-1));
  const double a = d / (n * e2);
  Normalized norm;
  if (options.normalize_tokens) norm = normalize_rows(z.detach());
  const Tensor x = options.normalize_tokens ? norm.xhat : z.detach();
  Factor f = factor(x, a, "coding_rate");
  Tensor y = half_logdet(f);
  autograd::record<CodingRateNode>(y, {z}, x, std::move(f), a, std::move(norm));
  return y;
}

// ---------------- R^c(Z | U) ----------------

namespace {

// (..., N, K*p) -> the (..., K, N, p) view of its heads.
Tensor heads_view(const Tensor& w, std::int64_t k, std::int64_t p) {
  Shape s(w.shape().begin(), w.shape().end() - 1);
  s.insert(s.end(), {k, p});
  const auto nb = static_cast<std::int64_t>(s.size()) - 3;
  std::vector<std::int64_t> perm;
  for (std::int64_t i = 0; i < nb; ++i) perm.push_back(i);
  perm.insert(perm.end(), {nb + 1, nb, nb + 2});
  return prim::permute(prim::view(w, s), perm);
}

Shape split_heads(const Shape& w, std::int64_t k, std::int64_t p) {  // (..., N, K*p) -> (..., N, K, p)
  Shape s(w.begin(), w.end() - 1);
  s.insert(s.end(), {k, p});
  return s;
}

class CompressedRateNode final : public autograd::Node {
 public:
  CompressedRateNode(Tensor z, Tensor u, Tensor w, Factor f, double b, Normalized norm, Shape ushape)
      : z_(std::move(z)), u_(std::move(u)), w_(std::move(w)), f_(std::move(f)), b_(b), norm_(std::move(norm)),
        ushape_(std::move(ushape)) {}
  std::string_view name() const override { return "compressed_coding_rate"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    const std::int64_t k = ushape_[0], p = ushape_[1], d = ushape_[2];
    // dW_k = dy b W_k (I + b W_k^T W_k)^{-1}, all heads at once in the (..., N, K*p) layout.
    Tensor dw = prim::binary(prim::Binary::mul, w_, trailing_ones(dy, 2));
    solve_gradient_(f_, heads_view(dw, k, p), b_);
    if (norm_.r.defined())
      dw = prim::view(normalize_rows_backward(prim::view(dw, split_heads(dw.shape(), k, p)), norm_), dw.shape());
    Tensor dz, du;
    if (needs_grad(0)) dz = prim::matmul(dw, prim::reshape(u_, {k * p, d}));
    if (needs_grad(1)) {
      const Tensor dw2 = prim::reshape(dw, {-1, k * p});
      du = prim::view(prim::matmul(prim::transpose(dw2, 0, 1), prim::reshape(z_, {-1, d})), ushape_);
    }
    return {dz, du};
  }
  void release_saved() override { z_ = u_ = w_ = f_.l = f_.logdet = norm_.xhat = norm_.r = Tensor(); }

 private:
  Tensor z_, u_, w_;
  Factor f_;
  double b_;
  Normalized norm_;
  Shape ushape_;
};

}  // namespace

Tensor compressed_coding_rate(const Tensor& z, const Tensor& u, double eps, const CodingRateOptions& options) {
  const char* what = "compressed_coding_rate";
  check_tokens(z, what);
  if (!u.defined() || u.dim() != 3 || u.size(2) != z.size(-1) || u.dtype() != z.dtype() || u.numel() == 0)
    throw std::invalid_argument(fmt::format(
        "{}: U must be (K, p, d) with d = {} and Z's dtype {} (the qkv weight (K*p, d) reshaped to (K, p, d)), got {}",
        what, z.size(-1), dtype_name(z.dtype()), u.defined() ? shape_str(u.shape()) + " " +
                                                                   std::string(dtype_name(u.dtype()))
                                                             : "undefined"));
  const double e2 = eps_squared(eps, options, what);
  const std::int64_t k = u.size(0), p = u.size(1), d = u.size(2);
  const double b = static_cast<double>(p) / (static_cast<double>(z.size(-2)) * e2);
  const Tensor zd = z.detach(), ud = u.detach();
  Tensor w = prim::matmul(zd, prim::transpose(prim::reshape(ud, {k * p, d}), 0, 1));  // (..., N, K*p)
  Normalized norm;
  if (options.normalize_tokens) {
    norm = normalize_rows(prim::view(w, split_heads(w.shape(), k, p)));
    w = prim::view(norm.xhat, w.shape());
  }
  Factor f = factor(heads_view(w, k, p), b, what);
  Tensor y = prim::sum(half_logdet(f), {-1});
  autograd::record<CompressedRateNode>(y, {z, u}, tracks_grad(u) ? zd : Tensor(), tracks_grad(z) ? ud : Tensor(), w,
                                       std::move(f), b, std::move(norm), u.shape());
  return y;
}

Tensor rate_reduction(const Tensor& z, const Tensor& u, double eps, const CodingRateOptions& options) {
  return sub(coding_rate(z, eps, options), compressed_coding_rate(z, u, eps, options));
}

Tensor sparse_rate_reduction(const Tensor& z, const Tensor& u, double lambda, double eps,
                             const CodingRateOptions& options) {
  const Tensor l1 = sum(abs(z), {-2, -1});
  return sub(add(compressed_coding_rate(z, u, eps, options), mul_scalar(l1, lambda)), coding_rate(z, eps, options));
}

// ---------------- MCR^2 class term ----------------

namespace {

// From memberships Pi (..., J, N): s[.., j, n] = sqrt(c_j Pi[j, n]) with c_j = d/(tr(Pi_j) eps^2), and
// the class weights w[.., j] = tr(Pi_j)/N (0 for an empty class), both in Z's dtype, on Z's device.
struct ClassScales {
  Tensor s, w;
};
ClassScales class_scales(const Tensor& pi, std::int64_t d, double e2, const Tensor& z, const char* what) {
  const std::int64_t n = pi.size(-1), j = pi.size(-2);
  const std::vector<double> v = pi.to_vector<double>();
  std::vector<double> s(v.size()), w(v.size() / static_cast<std::size_t>(std::max<std::int64_t>(1, n)));
  for (std::size_t row = 0; row < w.size(); ++row) {
    double t = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double x = v[row * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)];
      if (!(x >= 0.0) || !std::isfinite(x))
        throw std::invalid_argument(fmt::format("{}: memberships must be finite and >= 0, got {} at class {} token {} "
                                                "of Pi {}",
                                                what, x, static_cast<std::int64_t>(row) % j, i, shape_str(pi.shape())));
      t += x;
    }
    const double c = t > 0.0 ? static_cast<double>(d) / (t * e2) : 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::size_t at = row * static_cast<std::size_t>(n) + static_cast<std::size_t>(i);
      s[at] = std::sqrt(c * v[at]);
    }
    w[row] = t / static_cast<double>(n);
  }
  Shape ws(pi.shape().begin(), pi.shape().end() - 1);
  auto to_z = [&](const Tensor& t) { return prim::to_device(prim::cast(t, z.dtype()), z.device()); };
  return {to_z(Tensor::from_vector(s, pi.shape())), to_z(Tensor::from_vector(w, ws))};
}

class ClassRateNode final : public autograd::Node {
 public:
  ClassRateNode(Tensor x, Factor f, ClassScales sc, Normalized norm)
      : x_(std::move(x)), f_(std::move(f)), sc_(std::move(sc)), norm_(std::move(norm)) {}
  std::string_view name() const override { return "class_coding_rate"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    // X_j = s_j * Z (row scaling): dX_j = dy w_j X_j (I + X_j^T X_j)^{-1}; dZ = sum_j s_j * dX_j.
    const Tensor coeff = prim::binary(prim::Binary::mul, trailing_ones(dy, 1), sc_.w);
    Tensor dx = prim::binary(prim::Binary::mul, x_, trailing_ones(coeff, 2));
    solve_gradient_(f_, dx, 1.0);
    Tensor dz = prim::sum(prim::binary(prim::Binary::mul, dx, trailing_ones(sc_.s, 1)), {-3});
    if (norm_.r.defined()) dz = normalize_rows_backward(dz, norm_);
    return {dz};
  }
  void release_saved() override { x_ = f_.l = f_.logdet = sc_.s = sc_.w = norm_.xhat = norm_.r = Tensor(); }

 private:
  Tensor x_;
  Factor f_;
  ClassScales sc_;
  Normalized norm_;
};

}  // namespace

Tensor class_coding_rate(const Tensor& z, const Tensor& pi, double eps, const CodingRateOptions& options) {
  const char* what = "class_coding_rate";
  check_tokens(z, what);
  const Shape zbatch(z.shape().begin(), z.shape().end() - 2);
  const bool shared = pi.defined() && pi.dim() == 2;
  if (!pi.defined() || pi.dim() < 2 || pi.size(-1) != z.size(-2) ||
      (!shared && Shape(pi.shape().begin(), pi.shape().end() - 2) != zbatch))
    throw std::invalid_argument(fmt::format("{}: memberships Pi must be (J, N) or (..., J, N) with Z's batch axes and "
                                            "N = {}; got Pi {} for Z {}",
                                            what, z.size(-2), pi.defined() ? shape_str(pi.shape()) : "undefined",
                                            shape_str(z.shape())));
  if (tracks_grad(pi))
    throw std::invalid_argument(fmt::format("{}: memberships Pi {} are data and not differentiable; pass pi.detach()",
                                            what, shape_str(pi.shape())));
  const double e2 = eps_squared(eps, options, what);
  ClassScales sc = class_scales(pi, z.size(-1), e2, z, what);
  Normalized norm;
  if (options.normalize_tokens) norm = normalize_rows(z.detach());
  const Tensor zn = options.normalize_tokens ? norm.xhat : z.detach();
  // X (..., J, N, d): row n of class j scaled by s[j, n], so 1/2 logdet(I + X_j^T X_j) is the class logdet.
  Tensor x = prim::binary(prim::Binary::mul, prim::unsqueeze(zn, -3), trailing_ones(sc.s, 1));
  Factor f = factor(x, 1.0, what);
  Tensor y = prim::sum(prim::binary(prim::Binary::mul, half_logdet(f), sc.w), {-1});
  autograd::record<ClassRateNode>(y, {z}, std::move(x), std::move(f), std::move(sc), std::move(norm));
  return y;
}

Tensor mcr2_rate_reduction(const Tensor& z, const Tensor& pi, double eps, const CodingRateOptions& options) {
  return sub(coding_rate(z, eps, options), class_coding_rate(z, pi, eps, options));
}

RateBounds head_rate_bounds(std::int64_t n, std::int64_t p, double eps, const CodingRateOptions& options) {
  if (n < 1 || p < 1)
    throw std::invalid_argument(fmt::format("head_rate_bounds: need n >= 1 tokens and p >= 1, got n = {}, p = {}", n, p));
  const double e2 = eps_squared(eps, options, "head_rate_bounds");
  const double pd = static_cast<double>(p), r = static_cast<double>(std::min(n, p));
  return {0.5 * std::log1p(pd / e2), 0.5 * r * std::log1p(pd / (r * e2))};
}

}  // namespace wb::ops
