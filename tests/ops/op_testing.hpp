// Helpers shared by the op tests (tests/ops/test_*.cpp):
//   f64(values, shape) / ids(values, shape)   literal f64 / i64 tensors
//   away_from(x, c, gap)                       moves every element of x at least `gap` away from c
//                                              (samples for relu, abs, soft_threshold: house style 18)
//   spaced(shape, seed, gap)                   distinct values at least `gap` apart (no ties for max)
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
