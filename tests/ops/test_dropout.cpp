// Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p) from the given Generator.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

BOOST_AUTO_TEST_SUITE(dropout)

BOOST_AUTO_TEST_CASE(mask_statistics) {
  // n = 200000 ones at p = 0.3: every value is 0 or 1 / 0.7; the dropped fraction is 0.3 within
  // 5 standard deviations, sqrt(p (1 - p) / n) = 0.001025 each.
  const std::int64_t n = 200000;
  for (double p : {0.1, 0.3, 0.7}) {
    Generator g(42);
    const auto y = ops::dropout(Tensor::ones({n}, DType::f64), p, true, g).to_vector<double>();
    std::int64_t zeros = 0, others = 0;
    for (double v : y) {
      if (v == 0.0) ++zeros;
      else if (std::abs(v - 1.0 / (1.0 - p)) > 1e-12) ++others;
    }
    BOOST_TEST(others == 0);
    const double frac = static_cast<double>(zeros) / static_cast<double>(n);
    BOOST_TEST(std::abs(frac - p) < 5 * std::sqrt(p * (1 - p) / static_cast<double>(n)), "p " << p << " dropped " << frac);
  }
  // the mask is not one block: in 1000 values at p = 0.5 (f32 this time) both kinds appear in every
  // window of 100 (kept ~ Binomial(100, 0.5): outside (20, 80) has probability ~1e-9)
  Generator g(7);
  const auto y = ops::dropout(Tensor::ones({1000}, DType::f32), 0.5, true, g).to_vector<double>();
  for (std::size_t w = 0; w < 1000; w += 100) {
    int kept = 0;
    for (std::size_t i = w; i < w + 100; ++i) kept += y[i] != 0.0;
    BOOST_TEST((kept > 20 && kept < 80), "window " << w << " kept " << kept);
  }
}

BOOST_AUTO_TEST_CASE(identity_in_eval_and_at_p_zero) {
  Tensor x = param(randn({3, 4}, 1));
  Generator g(1);
  const auto before = g.state();
  for (const Tensor& y : {ops::dropout(x, 0.5, false, g), ops::dropout(x, 0.0, true, g)}) {
    BOOST_TEST(wbtest::allclose(y, x, 0.0, 0.0));
    // the gradient passes unchanged
    BOOST_TEST(wbtest::allclose(grad_of(ops::sum(y * 2.0), x), Tensor::full({3, 4}, 2.0, DType::f64), 0.0, 0.0));
  }
  // evaluation draws nothing from the generator
  BOOST_TEST((g.state().s == before.s));
}

BOOST_AUTO_TEST_CASE(gradient_is_the_scaled_mask) {
  // dx = dy * m / (1 - p); recover m / (1 - p) from the forward as y / x (x has no zeros).
  const double p = 0.4;
  Tensor x = param(wbtest::away_from(randn({6, 7}, 2), 0.0, 0.5));
  Generator g(3);
  const Tensor y = ops::dropout(x, p, true, g);
  const Tensor seed = randn({6, 7}, 4);
  const auto dx = grad_of(y, x, seed).to_vector<double>();
  const auto yv = y.to_vector<double>(), xv = x.to_vector<double>(), sv = seed.to_vector<double>();
  int dropped = 0;
  for (std::size_t i = 0; i < yv.size(); ++i) {
    const double m = yv[i] / xv[i];  // 0 or 1 / (1 - p)
    BOOST_TEST((std::abs(m) < 1e-12 || std::abs(m - 1.0 / (1.0 - p)) < 1e-12), "mask value " << m);
    BOOST_TEST(std::abs(dx[i] - sv[i] * m) < 1e-12);
    dropped += std::abs(m) < 1e-12;
  }
  BOOST_TEST((dropped > 0 && dropped < 42));  // the check saw both kinds
  // gradcheck with the same mask on every evaluation (a fresh generator per call)
  wbtest::check_grad(
      [](const std::vector<Tensor>& t) {
        Generator fixed(5);
        return ops::dropout(t[0], 0.25, true, fixed);
      },
      {param(randn({4, 5}, 6))});
}

BOOST_AUTO_TEST_CASE(seeded_reproducibility) {
  const Tensor x = randn({50}, 7);
  Generator g1(11), g2(11), g3(12);
  const Tensor a = ops::dropout(x, 0.5, true, g1);
  BOOST_TEST(wbtest::allclose(a, ops::dropout(x, 0.5, true, g2), 0.0, 0.0));
  // a different seed and the next draw of the same generator give different masks
  BOOST_TEST(!wbtest::allclose(a, ops::dropout(x, 0.5, true, g3), 0.0, 0.0));
  BOOST_TEST(!wbtest::allclose(a, ops::dropout(x, 0.5, true, g1), 0.0, 0.0));
  // f32 and f64 draw the same mask from the same seed
  Generator h1(13), h2(13);
  const Tensor m64 = ops::dropout(Tensor::ones({64}, DType::f64), 0.5, true, h1);
  const Tensor m32 = ops::dropout(Tensor::ones({64}, DType::f32), 0.5, true, h2);
  BOOST_TEST(wbtest::allclose(prim::cast(m32, DType::f64), m64, 0.0, 0.0));
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  Generator g(1);
  const Tensor x = randn({3}, 8);
  wbtest::check_error([&] { return ops::dropout(x, 1.0, true, g); }, {"dropout", "p = 1"});
  wbtest::check_error([&] { return ops::dropout(x, -0.1, true, g); }, {"dropout"});
  wbtest::check_error([&] { return ops::dropout(x, std::nan(""), true, g); }, {"dropout"});
  wbtest::check_error([&] { return ops::dropout(wbtest::ids({1, 2}, {2}), 0.5, true, g); }, {"dropout", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()
