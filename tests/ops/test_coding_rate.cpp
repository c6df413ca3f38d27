// The coding-rate family (ops/coding_rate.hpp): values against closed forms (spec §3, Appendix A.4)
// and against independent float64 loops (naive_linalg.hpp: d x d Gram, Gaussian elimination), exact
// gradients against finite differences and against the closed form a X (I + a X^T X)^{-1}.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "ops/ops.hpp"
#include "tests/ops/naive_linalg.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using naive::Mat;
using wbtest::param;
using wbtest::randn;
using V = std::vector<Tensor>;

namespace {

// r x d with orthonormal rows (r <= d): Gram-Schmidt on Gaussian rows.
Mat orthonormal_rows(std::int64_t r, std::int64_t d, std::uint64_t seed) {
  Mat q = naive::matrix(randn({r, d}, seed));
  for (std::int64_t i = 0; i < r; ++i) {
    for (std::int64_t j = 0; j < i; ++j) {
      double dot = 0.0;
      for (std::int64_t c = 0; c < d; ++c) dot += q.at(i, c) * q.at(j, c);
      for (std::int64_t c = 0; c < d; ++c) q.at(i, c) -= dot * q.at(j, c);
    }
    double s = 0.0;
    for (std::int64_t c = 0; c < d; ++c) s += q.at(i, c) * q.at(i, c);
    for (std::int64_t c = 0; c < d; ++c) q.at(i, c) /= std::sqrt(s);
  }
  return q;
}

// U (K, p, d) from a (K*p, d) matrix, the qkv weight layout.
Tensor heads(const Mat& w, std::int64_t k) { return prim::view(naive::to_tensor(w), {k, w.rows / k, w.cols}); }

// Rows k*p .. k*p+p-1 of U (K, p, d) as a p x d matrix.
Mat head(const Tensor& u, std::int64_t k) { return naive::matrix(prim::contiguous(u), k); }

double ref_rate(const Mat& z, double e2, bool normalize) {
  const Mat x = normalize ? naive::normalize_rows(z) : z;
  return naive::rate(x, static_cast<double>(z.cols) / (static_cast<double>(z.rows) * e2));
}

double ref_compressed(const Mat& z, const Tensor& u, double e2, bool normalize) {
  double s = 0.0;
  for (std::int64_t k = 0; k < u.size(0); ++k) {
    Mat w = naive::matmul(z, naive::transpose(head(u, k)));
    if (normalize) w = naive::normalize_rows(w);
    s += naive::rate(w, static_cast<double>(u.size(1)) / (static_cast<double>(z.rows) * e2));
  }
  return s;
}

// sum_j tr(Pi_j)/(2N) logdet(I + d/(tr(Pi_j) e2) Z^T diag(pi_j) Z), pi (J, N).
double ref_class(const Mat& z, const Mat& pi, double e2) {
  double s = 0.0;
  for (std::int64_t j = 0; j < pi.rows; ++j) {
    double t = 0.0;
    Mat wz = z;
    for (std::int64_t i = 0; i < z.rows; ++i) {
      t += pi.at(j, i);
      for (std::int64_t c = 0; c < z.cols; ++c) wz.at(i, c) *= pi.at(j, i);
    }
    if (t == 0.0) continue;
    const Mat g = naive::matmul(naive::transpose(z), wz);
    s += t / (2.0 * static_cast<double>(z.rows)) *
         naive::logdet(naive::plus_scaled_identity(g, static_cast<double>(z.cols) / (t * e2), 1.0));
  }
  return s;
}

double at(const Tensor& t, std::int64_t i) { return t.to_vector<double>()[static_cast<std::size_t>(i)]; }

bool near(double a, double e, double rtol) { return std::abs(a - e) <= rtol * (1.0 + std::abs(e)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(coding_rate)

BOOST_AUTO_TEST_CASE(values_match_naive_reference_on_both_gram_sides) {
  // N < d factors the N x N Gram, N > d the d x d one; the reference always uses d x d.
  for (const Tensor& z : {randn({2, 3, 5, 8}, 1), randn({2, 7, 4}, 2), prim::transpose(randn({3, 6, 9}, 3), -1, -2)}) {
    const Tensor r = ops::coding_rate(z, 0.7);
    const Tensor zc = prim::contiguous(z);
    const std::int64_t batch = zc.numel() / (zc.size(-1) * zc.size(-2));
    BOOST_TEST(r.numel() == batch);
    for (std::int64_t b = 0; b < batch; ++b) BOOST_TEST(near(at(r, b), ref_rate(naive::matrix(zc, b), 0.49, false), 1e-12));
  }
  // An unbatched Z gives a 0-d rate.
  BOOST_TEST(ops::coding_rate(randn({4, 3}, 4), 1.0).dim() == 0);
}

BOOST_AUTO_TEST_CASE(sylvester_n_by_n_and_p_by_p_forms_agree) {
  // 1/2 logdet(I_N + a X X^T) = 1/2 logdet(I_p + a X^T X), with both Gram forms built explicitly.
  for (const Tensor& x : {randn({3, 6, 9}, 5), randn({3, 9, 6}, 6)}) {
    const Tensor t = prim::cholesky_logdet(prim::cholesky(prim::gram(x, prim::Gram::xxt, 0.8, 1.0)));
    const Tensor f = prim::cholesky_logdet(prim::cholesky(prim::gram(x, prim::Gram::xtx, 0.8, 1.0)));
    BOOST_TEST(wbtest::allclose(t, f, 1e-12, 1e-12));
  }
  // And the op on Z equals the op on the same tokens with the roles of N and d exchanged by scale:
  // R(Z) with N = 4 < d = 10 matches the reference on the 10 x 10 side.
  const Tensor z = randn({4, 10}, 7);
  BOOST_TEST(near(ops::coding_rate(z, 0.3).item(), ref_rate(naive::matrix(z), 0.09, false), 1e-12));
}

BOOST_AUTO_TEST_CASE(orthonormal_columns_closed_form) {
  // Z^T Z = I_d: R = (d/2) ln(1 + d/(N eps^2)). Z Z^T = I_N (N < d): R = (N/2) ln(1 + d/(N eps^2)).
  const double eps = 0.4, e2 = eps * eps;
  const Tensor cols = prim::transpose(naive::to_tensor(orthonormal_rows(5, 12, 8)), 0, 1);  // (12, 5)
  BOOST_TEST(near(ops::coding_rate(cols, eps).item(), 2.5 * std::log1p(5.0 / (12.0 * e2)), 1e-12));
  const Tensor rows = naive::to_tensor(orthonormal_rows(4, 10, 9));  // (4, 10)
  BOOST_TEST(near(ops::coding_rate(rows, eps).item(), 2.0 * std::log1p(10.0 / (4.0 * e2)), 1e-12));
}

BOOST_AUTO_TEST_CASE(rank_one_input_gives_the_per_head_minimum) {
  // Every token equal: each head's normalised projections coincide, R_p = 1/2 ln(1 + p/eps^2).
  const std::int64_t n = 20, d = 12, k = 3, p = 4;
  const Tensor tok = randn({1, d}, 10);
  const Tensor z = prim::contiguous(prim::expand(tok, {n, d}));
  const Tensor u = randn({k, p, d}, 11);
  const auto b = ops::head_rate_bounds(n, p, ops::kMeasurementEps);
  BOOST_TEST(near(b.min, 0.5 * std::log1p(p / 0.01), 1e-15));
  BOOST_TEST(near(ops::compressed_coding_rate(z, u, ops::kMeasurementEps, ops::kMeasurement).item(), k * b.min, 1e-10));
  // Same for R: 1/2 ln(1 + d/eps^2) with unit-norm tokens.
  BOOST_TEST(near(ops::coding_rate(z, 0.01, ops::kMeasurement).item(), 0.5 * std::log1p(d / 0.01), 1e-10));
}

BOOST_AUTO_TEST_CASE(equal_eigenvalues_give_the_per_head_maximum) {
  // Q orthogonal (d x d), U[k] = rows kp..kp+p-1. Token i = sum_k Q[kp + i mod p], so U[k] z_i is the
  // one-hot e_{i mod p}: unit norm, and W_k^T W_k = (N/p) I_p, p equal eigenvalues:
  // R_p = (p/2) ln(1 + 1/eps^2) per head.
  const std::int64_t d = 12, k = 3, p = 4, n = 3 * p;
  const Mat q = orthonormal_rows(d, d, 12);
  Mat zm(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t h = 0; h < k; ++h)
      for (std::int64_t c = 0; c < d; ++c) zm.at(i, c) += q.at(h * p + i % p, c);
  const Tensor z = naive::to_tensor(zm), u = heads(q, k);
  const auto b = ops::head_rate_bounds(n, p, ops::kMeasurementEps);
  BOOST_TEST(near(b.max, 0.5 * p * std::log1p(1.0 / 0.01), 1e-15));
  BOOST_TEST(near(ops::compressed_coding_rate(z, u, ops::kMeasurementEps, ops::kMeasurement).item(), k * b.max, 1e-10));
  // Without normalisation too (the projections already have unit norm).
  BOOST_TEST(near(ops::compressed_coding_rate(z, u, 0.1).item(), k * b.max, 1e-10));
  // R of N = 2d one-hot tokens rotated by Q: Z^T Z = (N/d) I, R = (d/2) ln(1 + 1/eps^2).
  Mat e(2 * d, d);
  for (std::int64_t i = 0; i < 2 * d; ++i) e.at(i, i % d) = 1.0;
  BOOST_TEST(near(ops::coding_rate(naive::to_tensor(naive::matmul(e, q)), 0.1).item(), 0.5 * d * std::log1p(100.0), 1e-10));
  // Random unit-norm data lies strictly between the bounds.
  const double r = ops::compressed_coding_rate(randn({n, d}, 13), u, ops::kMeasurementEps, ops::kMeasurement).item();
  BOOST_TEST(r > k * b.min);
  BOOST_TEST(r < k * b.max);
}

BOOST_AUTO_TEST_CASE(bounds_match_the_spec_and_few_tokens) {
  // spec §3: CRATE-S (p = 48, K = 12, eps^2 = 0.01) lies between about 51 and about 1329.
  const auto b = ops::head_rate_bounds(197, 48, 0.01);
  BOOST_TEST(std::abs(12 * b.min - 50.8595) < 1e-3);
  BOOST_TEST(std::abs(12 * b.max - 1329.15) < 1e-2);
  // n < p: n orthonormal tokens reach (n/2) ln(1 + p/(n eps^2)).
  const Tensor z = naive::to_tensor(orthonormal_rows(3, 8, 14));
  const Tensor u = heads(naive::plus_scaled_identity(Mat(8, 8), 0.0, 1.0), 1);
  const auto few = ops::head_rate_bounds(3, 8, 0.01);
  BOOST_TEST(near(few.max, 1.5 * std::log1p(8.0 / 0.03), 1e-15));
  BOOST_TEST(near(ops::compressed_coding_rate(z, u, 0.01, ops::kMeasurement).item(), few.max, 1e-10));
  // The paper convention takes eps itself.
  BOOST_TEST(near(ops::head_rate_bounds(197, 48, 0.1, {}).max, b.max, 1e-15));
}

BOOST_AUTO_TEST_CASE(compressed_matches_naive_reference) {
  // N > p (p x p Gram) and N < p (N x N Gram), batched, with and without per-head normalisation;
  // U given as the (K*p, d) qkv weight viewed as (K, p, d).
  const Tensor u = heads(naive::matrix(randn({3 * 4, 12}, 20)), 3);
  for (const Tensor& z : {randn({2, 6, 12}, 21), randn({2, 3, 12}, 22), prim::transpose(randn({2, 12, 5}, 23), -1, -2)}) {
    for (bool normalize : {false, true}) {
      const ops::CodingRateOptions o{false, normalize};
      const Tensor r = ops::compressed_coding_rate(z, u, 0.6, o);
      const Tensor zc = prim::contiguous(z);
      for (std::int64_t b = 0; b < 2; ++b)
        BOOST_TEST(near(at(r, b), ref_compressed(naive::matrix(zc, b), u, 0.36, normalize), 1e-11));
    }
  }
}

BOOST_AUTO_TEST_CASE(measurement_convention_is_the_official_formula) {
  // vis_utils/coding_rate.py: per head 1/2 logdet(I_n + p/(n eps) X X^T), X the unit-norm projections,
  // eps = 0.01 is eps^2, n counts every row passed (class token included).
  const Tensor z = randn({2, 9, 12}, 30), u = randn({3, 4, 12}, 31);
  const Tensor r = ops::compressed_coding_rate(z, u, 0.01, ops::kMeasurement);
  for (std::int64_t b = 0; b < 2; ++b) BOOST_TEST(near(at(r, b), ref_compressed(naive::matrix(z, b), u, 0.01, true), 1e-11));
  // eps_is_squared only changes how eps is read.
  BOOST_TEST(wbtest::allclose(ops::coding_rate(z, 0.01, {true, false}), ops::coding_rate(z, 0.1), 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::compressed_coding_rate(z, u, 0.04, {true, false}),
                              ops::compressed_coding_rate(z, u, 0.2), 1e-12, 1e-12));
}

BOOST_AUTO_TEST_CASE(rate_reduction_and_sparse_rate_reduction_values) {
  const Tensor z = randn({2, 7, 8}, 40), u = randn({2, 4, 8}, 41);
  const double lambda = 0.3, eps = 0.5;
  const Tensor dr = ops::rate_reduction(z, u, eps), srr = ops::sparse_rate_reduction(z, u, lambda, eps);
  for (std::int64_t b = 0; b < 2; ++b) {
    const Mat zm = naive::matrix(z, b);
    const double r = ref_rate(zm, eps * eps, false), rc = ref_compressed(zm, u, eps * eps, false);
    double l1 = 0.0;
    for (double v : zm.v) l1 += std::abs(v);
    BOOST_TEST(near(at(dr, b), r - rc, 1e-11));
    BOOST_TEST(near(at(srr, b), rc + lambda * l1 - r, 1e-11));
  }
}

BOOST_AUTO_TEST_CASE(mcr2_matches_naive_reference) {
  // Hard labels with one empty class, and soft memberships (batched Pi).
  const Tensor z = randn({2, 6, 4}, 50);
  const Tensor hard = Tensor::from_vector(std::vector<double>{1, 0, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0}, {3, 6});
  const Tensor soft = wbtest::uniform({2, 3, 6}, 51, 0.0, 1.0);
  for (const Tensor& pi : {hard, soft}) {
    const Tensor rc = ops::class_coding_rate(z, pi, 0.5), dr = ops::mcr2_rate_reduction(z, pi, 0.5);
    for (std::int64_t b = 0; b < 2; ++b) {
      const Mat zm = naive::matrix(z, b), pm = naive::matrix(pi, pi.dim() == 2 ? 0 : b);
      BOOST_TEST(near(at(rc, b), ref_class(zm, pm, 0.25), 1e-11));
      BOOST_TEST(near(at(dr, b), ref_rate(zm, 0.25, false) - ref_class(zm, pm, 0.25), 1e-11));
    }
  }
}

BOOST_AUTO_TEST_CASE(gradient_matches_closed_form) {
  // dR/dZ = a Z (I_d + a Z^T Z)^{-1} = a (I_N + a Z Z^T)^{-1} Z, a = d/(N eps^2), times dy per batch element.
  for (const Tensor& z0 : {randn({2, 5, 8}, 60), randn({2, 8, 5}, 61)}) {
    const Tensor z = param(z0);
    const Tensor dy = Tensor::from_vector(std::vector<double>{0.7, -1.3}, {2});
    const Tensor g = wbtest::grad_of(ops::coding_rate(z, 0.5), z, dy);
    const double a = static_cast<double>(z.size(-1)) / (static_cast<double>(z.size(-2)) * 0.25);
    for (std::int64_t b = 0; b < 2; ++b) {
      const Mat x = naive::matrix(z0, b);
      const Mat inv = naive::inverse(naive::plus_scaled_identity(naive::matmul(naive::transpose(x), x), a, 1.0));
      Mat e = naive::matmul(x, inv);
      for (auto& v : e.v) v *= a * at(dy, b);
      BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(g, b)), e.v, 1e-12, 1e-10));
    }
  }
}

BOOST_AUTO_TEST_CASE(compressed_gradient_matches_closed_form) {
  // W_k = Z U[k]^T, G_k = W_k (I + b W_k^T W_k)^{-1}: dZ = b sum_k G_k U[k], dU[k] = b sum_batch G_k^T Z.
  const std::int64_t k = 2, p = 3, d = 7, n = 5;
  const Tensor z0 = randn({2, n, d}, 70), u0 = randn({k, p, d}, 71);
  const Tensor z = param(z0), u = param(u0);
  ops::rate_reduction(z, u, 0.8);  // builds a graph that is never run: no effect on the grads below
  autograd::backward(ops::sum(ops::compressed_coding_rate(z, u, 0.8)));
  const double beta = static_cast<double>(p) / (n * 0.64);
  Mat dz_e[2] = {Mat(n, d), Mat(n, d)}, du_e[2] = {Mat(p, d), Mat(p, d)};
  for (std::int64_t b = 0; b < 2; ++b) {
    const Mat zm = naive::matrix(z0, b);
    for (std::int64_t h = 0; h < k; ++h) {
      const Mat uh = head(u0, h), w = naive::matmul(zm, naive::transpose(uh));
      const Mat g = naive::matmul(w, naive::inverse(naive::plus_scaled_identity(naive::matmul(naive::transpose(w), w), beta, 1.0)));
      const Mat dz = naive::matmul(g, uh), du = naive::matmul(naive::transpose(g), zm);
      for (std::size_t i = 0; i < dz.v.size(); ++i) dz_e[b].v[i] += beta * dz.v[i];
      for (std::size_t i = 0; i < du.v.size(); ++i) du_e[h].v[i] += beta * du.v[i];
    }
  }
  for (std::int64_t b = 0; b < 2; ++b) BOOST_TEST(wbtest::allclose(naive::to_tensor(naive::matrix(z.grad(), b)), dz_e[b].v, 1e-12, 1e-10));
  for (std::int64_t h = 0; h < k; ++h) BOOST_TEST(wbtest::allclose(naive::to_tensor(head(u.grad(), h)), du_e[h].v, 1e-12, 1e-10));
}

BOOST_AUTO_TEST_CASE(gradcheck_coding_rate_both_sides_and_normalized) {
  for (const Tensor& z : {param(randn({2, 3, 5}, 80)), param(randn({2, 5, 3}, 81))}) {
    wbtest::check_grad([](const V& t) { return ops::coding_rate(t[0], 0.6); }, {z});
    wbtest::check_grad([](const V& t) { return ops::coding_rate(t[0], 0.01, ops::kMeasurement); }, {z});
  }
}

BOOST_AUTO_TEST_CASE(gradcheck_compressed_wrt_z_and_u) {
  const Tensor u = param(randn({2, 3, 6}, 90));
  for (const Tensor& z : {param(randn({2, 5, 6}, 91)), param(randn({2, 2, 6}, 92))}) {
    wbtest::check_grad([](const V& t) { return ops::compressed_coding_rate(t[0], t[1], 0.7); }, {z, u});
    wbtest::check_grad([](const V& t) { return ops::compressed_coding_rate(t[0], t[1], 0.05, ops::kMeasurement); }, {z, u});
  }
  // Z without a gradient: only U's is computed (Z is not saved for nothing, and vice versa).
  wbtest::check_grad([](const V& t) { return ops::compressed_coding_rate(randn({3, 6}, 93), t[0], 0.7); }, {u});
}

BOOST_AUTO_TEST_CASE(gradcheck_rate_reductions) {
  const Tensor z = param(wbtest::away_from(randn({2, 4, 6}, 100), 0.0, 0.1));  // away from the |.| kink
  const Tensor u = param(randn({2, 3, 6}, 101));
  wbtest::check_grad([](const V& t) { return ops::rate_reduction(t[0], t[1], 0.7); }, {z, u});
  wbtest::check_grad([](const V& t) { return ops::sparse_rate_reduction(t[0], t[1], 0.2, 0.7); }, {z, u});
  const Tensor pi = wbtest::uniform({3, 4}, 102, 0.0, 1.0);
  wbtest::check_grad([&](const V& t) { return ops::mcr2_rate_reduction(t[0], pi, 0.7); }, {z});
  const Tensor hard = Tensor::from_vector(std::vector<double>{1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0}, {3, 4});
  wbtest::check_grad([&](const V& t) { return ops::class_coding_rate(t[0], hard, 0.3, ops::kMeasurement); }, {z});
}

BOOST_AUTO_TEST_CASE(subspace_data_compress_far_below_isotropic) {
  // U: K orthonormal p-blocks spanning R^d. Each token lies on one subspace (z = U[k]^T c), so it
  // projects to 0 on every other head and head k's Gram sums only its N/K tokens; isotropic tokens of
  // the same norm reach every head. With N/K < p (here 4 tokens per 16-dim head), head k's Gram has
  // rank N/K instead of min(N, p), and R^c drops well below. (With N/K >> p the expected Gram
  // matrices coincide when Kp = d and the gap closes.)
  const std::int64_t k = 6, p = 16, d = k * p, n = 4 * k;
  const Mat q = orthonormal_rows(d, d, 110);
  const Tensor u = heads(q, k);
  Mat sub(n, d);
  const Mat c = naive::matrix(randn({n, p}, 111));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < p; ++j)
      for (std::int64_t col = 0; col < d; ++col) sub.at(i, col) += c.at(i, j) * q.at((i % k) * p + j, col);
  // Isotropic: Gaussian tokens rescaled to the subspace tokens' norms.
  Mat iso = naive::matrix(randn({n, d}, 112));
  for (std::int64_t i = 0; i < n; ++i) {
    double a = 0.0, b = 0.0;
    for (std::int64_t col = 0; col < d; ++col) {
      a += sub.at(i, col) * sub.at(i, col);
      b += iso.at(i, col) * iso.at(i, col);
    }
    for (std::int64_t col = 0; col < d; ++col) iso.at(i, col) *= std::sqrt(a / b);
  }
  const double rs = ops::compressed_coding_rate(naive::to_tensor(sub), u, 0.1).item();
  const double ri = ops::compressed_coding_rate(naive::to_tensor(iso), u, 0.1).item();
  BOOST_TEST_MESSAGE("R^c subspace data " << rs << ", isotropic " << ri);
  BOOST_TEST(rs < 0.4 * ri);
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64_at_crate_size) {
  // d = 384, N = 197 (ViT-S/16 tokens with the class token), K = 6 heads of p = 64.
  const Tensor z = randn({2, 197, 384}, 120), u = randn({6, 64, 384}, 121, DType::f64, 1.0 / std::sqrt(384.0));
  const Tensor z32 = prim::cast(z, DType::f32), u32 = prim::cast(u, DType::f32);
  for (double eps : {0.5, 0.01}) {
    BOOST_TEST(wbtest::allclose(prim::cast(ops::coding_rate(z32, eps), DType::f64), ops::coding_rate(z, eps), 0.0, 1e-4));
    BOOST_TEST(wbtest::allclose(prim::cast(ops::compressed_coding_rate(z32, u32, eps), DType::f64),
                                ops::compressed_coding_rate(z, u, eps), 0.0, 1e-4));
  }
  BOOST_TEST(wbtest::allclose(prim::cast(ops::compressed_coding_rate(z32, u32, 0.01, ops::kMeasurement), DType::f64),
                              ops::compressed_coding_rate(z, u, 0.01, ops::kMeasurement), 0.0, 1e-4));
}

BOOST_AUTO_TEST_CASE(records_named_nodes_and_reports_bad_arguments) {
  const Tensor z = param(randn({2, 4, 6}, 130)), u = param(randn({2, 3, 6}, 131));
  BOOST_TEST(std::string(ops::coding_rate(z, 0.5).grad_fn()->name()) == "coding_rate");
  BOOST_TEST(std::string(ops::compressed_coding_rate(z, u, 0.5).grad_fn()->name()) == "compressed_coding_rate");
  BOOST_TEST(std::string(ops::class_coding_rate(z, Tensor::ones({2, 4}, DType::f64), 0.5).grad_fn()->name()) ==
             "class_coding_rate");
  {
    autograd::NoGradGuard guard;
    BOOST_TEST(!ops::coding_rate(z, 0.5).grad_fn());
    BOOST_TEST(!ops::compressed_coding_rate(z, u, 0.5).grad_fn());
  }
  wbtest::check_error([&] { ops::compressed_coding_rate(z, randn({2, 3, 5}, 1), 0.5); },
                      {"compressed_coding_rate", "(K, p, d)", "d = 6", "[2, 3, 5]"});
  wbtest::check_error([&] { ops::compressed_coding_rate(z, randn({6, 6}, 1), 0.5); }, {"compressed_coding_rate", "[6, 6]"});
  wbtest::check_error([&] { ops::coding_rate(z, 0.0); }, {"coding_rate", "eps"});
  wbtest::check_error([&] { ops::coding_rate(randn({5}, 1), 0.5); }, {"coding_rate", "(..., N, d)", "[5]"});
  wbtest::check_error([&] { ops::class_coding_rate(z, Tensor::ones({2, 5}, DType::f64), 0.5); },
                      {"class_coding_rate", "[2, 5]", "N = 4"});
  wbtest::check_error([&] { ops::class_coding_rate(z, Tensor::full({2, 4}, -1.0, DType::f64), 0.5); },
                      {"class_coding_rate", ">= 0", "class 0 token 0"});
  wbtest::check_error([&] { ops::class_coding_rate(z, param(Tensor::ones({2, 4}, DType::f64)), 0.5); },
                      {"class_coding_rate", "not differentiable"});
}

BOOST_AUTO_TEST_SUITE_END()
