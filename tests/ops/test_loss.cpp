// cross_entropy (label smoothing, ignore_index, (B, N, C) logits) and mse.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::ids;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;
// Row [1, 2, 3]: logsumexp = 3 + ln(1 + e^-1 + e^-2) = 3.40760596444438, softmax = [kS0, kS1, kS2]
// (derived in op_testing.hpp). Row [0, 0, 0]: log-probabilities -ln 3, softmax 1/3 each.
using wbtest::kLse;
using wbtest::kS0;
using wbtest::kS1;
using wbtest::kS2;
constexpr double kLn3 = 1.0986122886681098;

// Reference by loops over rows of (R, C): mean over kept rows of -sum_c q_c log_softmax_c.
double naive_ce(const std::vector<double>& x, const std::vector<std::int64_t>& t, std::int64_t c, std::int64_t ignore,
                double s) {
  double total = 0;
  int kept = 0;
  for (std::size_t r = 0; r < t.size(); ++r) {
    if (t[r] == ignore) continue;
    double se = 0;
    for (std::int64_t k = 0; k < c; ++k) se += std::exp(x[r * c + k]);
    for (std::int64_t k = 0; k < c; ++k) {
      const double q = (k == t[r] ? 1 - s : 0) + s / static_cast<double>(c);
      total -= q * (x[r * c + k] - std::log(se));
    }
    ++kept;
  }
  return kept > 0 ? total / kept : 0.0;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(loss)

BOOST_AUTO_TEST_CASE(cross_entropy_by_hand) {
  const Tensor logits = f64({1, 2, 3, 0, 0, 0}, {2, 3});
  // -log softmax[2] of row 0 = lse - 3; row 1 = ln 3
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, ids({2, 0}, {2})), {(kLse - 3 + kLn3) / 2}, 1e-14, 1e-14));
  // ignored rows leave the mean: only row 0 counts (default ignore_index -100, then a custom one)
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, ids({2, -100}, {2})), {kLse - 3}, 1e-14, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, ids({2, 1}, {2}), 1), {kLse - 3}, 1e-14, 1e-14));
  // label smoothing 0.1, C = 3: row loss -(0.9 lp_t + 0.1/3 sum_c lp_c); sum of row 0's lp is 6 - 3 lse,
  // and row 1 stays ln 3 because its lp is the same for every class
  const double row0 = -(0.9 * (3 - kLse) + 0.1 / 3 * (6 - 3 * kLse));
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, ids({2, 0}, {2}), -100, 0.1), {(row0 + kLn3) / 2}, 1e-14, 1e-14));
  // every row ignored: loss 0, not NaN
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, ids({-100, -100}, {2})), {0.0}));
}

BOOST_AUTO_TEST_CASE(cross_entropy_gradients_by_hand) {
  // dlogits = (softmax - q) / M over the M kept rows, 0 on ignored rows
  Tensor x = param(f64({1, 2, 3, 0, 0, 0}, {2, 3}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::cross_entropy(x, ids({2, 0}, {2})), x),
                              {kS0 / 2, kS1 / 2, (kS2 - 1) / 2, (1. / 3 - 1) / 2, 1. / 6, 1. / 6}, 1e-15, 1e-13));
  BOOST_TEST(wbtest::allclose(grad_of(ops::cross_entropy(x, ids({2, -100}, {2})), x), {kS0, kS1, kS2 - 1, 0, 0, 0}, 1e-15,
                              1e-13));
  // smoothing 0.3: q = 0.7 onehot + 0.1
  BOOST_TEST(wbtest::allclose(grad_of(ops::cross_entropy(x, ids({-100, 1}, {2}), -100, 0.3), x),
                              {0, 0, 0, 1. / 3 - 0.1, 1. / 3 - 0.8, 1. / 3 - 0.1}, 1e-15, 1e-13));
  // a scaled loss scales the gradient: d(2.5 L) = 2.5 dL
  BOOST_TEST(wbtest::allclose(grad_of(ops::cross_entropy(x, ids({2, -100}, {2})) * 2.5, x),
                              {2.5 * kS0, 2.5 * kS1, 2.5 * (kS2 - 1), 0, 0, 0}, 1e-15, 1e-13));
}

BOOST_AUTO_TEST_CASE(cross_entropy_bnc_logits) {
  // (B, N, C) = (2, 3, 4) logits with (B, N) targets: the mean over all B*N kept tokens
  const Tensor logits = randn({2, 3, 4}, 1, DType::f64, 2.0);
  const std::vector<std::int64_t> t = {3, 0, 1, -100, 2, 2};
  const auto lv = logits.to_vector<double>();
  for (double s : {0.0, 0.2}) {
    const Tensor loss = ops::cross_entropy(logits, ids(t, {2, 3}), -100, s);
    BOOST_TEST(loss.numel() == 1);
    BOOST_TEST(wbtest::allclose(loss, {naive_ce(lv, t, 4, -100, s)}, 1e-13, 1e-13));
  }
}

BOOST_AUTO_TEST_CASE(cross_entropy_gradchecks) {
  auto ce = [](Tensor target, std::int64_t ignore, double s) {
    return [=](const V& in) { return ops::cross_entropy(in[0], target, ignore, s); };
  };
  wbtest::check_grad(ce(ids({0, 4, 2, 2}, {4}), -100, 0.0), {param(randn({4, 5}, 2, DType::f64, 2.0))});
  wbtest::check_grad(ce(ids({0, 4, -100, 2}, {4}), -100, 0.1), {param(randn({4, 5}, 3, DType::f64, 2.0))});
  wbtest::check_grad(ce(ids({1, 3, 3, 0, 2, 1}, {2, 3}), 3, 0.25), {param(randn({2, 3, 4}, 4, DType::f64, 2.0))});
  // through a transposed (non-contiguous) logits view, and with large logits
  wbtest::check_grad([](const V& in) { return ops::cross_entropy(ops::transpose(in[0], 0, 1), ids({1, 0, 2}, {3})); },
                     {param(randn({3, 3}, 5))});
  wbtest::check_grad(ce(ids({1, 0}, {2}), -100, 0.1), {param(prim::unary(prim::Unary::add_scalar, randn({2, 3}, 6), 900))});
}

BOOST_AUTO_TEST_CASE(mse_by_hand_and_gradcheck) {
  // a = [1, 2, 3], b = [1, 0, 5]: diff [0, 2, -2], mean square 8/3; da = 2 diff / 3, db = -da
  Tensor a = param(f64({1, 2, 3}, {3})), b = param(f64({1, 0, 5}, {3}));
  const Tensor y = ops::mse(a, b);
  BOOST_TEST(wbtest::allclose(y, {8.0 / 3}, 1e-15, 1e-15));
  autograd::backward(y);
  BOOST_TEST(wbtest::allclose(a.grad(), {0, 4.0 / 3, -4.0 / 3}, 1e-15, 1e-15));
  BOOST_TEST(wbtest::allclose(b.grad(), {0, -4.0 / 3, 4.0 / 3}, 1e-15, 1e-15));
  wbtest::check_grad([](const V& t) { return ops::mse(t[0], t[1]); }, {param(randn({3, 4}, 7)), param(randn({3, 4}, 8))});
  const Tensor target = randn({3, 4}, 9);
  wbtest::check_grad([&](const V& t) { return ops::mse(t[0], target); }, {param(randn({3, 4}, 10))});
  wbtest::check_grad([&](const V& t) { return ops::mse(target, t[0]); }, {param(randn({3, 4}, 11))});
  // fan-out: mse(x, 2x) = mean(x^2), gradient 2x / n
  Tensor x = param(f64({1, -3}, {2}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::mse(x, x * 2.0), x), {1, -3}, 1e-15, 1e-15));
  wbtest::check_grad([](const V& t) { return ops::mse(ops::transpose(t[0], 0, 1), ops::tanh(t[1])); },
                     {param(randn({4, 3}, 12)), param(randn({3, 4}, 13))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  wbtest::check_f32_matches_f64([](const V& t) { return ops::cross_entropy(t[0], ids({1, 3, 0}, {3}), -100, 0.1); },
                                {randn({3, 5}, 14, DType::f64, 3.0)});
  wbtest::check_f32_matches_f64([](const V& t) { return ops::mse(t[0], t[1]); }, {randn({4, 5}, 15), randn({4, 5}, 16)});
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({2, 3}, 17);
  wbtest::check_error([&] { return ops::cross_entropy(x, ids({0, 3}, {2})); }, {"cross_entropy", "3", "outside"});
  wbtest::check_error([&] { return ops::cross_entropy(x, ids({0, -1}, {2})); }, {"cross_entropy", "-1"});
  wbtest::check_error([&] { return ops::cross_entropy(x, ids({0, 1, 2}, {3})); }, {"cross_entropy", "[3]"});
  wbtest::check_error([&] { return ops::cross_entropy(x, ids({0, 1}, {2, 1})); }, {"cross_entropy", "[2, 1]"});
  // (B, N, C) logits with targets of the right count but the wrong shape
  wbtest::check_error([&] { return ops::cross_entropy(randn({2, 3, 4}, 20), ids({0, 1, 2, 3, 0, 1}, {3, 2})); },
                      {"cross_entropy", "[2, 3, 4]", "[3, 2]"});
  wbtest::check_error([&] { return ops::cross_entropy(x, f64({0, 1}, {2})); }, {"cross_entropy", "f64"});
  wbtest::check_error([&] { return ops::cross_entropy(x, ids({0, 1}, {2}), -100, 1.5); }, {"cross_entropy", "1.5"});
  wbtest::check_error([&] { return ops::mse(x, randn({3, 2}, 18)); }, {"mse", "[2, 3]", "[3, 2]"});
  wbtest::check_error([&] { return ops::mse(x, randn({2, 3}, 19, DType::f32)); }, {"mse", "f32"});
}

BOOST_AUTO_TEST_SUITE_END()
