// reshape, permute, transpose, slice (with step), expand, unsqueeze, squeeze, contiguous, cast, concat.
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;
// 0, 1, ..., n-1 as f64 of `shape`.
using wbtest::iota;
}  // namespace

BOOST_AUTO_TEST_SUITE(shape_ops)

BOOST_AUTO_TEST_CASE(forward_values) {
  const Tensor x = iota({2, 3});  // [[0, 1, 2], [3, 4, 5]]
  const Tensor r = ops::reshape(x, {3, -1});
  BOOST_TEST((r.shape() == Shape{3, 2}));
  BOOST_TEST(wbtest::allclose(r, {0, 1, 2, 3, 4, 5}));
  BOOST_TEST(wbtest::allclose(ops::transpose(x, 0, 1), {0, 3, 1, 4, 2, 5}));
  // reshape of the transpose needs a copy: [[0, 3, 1], [4, 2, 5]]
  BOOST_TEST(wbtest::allclose(ops::reshape(ops::transpose(x, 0, 1), {2, 3}), {0, 3, 1, 4, 2, 5}));
  // permute (2, 3, 4) by [2, 0, 1]: y[k][i][j] = x[i][j][k] = 12i + 4j + k
  const Tensor p = ops::permute(iota({2, 3, 4}), {2, 0, 1});
  BOOST_TEST((p.shape() == Shape{4, 2, 3}));
  std::vector<double> want;
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) want.push_back(12 * i + 4 * j + k);
  BOOST_TEST(wbtest::allclose(p, want));
  // slices: [0..9][1:8:3] = [1, 4, 7]; [0..9][-3:] = [7, 8, 9]; columns 0 and 2 of x
  BOOST_TEST(wbtest::allclose(ops::slice(iota({10}), 0, 1, 8, 3), {1, 4, 7}));
  BOOST_TEST(wbtest::allclose(ops::slice(iota({10}), 0, -3, 10), {7, 8, 9}));
  BOOST_TEST(wbtest::allclose(ops::slice(x, 1, 0, 3, 2), {0, 2, 3, 5}));
  BOOST_TEST(wbtest::allclose(ops::expand(f64({1, 2}, {2, 1}), {2, 3}), {1, 1, 1, 2, 2, 2}));
  BOOST_TEST(wbtest::allclose(ops::expand(f64({1, 2}, {2}), {2, 2, 2}), {1, 2, 1, 2, 1, 2, 1, 2}));
  BOOST_TEST((ops::expand(f64({1, 2}, {2, 1}), {4, -1, 3}).shape() == Shape{4, 2, 3}));  // -1 keeps axis 1
  BOOST_CHECK_THROW(ops::expand(f64({1, 2}, {2}), {-1, 2}), std::invalid_argument);     // not on a new axis
  BOOST_TEST((ops::unsqueeze(x, 1).shape() == Shape{2, 1, 3}));
  BOOST_TEST((ops::unsqueeze(x, -1).shape() == Shape{2, 3, 1}));
  BOOST_TEST((ops::squeeze(iota({2, 1, 3}), 1).shape() == Shape{2, 3}));
  const Tensor c = ops::contiguous(ops::transpose(x, 0, 1));
  BOOST_TEST(c.is_contiguous());
  BOOST_TEST(wbtest::allclose(c, {0, 3, 1, 4, 2, 5}));
  const Tensor h = ops::cast(f64({0.5, -1.25, 3}, {3}), DType::f32);  // exactly representable in f32
  BOOST_TEST(h.dtype() == DType::f32);
  BOOST_TEST(wbtest::allclose(h, {0.5, -1.25, 3}, 0.0, 0.0));
  // concat [[0, 1, 2], [3, 4, 5]] with [[9], [8]] along axis 1, and with itself along axis 0
  BOOST_TEST(wbtest::allclose(ops::concat({x, f64({9, 8}, {2, 1})}, 1), {0, 1, 2, 9, 3, 4, 5, 8}));
  const Tensor v = ops::concat({x, x}, 0);
  BOOST_TEST((v.shape() == Shape{4, 3}));
  BOOST_TEST(wbtest::allclose(v, {0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5}));
}

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  // slice [1:6:2] of 6 values: seed [1, 2, 3] lands at 1, 3, 5
  Tensor x = param(iota({6}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::slice(x, 0, 1, 6, 2), x, f64({1, 2, 3}, {3})), {0, 1, 0, 2, 0, 3}));
  // expand (2, 1) -> (2, 3) sums the seed across each row
  Tensor e = param(f64({1, 2}, {2, 1}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::expand(e, {2, 3}), e, iota({2, 3})), {0 + 1 + 2, 3 + 4 + 5}));
  // transpose takes the seed back to x's layout
  Tensor t = param(iota({2, 3}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::transpose(t, 0, 1), t, iota({3, 2})), {0, 2, 4, 1, 3, 5}));
  // concat splits the seed: x gets its first two columns, y the last
  Tensor a = param(iota({2, 2})), b = param(iota({2, 1}));
  autograd::backward(ops::concat({a, b}, 1), iota({2, 3}));
  BOOST_TEST(wbtest::allclose(a.grad(), {0, 1, 3, 4}));
  BOOST_TEST(wbtest::allclose(b.grad(), {2, 5}));
  // cast: the gradient comes back in the input's dtype
  Tensor f = param(Tensor::from_vector(std::vector<float>{1, 2}, {2}));
  const Tensor gf = grad_of(ops::cast(f, DType::f64), f, f64({0.5, 4}, {2}));
  BOOST_TEST(gf.dtype() == DType::f32);
  BOOST_TEST(wbtest::allclose(gf, {0.5, 4}, 0.0, 0.0));
}

BOOST_AUTO_TEST_CASE(gradchecks) {
  const Tensor x = param(randn({2, 3, 4}, 1));
  auto check = [&](const autograd::TensorFn& f) { wbtest::check_grad(f, {x}); };
  check([](const V& t) { return ops::reshape(t[0], {4, -1}); });
  check([](const V& t) { return ops::reshape(ops::transpose(t[0], 0, 2), {12, 2}); });  // reshape that copies
  check([](const V& t) { return ops::permute(t[0], {2, 0, 1}); });
  check([](const V& t) { return ops::permute(t[0], {-1, 1, 0}); });
  check([](const V& t) { return ops::transpose(t[0], 0, -1); });
  check([](const V& t) { return ops::slice(t[0], 2, 1, 4, 2); });
  check([](const V& t) { return ops::slice(t[0], 1, -2, 3); });
  check([](const V& t) { return ops::slice(ops::slice(t[0], 0, 1, 2), 2, 0, 4, 3); });
  check([](const V& t) { return ops::unsqueeze(t[0], 0); });
  check([](const V& t) { return ops::squeeze(ops::slice(t[0], 0, 1, 2), 0); });
  check([](const V& t) { return ops::contiguous(ops::permute(t[0], {1, 2, 0})); });
  check([](const V& t) { return ops::concat({t[0], ops::square(t[0])}, 1); });  // fan-out through concat
  check([](const V& t) { return ops::concat({t[0], t[0]}, 0); });
  wbtest::check_grad([](const V& t) { return ops::expand(t[0], {2, 3, 4}); }, {param(randn({3, 1}, 2))});
  wbtest::check_grad([](const V& t) { return ops::expand(t[0], {2, 3, 4}); }, {param(randn({1, 3, 1}, 3))});
  wbtest::check_grad([](const V& t) { return ops::concat({t[0], t[1], t[2]}, -1); },
                     {param(randn({2, 1}, 4)), param(randn({2, 3}, 5)), param(randn({2, 2}, 6))});
  // a constant input among the concatenated ones gets no gradient and breaks nothing
  const Tensor k = randn({1, 3}, 7);
  wbtest::check_grad([&](const V& t) { return ops::concat({k, t[0], k}, 0); }, {param(randn({2, 3}, 8))});
  // cast f64 -> f32 -> f64 is the identity up to f32 rounding: a larger eps keeps the rounding
  // (~1e-7 relative) small against the step
  autograd::GradcheckOptions o;
  o.eps = 1e-2;
  wbtest::check_grad([](const V& t) { return ops::cast(ops::cast(t[0], DType::f32), DType::f64) * t[0]; },
                     {param(randn({3, 2}, 9))}, o);
}

BOOST_AUTO_TEST_CASE(fan_out_through_views) {
  // x and two views of it meet again: y = x + x^T (square) and a slice of x times x
  wbtest::check_grad([](const V& t) { return t[0] + ops::transpose(t[0], 0, 1); }, {param(randn({3, 3}, 10))});
  wbtest::check_grad([](const V& t) { return ops::slice(t[0], 1, 0, 4, 2) * ops::slice(t[0], 1, 1, 4, 2); },
                     {param(randn({3, 4}, 11))});
  wbtest::check_grad([](const V& t) { return ops::expand(t[0], {3, 3}) * ops::transpose(ops::expand(t[0], {3, 3}), 0, 1); },
                     {param(randn({1, 3}, 12))});
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({2, 3}, 13);
  wbtest::check_error([&] { return ops::reshape(x, {4, 2}); }, {"reshape", "[4, 2]"});
  wbtest::check_error([&] { return ops::permute(x, {0, 0}); }, {"permute", "repeated"});
  wbtest::check_error([&] { return ops::permute(x, {0}); }, {"permute"});
  wbtest::check_error([&] { return ops::transpose(x, 0, 2); }, {"transpose", "axis 2"});
  wbtest::check_error([&] { return ops::slice(x, 1, 0, 2, 0); }, {"slice", "step"});
  wbtest::check_error([&] { return ops::expand(x, {2, 4}); }, {"expand", "[2, 3]", "[2, 4]"});
  wbtest::check_error([&] { return ops::squeeze(x, 0); }, {"squeeze", "size 2"});
  wbtest::check_error([&] { return ops::unsqueeze(x, 4); }, {"unsqueeze", "axis 4"});
  wbtest::check_error([&] { return ops::concat({x, randn({3, 3}, 14)}, 1); }, {"concat", "[3, 3]"});
  wbtest::check_error([&] { return ops::concat({x, randn({2, 3}, 15, DType::f32)}, 0); }, {"concat", "f32"});
  wbtest::check_error([&] { return ops::concat({}, 0); }, {"concat"});
}

BOOST_AUTO_TEST_SUITE_END()
