// The vector exp behind the float softmax kernels (tensor/cpu/simd.hpp) against exact exp.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "tensor/cpu/simd.hpp"

namespace simd = wb::cpu::simd;

BOOST_AUTO_TEST_SUITE(simd_exp)

BOOST_AUTO_TEST_CASE(relative_error_within_two_ulp_on_the_whole_range) {
  // every 1e-4 step over [-87, 88]: normal results, the range softmax and log_softmax use
  double worst = 0, worst_x = 0;
  float xs[simd::W];
  for (double lo = -87.0; lo < 88.0; lo += simd::W * 1e-4) {
    for (int l = 0; l < simd::W; ++l) xs[l] = static_cast<float>(lo + l * 1e-4);
    const simd::f32v y = simd::exp(simd::load(xs));
    for (int l = 0; l < simd::W; ++l) {
      const double want = std::exp(static_cast<double>(xs[l]));
      const double rel = std::abs(static_cast<double>(y[l]) - want) / want;
      if (rel > worst) worst = rel, worst_x = xs[l];
    }
  }
  BOOST_TEST_MESSAGE("simd::exp worst relative error " << worst << " at x = " << worst_x);
  BOOST_TEST(worst < 2.0 * std::ldexp(1.0, -23), "worst relative error " << worst << " at x = " << worst_x);
}

BOOST_AUTO_TEST_CASE(special_values) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float xs[simd::W] = {0.0f, -0.0f, 1.0f, -1.0f, -inf, nan, -1e30f, -200.0f,
                             88.0f, -87.0f, 0.5f, 2.0f, -2.0f, 10.0f, -10.0f, 0.25f};
  const simd::f32v y = simd::exp(simd::load(xs));
  BOOST_TEST(y[0] == 1.0f);  // e^0 exactly
  BOOST_TEST(y[1] == 1.0f);
  BOOST_TEST(std::abs(y[2] - 2.718281828f) < 3e-7f);
  BOOST_TEST(std::abs(y[3] - 0.3678794412f) < 1e-7f);
  BOOST_TEST(y[4] == 0.0f);  // a -inf mask gives exactly 0
  BOOST_TEST(std::isnan(y[5]));
  BOOST_TEST(y[6] == 0.0f);
  BOOST_TEST(y[7] == 0.0f);
  BOOST_TEST(std::abs(y[8] / 1.6516362549940018e38 - 1.0) < 2e-7);  // e^88, just below FLT_MAX
  for (int l = 9; l < simd::W; ++l) {
    const double want = std::exp(static_cast<double>(xs[l]));
    BOOST_TEST(std::abs(y[l] - want) / want < 2.4e-7, "exp(" << xs[l] << ") = " << y[l] << ", want " << want);
  }
}

BOOST_AUTO_TEST_SUITE_END()
