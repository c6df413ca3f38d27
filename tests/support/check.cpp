#include "tests/support/check.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wbtest {

boost::test_tools::predicate_result allclose(const Tensor& actual, const std::vector<double>& expected, double atol,
                                             double rtol) {
  const auto a = actual.to_vector<double>();
  boost::test_tools::predicate_result res(true);
  if (a.size() != expected.size()) {
    res = false;
    res.message() << fmt::format("size mismatch: actual {} ({} values) vs {} expected values",
                                 wb::shape_str(actual.shape()), a.size(), expected.size());
    return res;
  }
  double max_abs = 0.0, max_rel = 0.0;
  std::size_t worst = 0, bad = 0;
  std::string pairs;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double err = std::abs(a[i] - expected[i]);
    const bool ok = err <= atol + rtol * std::abs(expected[i]);
    if (!ok || std::isnan(a[i]) != std::isnan(expected[i])) {
      if (bad < 5) pairs += fmt::format(" [{}] {:.9g} vs {:.9g};", i, a[i], expected[i]);
      ++bad;
    }
    if (err > max_abs || std::isnan(err)) {
      max_abs = err;
      worst = i;
    }
    max_rel = std::max(max_rel, err / std::max(std::abs(expected[i]), 1e-300));
  }
  if (bad > 0) {
    res = false;
    res.message() << fmt::format("{} of {} values differ (atol {}, rtol {}); max abs err {:.3g} at flat index {}, max rel "
                                 "err {:.3g}; first:{}",
                                 bad, a.size(), atol, rtol, max_abs, worst, max_rel, pairs);
  }
  return res;
}

boost::test_tools::predicate_result allclose(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  if (actual.shape() != expected.shape()) {
    boost::test_tools::predicate_result res(false);
    res.message() << fmt::format("shape mismatch: {} vs {}", wb::shape_str(actual.shape()), wb::shape_str(expected.shape()));
    return res;
  }
  return allclose(actual, expected.to_vector<double>(), atol, rtol);
}

Tensor randn(const Shape& shape, std::uint64_t seed, DType dtype, double scale) {
  wb::Generator g(seed);
  Tensor t = Tensor::empty(shape, dtype);
  wb::prim::normal_(t, 0.0, scale, g);
  return t;
}

Tensor uniform(const Shape& shape, std::uint64_t seed, double lo, double hi, DType dtype) {
  wb::Generator g(seed);
  Tensor t = Tensor::empty(shape, dtype);
  wb::prim::uniform_(t, lo, hi, g);
  return t;
}

Tensor param(Tensor t) {
  t.requires_grad_();
  return t;
}

void check_grad(const wb::autograd::TensorFn& f, const std::vector<Tensor>& inputs,
                wb::autograd::GradcheckOptions options) {
  const auto r = wb::autograd::gradcheck(f, inputs, options);
  BOOST_TEST(r.ok, r.message());
  BOOST_TEST(r.checked > 0, "gradcheck checked no values");
}

void check_grad_direction(const wb::autograd::TensorFn& f, const std::vector<Tensor>& inputs,
                          wb::autograd::GradcheckOptions options) {
  const auto r = wb::autograd::gradcheck_direction(f, inputs, options);
  BOOST_TEST(r.ok, r.message());
}

}  // namespace wbtest
