// Helpers shared by the op tests (tests/ops/test_*.cpp):
//   f64(values, shape) / ids(values, shape)   literal f64 / i64 tensors
//   away_from(x, c, gap)                       moves every element of x at least `gap` away from c
//                                              (samples for relu, abs, soft_threshold: house style 18)
//   spaced(shape, seed, gap)                   distinct values at least `gap` apart (no ties for max)
//   positive(shape, seed)                      uniform in [0.5, 2] (samples for log, sqrt, pow)
//   iota(shape)                                0, 1, 2, ... in f64, row-major
//   kS0, kS1, kS2, kLse                        softmax([1, 2, 3]) and logsumexp([1, 2, 3])
//   grad_of(y, x, seed)                        x.grad() after backward(y, seed), x's old grad cleared
//   check_error(f, {fragments})                f throws std::invalid_argument whose message contains
//                                              every fragment (the op name first)
//   check_f32_matches_f64(f, inputs)           f on f32 copies of the inputs agrees with f in f64
//   check_f32_grads_match_f64(f, inputs)       the same for the gradients of sum(f(inputs) * R)
#pragma once

#include <boost/test/unit_test.hpp>

#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

#include "autograd/engine.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

namespace wbtest {

inline Tensor f64(const std::vector<double>& values, const Shape& shape) { return Tensor::from_vector(values, shape); }
inline Tensor ids(const std::vector<std::int64_t>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape);
}

inline Tensor away_from(const Tensor& x, double c, double gap) {
  // y = x + gap * sign(x), so |y| >= gap, then shifted to c.
  using wb::prim::Unary;
  const Tensor pushed = wb::prim::binary(wb::prim::Binary::add, x,
                                         wb::prim::unary(Unary::mul_scalar, wb::prim::unary(Unary::sign, x), gap));
  return wb::prim::unary(Unary::add_scalar, pushed, c);
}

// A random permutation of 0, gap, 2 gap, ... shaped as `shape` (f64).
inline Tensor spaced(const Shape& shape, std::uint64_t seed, double gap = 0.25) {
  wb::Generator g(seed);
  const auto perm = g.permutation(wb::numel_of(shape));
  std::vector<double> v(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) v[i] = gap * static_cast<double>(perm[i]) - 1.0;
  return Tensor::from_vector(v, shape);
}

inline wb::Tensor positive(const wb::Shape& s, std::uint64_t seed) { return uniform(s, seed, 0.5, 2.0); }
inline wb::Tensor iota(const wb::Shape& shape) {
  return wb::prim::reshape(wb::Tensor::arange(wb::numel_of(shape), wb::DType::f64), shape);
}

// softmax([1, 2, 3]) = [1, e, e^2] / (1 + e + e^2), with e = 2.718281828459045, e^2 = 7.38905609893065:
//   1 + e + e^2 = 11.107337927389695 -> [0.09003057317038046, 0.24472847105479764, 0.6652409557748219]
// log_softmax = x - logsumexp(x), logsumexp([1, 2, 3]) = 3 + ln(1 + e^-1 + e^-2) = 3.40760596444438
constexpr double kS0 = 0.09003057317038046, kS1 = 0.24472847105479764, kS2 = 0.6652409557748219;
constexpr double kLse = 3.40760596444438;

inline Tensor grad_of(const Tensor& y, const Tensor& x, const Tensor& seed = Tensor()) {
  if (x.grad().defined()) x.zero_grad();
  wb::autograd::backward(y, seed);
  return x.grad();
}

template <class F>
void check_error(F&& f, std::initializer_list<std::string> fragments) {
  BOOST_CHECK_THROW(f(), std::invalid_argument);
  try {
    f();
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    for (const auto& frag : fragments)
      BOOST_TEST(msg.find(frag) != std::string::npos, "message '" << msg << "' does not mention '" << frag << "'");
  }
}

template <class F>
void check_f32_matches_f64(F&& f, const std::vector<Tensor>& inputs, double atol = 1e-5, double rtol = 1e-4) {
  std::vector<Tensor> in32;
  for (const auto& t : inputs)
    in32.push_back(t.defined() && t.dtype() == DType::f64 ? wb::prim::cast(t, DType::f32) : t);
  const Tensor y64 = f(inputs);
  const Tensor y32 = f(in32);
  BOOST_TEST(y32.dtype() == DType::f32);
  BOOST_TEST(allclose(wb::prim::cast(y32, DType::f64), y64, atol, rtol));
}

template <class F>
void check_f32_grads_match_f64(F&& f, const std::vector<Tensor>& inputs, double atol = 1e-5, double rtol = 1e-4) {
  std::vector<Tensor> in64, in32;
  for (const auto& t : inputs) {
    in64.push_back(param(wb::prim::clone(t)));
    in32.push_back(param(wb::prim::cast(t, DType::f32)));
  }
  const Tensor y64 = f(in64);
  const Tensor seed = randn(y64.shape(), 77);
  wb::autograd::backward(y64, seed);
  wb::autograd::backward(f(in32), wb::prim::cast(seed, DType::f32));
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    BOOST_TEST_CONTEXT("input " << i) {
      BOOST_TEST(in32[i].grad().dtype() == DType::f32);
      BOOST_TEST(allclose(wb::prim::cast(in32[i].grad(), DType::f64), in64[i].grad(), atol, rtol));
    }
  }
}

}  // namespace wbtest
