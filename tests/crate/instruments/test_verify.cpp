// The numerical checks of the CRATE derivation (crate/verify.hpp). Every threshold below is derived in
// the comment next to it from the algebra of spec §2.3-§2.5, not read off an output. Seeds and sizes
// differ from `whitebox verify`'s defaults on purpose.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "crate/instruments/verify.hpp"
#include "crate/models/registry.hpp"

using namespace wb;
using namespace wb::crate;

BOOST_AUTO_TEST_SUITE(verify)

BOOST_AUTO_TEST_CASE(ista_block_is_one_proximal_gradient_step) {
  // ReLU(z + eta D^T (z - D z) - eta lambda) and prox_{eta g}(A0 - eta grad f(A0)) at A0 = Z are the same
  // formula evaluated in a different order, so they agree to rounding: in f64 well below 1e-12 for
  // O(1) entries and d = 32, in f32 below the a-priori bound 2 gamma_{2d+8} max(|z| + eta |D^T| r + eta lambda).
  IstaProxOptions o;
  o.dim = 32;
  o.tokens = 20;
  o.batch = 3;
  o.eta = 0.2;
  o.lambda = 0.3;
  o.seed = 11;
  const auto r64 = ista_prox_check(o, DType::f64);
  BOOST_TEST(r64.max_abs_diff <= 1e-12);
  BOOST_TEST(r64.max_abs_diff <= r64.error_bound);
  const auto r32 = ista_prox_check(o, DType::f32);
  BOOST_TEST(r32.max_abs_diff <= r32.error_bound);
  BOOST_TEST(r32.error_bound < 1e-2);  // the bound is a rounding bound, not a loose tolerance
  // Both branches of the prox are exercised: inputs are N(0, 1), so the pre-activation z + eta(...) -
  // eta lambda is negative for a sizeable fraction of entries and positive for another.
  BOOST_TEST(r64.zero_fraction > 0.05);
  BOOST_TEST(r64.zero_fraction < 0.95);
  BOOST_TEST(r64.max_abs_value > 0.5);
}

BOOST_AUTO_TEST_CASE(variant_blocks_are_checked_against_their_own_derivation) {
  // CRATE-alpha's ODL block: two prox-gradient steps of the nonnegative LASSO from A = 0 over r d
  // atoms, then the output dictionary; the independent computation agrees to rounding.
  CrateConfig c = named_config("crate-mini-28");
  c.dim = 12;
  c.dictionary = Dictionary::overcomplete;
  c.ista_residual = true;
  IstaProxOptions o = ista_options_for(c);
  o.tokens = 7;
  BOOST_TEST(o.dim == 12);
  const auto r64 = ista_prox_check(o, DType::f64);
  BOOST_TEST(r64.max_abs_diff <= 1e-12, r64.max_abs_diff);
  BOOST_TEST(r64.max_abs_diff <= r64.error_bound);
  BOOST_TEST(ista_prox_check(o, DType::f32).max_abs_diff <= ista_prox_check(o, DType::f32).error_bound);
  // Learnable eta and lambda (at their initial values) are the same one-step formula.
  CrateConfig learn = named_config("crate-mini-28");
  learn.dim = 12;
  learn.learnable_ista = true;
  const auto rl = ista_prox_check(ista_options_for(learn), DType::f64);
  BOOST_TEST(rl.max_abs_diff <= 1e-12);
  BOOST_CHECK_THROW(ista_options_for(named_config("vit-mini-28")), std::invalid_argument);
}

namespace {
MssaOptions small_mssa() {
  MssaOptions o;
  o.dim = 16;
  o.heads = 4;  // p = 4
  o.tokens = 48;
  o.noise = 0.05;
  o.scale = 2.0;
  o.t_values = {0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0};
  o.seed = 5;
  return o;
}
}  // namespace

BOOST_AUTO_TEST_CASE(neumann_approximation_converges_as_beta_goes_to_zero) {
  // With W_k = sum_i s_i a_i b_i^T (SVD) and x_i = beta s_i^2, the exact gradient's components are
  // beta s_i / (1 + x_i) and the Neumann form's beta s_i (1 - x_i): each component's relative error is
  // x_i^2, so rel = weighted RMS of x_i^2 <= t^2 (t = max x_i), it increases strictly with beta
  // (d log rel^2 / d log beta >= 4 - 2 = 2 > 0), and 1 - cos <= rel^2 <= t^4.
  const auto r = mssa_vs_gradient(small_mssa());
  BOOST_TEST_REQUIRE(r.rows.size() == 8u);
  for (std::size_t i = 0; i < r.rows.size(); ++i) {
    const auto& x = r.rows[i];
    BOOST_TEST_CONTEXT("t = " << x.t) {
      BOOST_TEST(x.closed_form_rel <= 1e-10);  // autograd through the op = beta W (I + beta C)^{-1} U^T
      BOOST_TEST(std::abs(x.neumann.rel - x.neumann_predicted) <= 1e-9 * std::max(1.0, x.neumann_predicted));
      BOOST_TEST(std::abs(x.zeroth.rel - x.zeroth_predicted) <= 1e-9 * std::max(1.0, x.zeroth_predicted));
      BOOST_TEST(x.neumann.rel <= x.t * x.t * (1 + 1e-9));
      BOOST_TEST(x.zeroth.rel <= x.t * (1 + 1e-9));  // beta Z alone: component error x_i
      if (x.t < 1.0) BOOST_TEST(x.neumann.rel < x.zeroth.rel);  // x_i^2 < x_i: the correction helps
      if (i > 0) BOOST_TEST(x.neumann.rel > r.rows[i - 1].neumann.rel);
      if (x.t <= 0.1) BOOST_TEST(1.0 - x.neumann.cos <= std::pow(x.t, 4) + 1e-14);
    }
  }
  // The cosine tends to 1 as beta -> 0 and the approximation is second order: rel ~ t^2.
  BOOST_TEST(r.rows.front().neumann.cos > 1.0 - 1e-9);
  const double slope = std::log(r.rows[1].neumann.rel / r.rows[0].neumann.rel) / std::log(r.rows[1].t / r.rows[0].t);
  BOOST_TEST(slope > 1.9);
  BOOST_TEST(slope < 2.1);
  // Beyond t = 1 the first-order term 1 - x_i changes sign for the top directions: no longer an
  // approximation (rel >= 1 once most of the weight has x_i >= 1; the weights favour small x_i, so
  // demand it only at t = 10).
  BOOST_TEST(r.rows.back().neumann.rel > 1.0);
}

BOOST_AUTO_TEST_CASE(softmax_form_tracks_the_gradient_to_first_order_in_t) {
  // softmax form s = beta Z - beta^2 sum_k softmax(G_k) W_k U_k^T. Rows of softmax(G) W are convex
  // combinations of rows of W, so ||s - beta Z|| <= beta^2 sqrt(N sum_k max_n ||w_nk||^2), and with
  // ||beta Z - g|| <= t/(1+t) beta ||Z||, ||g|| >= beta ||Z|| / (1+t):
  //   rel <= t + beta (1+t) sqrt(N sum_k m_k^2) / ||Z||         (softmax_bound)
  // Here max_k ||G_k|| >= ||Z||_F^2 / d (the largest of K traces, each over p eigenvalues), so
  // beta <= t d / ||Z||^2; m_k <= max ||z_n|| ~ 2.2 (norm-2 clean part plus noise 0.05 sqrt(16)) and
  // ||Z|| ~ 2 sqrt(48) ~ 13.9: the second term is <= t (1+t) 16 sqrt(48 * 4) 2.2 / 13.9^3 ~ 0.18 t (1+t).
  // So rel <= 1.2 t for t <= 0.1 (<= 1.5 t with margin) and cos >= sqrt(1 - (1.2 t)^2) >= 0.992.
  const auto r = mssa_vs_gradient(small_mssa());
  for (const auto& x : r.rows) {
    BOOST_TEST_CONTEXT("t = " << x.t) {
      BOOST_TEST(x.softmax.rel <= x.softmax_bound);
      if (x.t <= 0.1) {
        BOOST_TEST(x.softmax_bound <= 1.5 * x.t);
        BOOST_TEST(x.softmax.cos >= 0.99);
      }
      // The attention term points along the exact correction beta Z - g: at small t that correction is
      // beta^2 sum_k W_k C_k U_k^T ~ c Z for near-isotropic C_k, and <softmax(G) W, W> >= (1/N)||1^T W||^2 >= 0
      // (Chebyshev: softmax weights increase with G_ij). Demand a clear positive cosine.
      BOOST_TEST(x.correction_cos > 0.5);
    }
  }
  // First order only: the softmax correction does not cancel the O(t) error of beta Z (rows of
  // softmax(G) sum to 1, G's rows to O(||G||)), so rel ~ t, not t^2.
  const double slope = std::log(r.rows[1].softmax.rel / r.rows[0].softmax.rel) / std::log(r.rows[1].t / r.rows[0].t);
  BOOST_TEST(slope > 0.9);
  BOOST_TEST(slope < 1.1);
  BOOST_TEST(r.rows[1].softmax.rel > 10 * r.rows[1].neumann.rel);
}

BOOST_AUTO_TEST_CASE(crate_mssa_module_is_the_correction_not_the_whole_step) {
  // The module (output_map "paper") returns beta sum_k softmax(G_k / sqrt p) W_k U_k^T, with
  // <MSSA(Z), Z> = beta sum_k sum_ij S_ij G_ij >= beta sum_k (1/N) 1^T G_k 1 >= 0 (Chebyshev). The exact
  // step is -g = -beta Z + (beta Z - g) with ||beta Z - g|| <= t/(1+t) beta ||Z||, so
  // <MSSA, -g> <= beta ||MSSA|| ||Z|| (t/(1+t) - cos(MSSA, Z)) < 0 once cos(MSSA, Z) > t/(1+t): the
  // module alone opposes the compression step (the paper's (1 - kappa beta) Z shrink is dropped in the
  // residual Z + MSSA(Z)) and aligns with the correction instead.
  const auto r = mssa_vs_gradient(small_mssa());
  for (const auto& x : r.rows) {
    BOOST_TEST_CONTEXT("t = " << x.t) {
      BOOST_TEST(x.code_z_cos >= 0.0);
      if (x.code_z_cos > x.t / (1 + x.t)) BOOST_TEST(x.code_step_cos < 0.0);
      BOOST_TEST(x.code_correction_cos > 0.0);
    }
  }
  BOOST_TEST(r.rows.front().code_z_cos > r.rows.front().t);
  // t at the paper's constants (LayerNorm'd tokens, eps = 0.1) is ~ p/eps^2-sized, far outside t < 1.
  BOOST_TEST(r.paper_regime_t > 10.0);
}

BOOST_AUTO_TEST_CASE(compression_step_denoises_only_with_the_true_subspaces) {
  // -grad R^c shrinks each direction of U_k with variance lambda (eigenvalue of C_k = W_k^T W_k) by
  // kappa beta / (1 + beta lambda) of its length. With eps = sigma sqrt(p), beta N sigma^2 = 1.
  // N = 32 tokens, K = 4, p = 16: each true subspace holds 8 unit-norm tokens, spanning 8 of its 16
  // dimensions (beta lambda ~ beta = 1/(N sigma^2) >= 12 there: kept); the other 8 hold only noise
  // (beta lambda ~ 1: halved at kappa beta = 1). A token's noise has 3/4 of its energy in the other
  // subspaces, half of that in their noise-only directions: 3/8 of it loses 3/4 of its energy, so
  // ratio ~ sqrt(1 - 0.28) ~ 0.85. Random bases see every token in every subspace (variance ~ N/d
  // per direction, beta lambda >> 1): little moves, ratio ~ the best uniform shrink (>= 0.93 at
  // sigma <= 0.05). Demand a 0.05 gap: a third of the predicted one.
  DenoiseOptions o;
  o.seed = 17;
  o.sigmas = {0.01, 0.03, 0.05};
  const auto r = denoising_check(o);
  BOOST_TEST_REQUIRE(r.rows.size() == 2u * 3u * 3u);
  for (const auto& x : r.rows) {
    BOOST_TEST_CONTEXT("N = " << x.tokens << ", sigma = " << x.sigma << ", kappa beta = " << x.step) {
      // First order: d/dkappa ||Z - kappa g - X||^2 = -2 <g, E> with E the noise, and
      // E <g, E> = sum_k tr(M_k E[E_k^T E_k]) > 0 for M_k = beta (I + beta C_k)^{-1} > 0.
      BOOST_TEST(x.ratio_true < 1.0);
      // Projecting onto the own subspace keeps p/d = 1/4 of the noise energy: ratio sqrt(1/4).
      BOOST_TEST(std::abs(x.ratio_oracle - 0.5) < 0.05);
      if (x.tokens == 32 && x.step == 1.0) {
        BOOST_TEST(x.ratio_true < 0.92);  // predicted ~0.85
        BOOST_TEST(x.ratio_true <= x.ratio_random - 0.05);
        BOOST_TEST(x.ratio_true <= x.ratio_best_shrink - 0.05);
      }
    }
  }
  // N = 256: 64 tokens per subspace fill it, E[C_k] = N (1/d + sigma^2) I_p for true and random bases
  // alike, and the true subspaces lose their first-order advantage.
  for (const auto& m : r.rows) {
    if (m.tokens != 256 || m.step != 1.0) continue;
    const auto f = std::find_if(r.rows.begin(), r.rows.end(),
                                [&](const DenoiseRow& y) { return y.tokens == 32 && y.sigma == m.sigma && y.step == 1.0; });
    BOOST_TEST_REQUIRE((f != r.rows.end()));
    BOOST_TEST((m.ratio_random - m.ratio_true) < 0.5 * (f->ratio_random - f->ratio_true));
  }
  BOOST_TEST(all_pass(denoise_checks(r)));
}

BOOST_AUTO_TEST_CASE(verdicts_fail_when_a_claim_does_not_hold) {
  // The checks are not vacuous: a sweep that is not increasing in t breaks the monotonicity and
  // slope verdicts, and a random-subspace advantage breaks the denoising verdict.
  auto m = mssa_vs_gradient(small_mssa());
  std::reverse(m.rows.begin(), m.rows.end());
  BOOST_TEST(!all_pass(mssa_checks(m)));
  DenoiseOptions o;
  o.sigmas = {0.02};
  o.steps = {1.0};
  auto d = denoising_check(o);
  for (auto& x : d.rows) std::swap(x.ratio_true, x.ratio_random);
  BOOST_TEST(!all_pass(denoise_checks(d)));
}

BOOST_AUTO_TEST_SUITE_END()
