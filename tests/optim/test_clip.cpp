// Gradient-norm clipping with PyTorch semantics and the non-finite checks.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "ops/optim/optim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

struct Fixture {
  // gradients [3, 4] and [[12]]: total norm sqrt(9 + 16 + 144) = 13
  Tensor a = wbtest::param(Tensor::zeros({2}, DType::f64));
  Tensor b = wbtest::param(Tensor::zeros({1, 1}, DType::f64));
  Tensor c = wbtest::param(Tensor::zeros({3}, DType::f64));  // no gradient
  Fixture() {
    a.set_grad(Tensor::from_vector(std::vector<double>{3, 4}, {2}));
    b.set_grad(Tensor::from_vector(std::vector<double>{12}, {1, 1}));
  }
  std::vector<Tensor> params() const { return {a, c, b}; }
};


}  // namespace

BOOST_AUTO_TEST_SUITE(clip)

BOOST_AUTO_TEST_CASE(above_threshold_scales_to_max_norm) {
  Fixture f;
  BOOST_TEST(optim::grad_norm(f.params()) == 13.0);
  const double norm = optim::clip_grad_norm_(f.params(), 6.5);
  BOOST_TEST(norm == 13.0);  // the norm before clipping
  const double coef = 6.5 / (13.0 + 1e-6);  // PyTorch's max_norm / (norm + 1e-6)
  BOOST_TEST(wbtest::allclose(f.a.grad(), {3 * coef, 4 * coef}, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(f.b.grad(), {12 * coef}, 1e-15, 0.0));
  BOOST_TEST(optim::grad_norm(f.params()) == 6.5, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(!f.c.grad().defined());
}

BOOST_AUTO_TEST_CASE(below_threshold_is_a_no_op) {
  Fixture f;
  BOOST_TEST(optim::clip_grad_norm_(f.params(), 20.0) == 13.0);
  BOOST_TEST(wbtest::allclose(f.a.grad(), {3, 4}, 0.0, 0.0));  // bit for bit
  BOOST_TEST(wbtest::allclose(f.b.grad(), {12}, 0.0, 0.0));
  // exactly at the threshold the 1e-6 makes the coefficient just below 1: PyTorch scales too
  optim::clip_grad_norm_(f.params(), 13.0);
  BOOST_TEST(f.b.grad().item() < 12.0);
  BOOST_TEST(f.b.grad().item() == 12.0 * 13.0 / (13.0 + 1e-6), boost::test_tools::tolerance(1e-15));
}

BOOST_AUTO_TEST_CASE(f32_gradients) {
  Tensor p = wbtest::param(Tensor::zeros({4}, DType::f32));
  p.set_grad(Tensor::from_vector(std::vector<float>{1, 1, 1, 1}, {4}));  // norm 2
  BOOST_TEST(optim::clip_grad_norm_({p}, 1.0) == 2.0);
  const double g = 1.0 / (2.0 + 1e-6);  // 0.49999975, to f32 precision
  BOOST_TEST(wbtest::allclose(p.grad(), {g, g, g, g}, 6e-8, 0.0));
}

BOOST_AUTO_TEST_CASE(non_finite_norm_throws_naming_the_parameter) {
  for (const double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    Fixture f;
    f.b.set_grad(Tensor::from_vector(std::vector<double>{bad}, {1, 1}));
    try {
      optim::clip_grad_norm_(f.params(), 1.0);
      BOOST_FAIL("a non-finite gradient norm must throw");
    } catch (const std::runtime_error& e) {
      BOOST_TEST(wbtest::contains(e.what(), "non-finite"), e.what());
      BOOST_TEST(wbtest::contains(e.what(), "parameter 2 of 3, shape [1, 1]"), e.what());
    }
    BOOST_TEST(wbtest::allclose(f.a.grad(), {3, 4}, 0.0, 0.0));  // nothing was scaled
  }
}

BOOST_AUTO_TEST_CASE(non_finite_norm_can_be_returned_instead) {
  Fixture f;
  f.a.set_grad(Tensor::from_vector(std::vector<double>{std::numeric_limits<double>::quiet_NaN(), 1}, {2}));
  const double norm = optim::clip_grad_norm_(f.params(), 1.0, optim::OnNonFinite::return_norm);
  BOOST_TEST(std::isnan(norm));
  BOOST_TEST(wbtest::allclose(f.b.grad(), {12}, 0.0, 0.0));  // left untouched, not turned into nan
  BOOST_TEST(std::isnan(optim::grad_norm(f.params())));
}

BOOST_AUTO_TEST_CASE(check_finite_names_what_it_checked) {
  BOOST_CHECK_NO_THROW(optim::check_finite(2.5, "loss"));
  try {
    optim::check_finite(std::nan(""), "loss at step 7");
    BOOST_FAIL("nan must throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(wbtest::contains(e.what(), "non-finite loss at step 7"), e.what());
  }
  BOOST_CHECK_THROW(optim::check_finite(-std::numeric_limits<double>::infinity(), "loss"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(bad_max_norm_is_refused) {
  Fixture f;
  BOOST_CHECK_THROW(optim::clip_grad_norm_(f.params(), 0.0), std::invalid_argument);
  BOOST_CHECK_THROW(optim::clip_grad_norm_(f.params(), -1.0), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
