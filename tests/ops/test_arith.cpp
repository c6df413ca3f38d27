#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using wbtest::param;
using wbtest::randn;

BOOST_AUTO_TEST_SUITE(arith)

BOOST_AUTO_TEST_CASE(forward_values) {
  const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2});
  const Tensor b = Tensor::from_vector(std::vector<double>{10, 20}, {2});
  BOOST_TEST(wbtest::allclose(a + b, {11, 22, 13, 24}));
  BOOST_TEST(wbtest::allclose(a - b, {-9, -18, -7, -16}));
  BOOST_TEST(wbtest::allclose(a * b, {10, 40, 30, 80}));
  BOOST_TEST(wbtest::allclose(a / b, {0.1, 0.1, 0.3, 0.2}));
  BOOST_TEST(wbtest::allclose(-a, {-1, -2, -3, -4}));
  BOOST_TEST(wbtest::allclose(2.0 - a * 0.5, {1.5, 1, 0.5, 0}));
}

BOOST_AUTO_TEST_CASE(gradcheck_with_broadcasting) {
  const Tensor a = param(randn({3, 4}, 1));
  const Tensor b = param(randn({4}, 2));
  const Tensor c = param(randn({3, 1}, 3));
  wbtest::check_grad([](const std::vector<Tensor>& x) { return x[0] + x[1]; }, {a, b});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return x[0] - x[1]; }, {a, c});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return x[0] * x[1]; }, {a, b});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return x[0] / ops::add_scalar(ops::abs(x[1]), 1.0); }, {a, c});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return -x[0] * 3.0 + 1.0; }, {a});
}

BOOST_AUTO_TEST_SUITE_END()
