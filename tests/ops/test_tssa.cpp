// Token-statistics self-attention (ops/tssa): forward against hand-computed values and against a
// scalar loop transcription of ToST's formulas (crate-family.md §2.7), float64 gradchecks of the three
// forms, the invariances (token permutation, causality, Pi a distribution over heads) and linear memory.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <vector>

#include "ops/ops.hpp"
#include "tensor/storage.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::param;
using wbtest::randn;

namespace {
using TV = std::vector<Tensor>;

// Scalar loops over (b, j, k, i): the coded and paper vision forms and the causal form, written from
// the formulas, not from the op's composition. w (B, n, K p), temp (K), beta (K, >= n).
std::vector<double> tssa_loops(const Tensor& w, const std::vector<double>& temp, std::int64_t K, int form,
                               double gain, double step, const std::vector<double>& beta = {},
                               std::int64_t beta_stride = 0, std::vector<double>* pi_out = nullptr) {
  const std::int64_t B = w.size(0), n = w.size(1), p = w.size(2) / K;
  const auto x = prim::cast(w, DType::f64).to_vector<double>();
  auto at = [&](std::int64_t b, std::int64_t j, std::int64_t k, std::int64_t i) {
    return x[static_cast<std::size_t>(((b * n + j) * K + k) * p + i)];
  };
  std::vector<double> y(x.size()), pi(static_cast<std::size_t>(B * n * K));
  for (std::int64_t b = 0; b < B; ++b) {
    // energies
    std::vector<double> e(static_cast<std::size_t>(n * K), 0.0);
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t i = 0; i < p; ++i) {
        double col = 0.0, run = 0.0;
        for (std::int64_t j = 0; j < n; ++j) col += at(b, j, k, i) * at(b, j, k, i);
        for (std::int64_t j = 0; j < n; ++j) {
          const double s = at(b, j, k, i) * at(b, j, k, i);
          run += s;
          double term = s;                                                   // paper: raw
          if (form == 0) term = s / std::pow(std::max(std::sqrt(col), 1e-12), 2);  // coded: normalised
          if (form == 2) term = s / std::max(run, 1e-12) + beta[static_cast<std::size_t>(k * beta_stride + j)];
          e[static_cast<std::size_t>(j * K + k)] += term;
        }
      }
    for (std::int64_t j = 0; j < n; ++j) {
      double mx = -1e300, z = 0.0;
      for (std::int64_t k = 0; k < K; ++k) mx = std::max(mx, temp[k] * e[j * K + k]);
      for (std::int64_t k = 0; k < K; ++k) z += std::exp(temp[k] * e[j * K + k] - mx);
      for (std::int64_t k = 0; k < K; ++k)
        pi[static_cast<std::size_t>((b * n + j) * K + k)] = std::exp(temp[k] * e[j * K + k] - mx) / z;
    }
    auto P = [&](std::int64_t j, std::int64_t k) { return pi[static_cast<std::size_t>((b * n + j) * K + k)]; };
    for (std::int64_t k = 0; k < K; ++k)
      for (std::int64_t i = 0; i < p; ++i) {
        double num = 0.0, den = 0.0;
        for (std::int64_t j = 0; j < n; ++j) num += P(j, k) * at(b, j, k, i) * at(b, j, k, i), den += P(j, k);
        double run_num = 0.0, run_den = 0.0;
        for (std::int64_t j = 0; j < n; ++j) {
          run_num += P(j, k) * at(b, j, k, i) * at(b, j, k, i);
          run_den += P(j, k);
          const double m = form == 2 ? run_num / (run_den + 1e-8) : num / (den + 1e-8);
          const double scale = form == 1 ? -(step / static_cast<double>(n)) * gain / (1.0 + gain * m) : -1.0 / (1.0 + m);
          y[static_cast<std::size_t>(((b * n + j) * K + k) * p + i)] = scale * P(j, k) * at(b, j, k, i);
        }
      }
  }
  if (pi_out != nullptr) *pi_out = pi;
  return y;
}

Tensor temps(const std::vector<double>& t) { return f64(t, {static_cast<std::int64_t>(t.size())}); }

}  // namespace

BOOST_AUTO_TEST_SUITE(tssa_op)

BOOST_AUTO_TEST_CASE(coded_forward_hand_computed) {
  // B = 1, n = 2 tokens, K = 2 heads of p = 1: W = [[1, 1], [1, 2]] (token rows), temp = (1, 2).
  // Head 0's column (1, 1) has norm^2 2, head 1's (1, 2) has 5: energies token 0 (1/2, 1/5), token 1
  // (1/2, 4/5); logits (1/2, 2/5) and (1/2, 8/5). Pi_0 = softmax(1/2, 2/5), Pi_1 = softmax(1/2, 8/5).
  // m_k = (Pi_0k W_0k^2 + Pi_1k W_1k^2) / (Pi_0k + Pi_1k + 1e-8); Y_jk = -Pi_jk W_jk / (1 + m_k).
  const Tensor w = f64({1, 1, 1, 2}, {1, 2, 2});
  Tensor pi;
  const Tensor y = ops::tssa(w, temps({1, 2}), 2, {}, &pi);
  const double a0 = 1 / (1 + std::exp(-0.1)), a1 = 1 / (1 + std::exp(1.1));  // Pi_00, Pi_10
  const double P[2][2] = {{a0, 1 - a0}, {a1, 1 - a1}}, W[2][2] = {{1, 1}, {1, 2}};
  double m[2];
  for (int k = 0; k < 2; ++k)
    m[k] = (P[0][k] * W[0][k] * W[0][k] + P[1][k] * W[1][k] * W[1][k]) / (P[0][k] + P[1][k] + 1e-8);
  BOOST_TEST(wbtest::allclose(pi, {P[0][0], P[0][1], P[1][0], P[1][1]}, 1e-15, 0));
  BOOST_TEST(wbtest::allclose(y, {-P[0][0] / (1 + m[0]), -P[0][1] / (1 + m[1]), -P[1][0] / (1 + m[0]),
                                  -2 * P[1][1] / (1 + m[1])}, 1e-15, 0));
  // the numbers themselves: Pi_00 = 0.52497918747894, m_0 = 1 - 1e-8 (both tokens have W^2 = 1)
  BOOST_TEST(std::abs(a0 - 0.52497918747894) < 1e-13);
  BOOST_TEST(std::abs(m[0] - 1.0) < 1e-7);
}

BOOST_AUTO_TEST_CASE(paper_form_hand_computed) {
  // The same W, temp = 1 / (2 eta) = (1, 2) on the raw ||W_k[j]||^2: logits token 0 (1, 2), token 1
  // (1, 8); c = gain = 2, tau = step = 3, n = 2: Y_jk = -(3 / 2) Pi_jk W_jk 2 / (1 + 2 m_k).
  const Tensor w = f64({1, 1, 1, 2}, {1, 2, 2});
  ops::TssaOptions o;
  o.form = ops::TssaForm::paper;
  o.gain = 2;
  o.step = 3;
  Tensor pi;
  const Tensor y = ops::tssa(w, temps({1, 2}), 2, o, &pi);
  const double a0 = 1 / (1 + std::exp(1.0)), a1 = 1 / (1 + std::exp(7.0));
  const double P[2][2] = {{a0, 1 - a0}, {a1, 1 - a1}}, W[2][2] = {{1, 1}, {1, 2}};
  std::vector<double> want;
  for (int j = 0; j < 2; ++j)
    for (int k = 0; k < 2; ++k) {
      const double m = (P[0][k] * W[0][k] * W[0][k] + P[1][k] * W[1][k] * W[1][k]) / (P[0][k] + P[1][k] + 1e-8);
      want.push_back(-1.5 * P[j][k] * W[j][k] * 2 / (1 + 2 * m));
    }
  BOOST_TEST(wbtest::allclose(pi, {P[0][0], P[0][1], P[1][0], P[1][1]}, 1e-15, 0));
  BOOST_TEST(wbtest::allclose(y, want, 1e-15, 0));
}

BOOST_AUTO_TEST_CASE(causal_forward_hand_computed) {
  // W = [[1, 1], [1, 2]], temp (1, 2), beta[1][1] = 0.5 (else 0). t = 0: W^2 / S = 1 in both heads,
  // logits (1, 2). t = 1: S = (2, 5), W^2 / S = (1/2, 4/5), plus beta (0, 1/2): logits (1/2, 2.6).
  // m_{k,0} = W_0k^2 Pi_0k / (Pi_0k + 1e-8); m_{k,1} = sum_{s<=1} Pi_sk W_sk^2 / (Pi_0k + Pi_1k + 1e-8).
  const Tensor w = f64({1, 1, 1, 2}, {1, 2, 2});
  const Tensor beta = f64({0, 0, 0, 0, 0.5, 0}, {2, 3});  // T_max = 3 > n
  Tensor pi;
  const Tensor y = ops::causal_tssa(w, temps({1, 2}), beta, 2, &pi);
  const double a0 = 1 / (1 + std::exp(1.0)), a1 = 1 / (1 + std::exp(2.1));
  const double P[2][2] = {{a0, 1 - a0}, {a1, 1 - a1}}, W[2][2] = {{1, 1}, {1, 2}};
  std::vector<double> want;
  for (int j = 0; j < 2; ++j)
    for (int k = 0; k < 2; ++k) {
      double num = 0, den = 0;
      for (int s = 0; s <= j; ++s) num += P[s][k] * W[s][k] * W[s][k], den += P[s][k];
      want.push_back(-P[j][k] * W[j][k] / (1 + num / (den + 1e-8)));
    }
  BOOST_TEST(wbtest::allclose(pi, {P[0][0], P[0][1], P[1][0], P[1][1]}, 1e-15, 0));
  BOOST_TEST(wbtest::allclose(y, want, 1e-15, 0));
}

BOOST_AUTO_TEST_CASE(matches_scalar_loops_on_random_input) {
  const Tensor w = randn({2, 7, 12}, 81);
  const std::vector<double> t{0.7, 1.3, -0.4};
  ops::TssaOptions paper;
  paper.form = ops::TssaForm::paper;
  paper.gain = 4.0;
  paper.step = 0.5;
  BOOST_TEST(wbtest::allclose(ops::tssa(w, temps(t), 3), tssa_loops(w, t, 3, 0, 1, 1), 1e-13, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::tssa(w, temps(t), 3, paper), tssa_loops(w, t, 3, 1, 4.0, 0.5), 1e-13, 1e-12));
  const Tensor beta = randn({3, 9, 1}, 82);
  BOOST_TEST(wbtest::allclose(ops::causal_tssa(w, temps(t), beta, 3),
                              tssa_loops(w, t, 3, 2, 1, 1, beta.to_vector<double>(), 9), 1e-13, 1e-12));
}

BOOST_AUTO_TEST_CASE(gradcheck_f64_all_forms) {
  ops::TssaOptions paper;
  paper.form = ops::TssaForm::paper;
  paper.gain = 3.0;
  paper.step = 2.0;
  wbtest::check_grad([](const TV& x) { return ops::tssa(x[0], x[1], 2); },
                     {param(randn({2, 5, 6}, 83)), param(randn({2, 1}, 84))});
  wbtest::check_grad([&](const TV& x) { return ops::tssa(x[0], x[1], 2, paper); },
                     {param(randn({2, 5, 6}, 85)), param(randn({2}, 86))});
  wbtest::check_grad([](const TV& x) { return ops::causal_tssa(x[0], x[1], x[2], 2); },
                     {param(randn({2, 5, 6}, 87)), param(randn({2}, 88)), param(randn({2, 6, 1}, 89))});
  // the assignment itself is differentiable too (a loss on Pi reaches w and temp)
  wbtest::check_grad([](const TV& x) {
    Tensor pi;
    (void)ops::tssa(x[0], x[1], 3, {}, &pi);
    return pi;
  }, {param(randn({1, 4, 6}, 90)), param(randn({3}, 91))});
}

BOOST_AUTO_TEST_CASE(permuting_tokens_permutes_the_output) {
  const std::int64_t n = 9;
  const Tensor w = randn({2, n, 8}, 92), t = temps({0.5, 2.0});
  Generator g(93);
  const auto perm = g.permutation(n);
  const Tensor idx = Tensor::from_vector(std::vector<std::int64_t>(perm.begin(), perm.end()), {n});
  for (auto form : {ops::TssaForm::coded, ops::TssaForm::paper}) {
    ops::TssaOptions o;
    o.form = form;
    Tensor pi, pi_p;
    const Tensor y = ops::tssa(w, t, 2, o, &pi);
    const Tensor yp = ops::tssa(prim::index_select(w, 1, idx), t, 2, o, &pi_p);
    BOOST_TEST(wbtest::allclose(yp, prim::index_select(y, 1, idx), 1e-14, 1e-13));
    BOOST_TEST(wbtest::allclose(pi_p, prim::index_select(pi, 1, idx), 1e-14, 1e-13));
  }
  // control: the causal form is not permutation equivariant
  const Tensor beta = Tensor::zeros({2, n}, DType::f64);
  const Tensor c = ops::causal_tssa(w, t, beta, 2), cp = ops::causal_tssa(prim::index_select(w, 1, idx), t, beta, 2);
  BOOST_TEST(!wbtest::allclose(cp, prim::index_select(c, 1, idx), 1e-6, 1e-6));
}

BOOST_AUTO_TEST_CASE(causal_output_ignores_later_tokens) {
  const std::int64_t n = 10, t0 = 5;
  const Tensor w = randn({2, n, 6}, 94), t = temps({1.0, -0.5, 2.0}), beta = randn({3, 16}, 95);
  Tensor w2 = prim::clone(w);
  prim::copy_(prim::slice(w2, 1, t0 + 1, n), randn({2, n - t0 - 1, 6}, 96));  // change tokens after t0
  const Tensor y = ops::causal_tssa(w, t, beta, 3), y2 = ops::causal_tssa(w2, t, beta, 3);
  BOOST_TEST(wbtest::allclose(prim::slice(y2, 1, 0, t0 + 1), prim::slice(y, 1, 0, t0 + 1), 0, 0));  // bit for bit
  BOOST_TEST(!wbtest::allclose(prim::slice(y2, 1, t0 + 1, n), prim::slice(y, 1, t0 + 1, n), 1e-6, 1e-6));
  // control: the vision form at t0 does see the later tokens
  BOOST_TEST(!wbtest::allclose(prim::slice(ops::tssa(w2, t, 3), 1, 0, t0 + 1),
                               prim::slice(ops::tssa(w, t, 3), 1, 0, t0 + 1), 1e-6, 1e-6));
  // and the gradient of position t0 reaches no later token
  Tensor a = param(prim::clone(w));
  autograd::backward(ops::sum(ops::slice(ops::causal_tssa(a, t, beta, 3), 1, t0, t0 + 1)));
  const Tensor later = prim::slice(a.grad(), 1, t0 + 1, n);
  BOOST_TEST(prim::sum_all(prim::unary(prim::Unary::abs, later)) == 0.0);
  BOOST_TEST(prim::sum_all(prim::unary(prim::Unary::abs, prim::slice(a.grad(), 1, 0, t0 + 1))) > 0.0);
}

BOOST_AUTO_TEST_CASE(assignment_sums_to_one_over_heads) {
  const Tensor w = prim::unary(prim::Unary::mul_scalar, randn({3, 11, 12}, 97), 5.0);
  const Tensor t = temps({3.0, -1.0, 0.2, 8.0});
  Tensor pi_c, pi_p, pi_causal;
  ops::TssaOptions paper;
  paper.form = ops::TssaForm::paper;
  (void)ops::tssa(w, t, 4, {}, &pi_c);
  (void)ops::tssa(w, t, 4, paper, &pi_p);
  (void)ops::causal_tssa(w, t, randn({4, 11}, 98), 4, &pi_causal);
  for (const Tensor& pi : {pi_c, pi_p, pi_causal}) {
    BOOST_TEST((pi.shape() == Shape{3, 11, 4}));
    BOOST_TEST(wbtest::allclose(prim::sum(pi, {2}), Tensor::ones({3, 11}, DType::f64), 1e-14, 0));
    BOOST_TEST(prim::sum_all(prim::unary(prim::Unary::gt_scalar, prim::unary(prim::Unary::neg, pi), 0.0)) == 0.0);
  }
}

BOOST_AUTO_TEST_CASE(memory_grows_linearly_with_tokens) {
  // Peak tensor bytes of a forward and backward at n and 4 n (d = 64, K = 4, f32): linear growth (a
  // ratio near 4, where an n x n buffer would give 16) and a small multiple of the activations.
  auto peak = [](std::int64_t n, bool causal) {
    const Tensor w = param(prim::cast(randn({1, n, 64}, 99), DType::f32));
    const Tensor t = param(Tensor::ones({4}, DType::f32)), beta = param(Tensor::zeros({4, n}, DType::f32));
    release_cached_host_memory();
    reset_peak_host_memory();
    const std::int64_t live0 = host_memory_stats().live_bytes;
    {
      const Tensor y = causal ? ops::causal_tssa(w, t, beta, 4) : ops::tssa(w, t, 4);
      autograd::backward(ops::sum(y));
    }
    return static_cast<double>(host_memory_stats().peak_bytes - live0);
  };
  for (bool causal : {false, true}) {
    const double act = 1024.0 * 64 * 4, small = peak(1024, causal), large = peak(4096, causal);
    BOOST_TEST(large / small < 4.6, (causal ? "causal" : "vision") << ": peak " << small << " -> " << large);
    BOOST_TEST(large / (4 * act) < 40.0, (causal ? "causal" : "vision") << ": peak " << large / (4 * act) << " x activations");
  }
}

BOOST_AUTO_TEST_CASE(bad_input_named) {
  const Tensor w = randn({1, 3, 6}, 100);
  wbtest::check_error([&] { return ops::tssa(w, temps({1, 1}), 4); }, {"tssa", "heads"});
  wbtest::check_error([&] { return ops::tssa(w, temps({1, 1, 1}), 2); }, {"tssa", "temp"});
  wbtest::check_error([&] { return ops::causal_tssa(w, temps({1, 1}), Tensor::zeros({2, 2}, DType::f64), 2); },
                      {"causal_tssa", "T_max"});
}

BOOST_AUTO_TEST_SUITE_END()
