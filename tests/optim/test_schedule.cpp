// Learning-rate schedules: linear warmup + cosine to a floor, and the official CRATE per-epoch factor.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <numbers>

#include "ops/optim/optim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

BOOST_AUTO_TEST_SUITE(schedule)

BOOST_AUTO_TEST_CASE(warmup_cosine_values) {
  // base 1, W = 10, T = 110, floor 0.1: warmup lr = (t + 1) / 10, then
  // lr = 0.1 + 0.9 * 0.5 * (1 + cos(pi (t - 10) / 100))
  const optim::Schedule s({.base_lr = 1.0, .warmup = 10, .total = 110, .min_lr = 0.1});
  const auto tol = boost::test_tools::tolerance(1e-12);
  BOOST_TEST(s.lr(0) == 0.1, tol);   // warmup start: base / W
  BOOST_TEST(s.lr(4) == 0.5, tol);   // warmup midpoint
  BOOST_TEST(s.lr(9) == 1.0, tol);   // warmup end reaches base
  BOOST_TEST(s.lr(10) == 1.0, tol);  // cosine start
  BOOST_TEST(s.lr(35) == 0.1 + 0.45 * (1 + std::sqrt(0.5)), tol);  // a quarter: cos(pi / 4)
  BOOST_TEST(s.lr(60) == 0.55, tol);                               // the midpoint: halfway to the floor
  BOOST_TEST(s.lr(109) == 0.1 + 0.45 * (1 + std::cos(std::numbers::pi * 0.99)), tol);
  BOOST_TEST(s.lr(110) == 0.1, tol);  // the end: the floor
  BOOST_TEST(s.lr(500) == 0.1, tol);  // and it stays there
  BOOST_TEST(s.factor(60) == 0.55, tol);
  // monotone: up during warmup, down after
  for (std::int64_t t = 1; t < 10; ++t) BOOST_TEST(s.lr(t) > s.lr(t - 1));
  for (std::int64_t t = 11; t <= 110; ++t) BOOST_TEST(s.lr(t) < s.lr(t - 1));
}

BOOST_AUTO_TEST_CASE(no_warmup_starts_at_base) {
  const optim::Schedule s({.base_lr = 2e-3, .warmup = 0, .total = 4});
  const auto tol = boost::test_tools::tolerance(1e-12);
  BOOST_TEST(s.lr(0) == 2e-3, tol);
  BOOST_TEST(s.lr(2) == 1e-3, tol);  // 0.5 (1 + cos(pi / 2)) = 0.5
  BOOST_TEST(s.lr(4) == 0.0);
}

BOOST_AUTO_TEST_CASE(crate_official_per_epoch_factor) {
  // factor(e) = min((e + 1) / 20, 0.5 (1 + cos(pi e / 150)))   (CRATE main.py, 20 warmup epochs)
  const auto tol = boost::test_tools::tolerance(1e-12);
  auto cosine = [](double e) { return 0.5 * (1 + std::cos(std::numbers::pi * e / 150)); };
  BOOST_TEST(optim::crate_lambda(0, 20, 150) == 0.05, tol);
  BOOST_TEST(optim::crate_lambda(9, 20, 150) == 0.5, tol);
  BOOST_TEST(optim::crate_lambda(18, 20, 150) == 0.95, tol);  // 0.95 < cosine(18) = 0.9649
  // at e = 19 the warmup term is 1 but the cosine has already fallen to 0.9609: the min takes it
  BOOST_TEST(optim::crate_lambda(19, 20, 150) == cosine(19), tol);
  BOOST_TEST(optim::crate_lambda(19, 20, 150) < 0.97);
  BOOST_TEST(optim::crate_lambda(75, 20, 150) == 0.5, tol);  // the midpoint of the cosine
  BOOST_TEST(optim::crate_lambda(149, 20, 150) == cosine(149), tol);
  BOOST_TEST(optim::crate_lambda(150, 20, 150) == 0.0, tol);  // the end
  BOOST_TEST(optim::crate_lambda(170, 20, 150) == 0.0, tol);  // clamped past the end

  const optim::Schedule s({.kind = optim::ScheduleKind::crate_official, .base_lr = 2.4e-4, .warmup = 5, .total = 150});
  BOOST_TEST(s.lr(0) == 2.4e-4 / 5, tol);
  BOOST_TEST(s.lr(4) == 2.4e-4 * cosine(4), tol);  // min(1, 0.9982)
  BOOST_TEST(s.factor(75) == 0.5, tol);
}

BOOST_AUTO_TEST_CASE(apply_scales_every_group) {
  Tensor a = wbtest::param(Tensor::ones({1}, DType::f64));
  Tensor b = wbtest::param(Tensor::ones({1}, DType::f64));
  optim::Lion lion({{.params = {a}, .lr = 1e-3}, {.params = {b}, .lr = 1e-4}});
  const optim::Schedule s({.base_lr = 1e-3, .warmup = 4, .total = 20});
  const auto tol = boost::test_tools::tolerance(1e-12);
  BOOST_TEST(s.apply(lion, 1) == 5e-4, tol);  // (1 + 1) / 4 of base
  BOOST_TEST(lion.lr(0) == 5e-4, tol);
  BOOST_TEST(lion.lr(1) == 5e-5, tol);  // the second group keeps its 1/10 ratio
  s.apply(lion, 20);
  BOOST_TEST(lion.lr(0) == 0.0);
  BOOST_TEST(lion.lr(1) == 0.0);
}

BOOST_AUTO_TEST_CASE(bad_configs_are_refused) {
  using K = optim::ScheduleKind;
  BOOST_CHECK_THROW(optim::Schedule({.base_lr = 1, .warmup = 5, .total = 4}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::Schedule({.base_lr = 1, .warmup = -1, .total = 4}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::Schedule({.base_lr = 1, .total = 0}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::Schedule({.base_lr = 1, .total = 4, .min_lr = 2}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::Schedule({.kind = K::crate_official, .base_lr = 1, .warmup = 0, .total = 4}),
                    std::invalid_argument);
  BOOST_CHECK_THROW(optim::Schedule({.kind = K::crate_official, .base_lr = 1, .warmup = 1, .total = 4, .min_lr = 0.1}),
                    std::invalid_argument);
  const optim::Schedule ok({.base_lr = 1, .warmup = 4, .total = 4});  // warmup only, then the floor
  BOOST_TEST(ok.lr(3) == 1.0);
  BOOST_TEST(ok.lr(4) == 0.0);
  BOOST_CHECK_THROW(ok.lr(-1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
