// sum, mean, max over one or several axes, with and without keepdim; argmax.
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
using Axes = std::vector<std::int64_t>;
// x[i][j][k] = 1 + 6i + 2j + k for shape (2, 3, 2): the values 1..12 in row-major order.
Tensor iota12() { return f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 3, 2}); }
}  // namespace

BOOST_AUTO_TEST_SUITE(reduce)

BOOST_AUTO_TEST_CASE(sum_values) {
  const Tensor x = iota12();
  BOOST_TEST(wbtest::allclose(ops::sum(x), {78}));  // 12 * 13 / 2
  BOOST_TEST(ops::sum(x).dim() == 0);
  // axis 0: x[0][j][k] + x[1][j][k] = 2 + 12 + 4j + 2k
  BOOST_TEST(wbtest::allclose(ops::sum(x, {0}), {8, 10, 12, 14, 16, 18}));
  // axis 1: sum_j (1 + 6i + 2j + k) = 3 + 18i + 6 + 3k
  BOOST_TEST(wbtest::allclose(ops::sum(x, {1}), {9, 12, 27, 30}));
  BOOST_TEST(wbtest::allclose(ops::sum(x, {-1}), {3, 7, 11, 15, 19, 23}));
  const Tensor s02 = ops::sum(x, {0, 2}, true);
  BOOST_TEST((s02.shape() == Shape{1, 3, 1}));
  BOOST_TEST(wbtest::allclose(s02, {1 + 2 + 7 + 8, 3 + 4 + 9 + 10, 5 + 6 + 11 + 12}));
  BOOST_TEST((ops::sum(x, {2, 0}).shape() == Shape{3}));
  BOOST_TEST((ops::sum(x, {}, true).shape() == Shape{1, 1, 1}));
  // over a transposed view: transpose(x, 0, 2)[k][j][i] summed over its last axis = sum over i
  BOOST_TEST(wbtest::allclose(ops::sum(ops::transpose(x, 0, 2), {2}), {8, 12, 16, 10, 14, 18}));
}

BOOST_AUTO_TEST_CASE(mean_values) {
  const Tensor x = iota12();
  BOOST_TEST(wbtest::allclose(ops::mean(x), {6.5}));
  BOOST_TEST(wbtest::allclose(ops::mean(x, {1}), {3, 4, 9, 10}));
  const Tensor m = ops::mean(x, {0, -1}, true);  // (1 + 2 + 7 + 8) / 4, ...
  BOOST_TEST((m.shape() == Shape{1, 3, 1}));
  BOOST_TEST(wbtest::allclose(m, {4.5, 6.5, 8.5}));
  BOOST_TEST(wbtest::allclose(ops::mean(x, {0, 1}), {6, 7}));
}

BOOST_AUTO_TEST_CASE(max_values) {
  const Tensor x = f64({3, 9, 2, -1, 5, 0, 7, 1, 4, 8, -2, 6}, {2, 3, 2});
  // axis 1 of x[i]: i=0 rows [3,9],[2,-1],[5,0] -> [5, 9]; i=1 rows [7,1],[4,8],[-2,6] -> [7, 8]
  BOOST_TEST(wbtest::allclose(ops::max(x, 1), {5, 9, 7, 8}));
  BOOST_TEST((ops::argmax(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{2, 0, 0, 1}));
  const Tensor k = ops::max(x, -1, true);
  BOOST_TEST((k.shape() == Shape{2, 3, 1}));
  BOOST_TEST(wbtest::allclose(k, {9, 2, 5, 7, 8, 6}));
  BOOST_TEST(wbtest::allclose(ops::max(x, 0), {7, 9, 4, 8, 5, 6}));
}

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  Tensor x = param(iota12());
  const Tensor seed = f64({1, 2, 3, 4}, {2, 2});
  // sum over axis 1: dx[i][j][k] = seed[i][k] for every j
  BOOST_TEST(wbtest::allclose(grad_of(ops::sum(x, {1}), x, seed), {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  // mean over axis 1 divides by 3
  BOOST_TEST(wbtest::allclose(grad_of(ops::mean(x, {1}), x, seed),
                              {1. / 3, 2. / 3, 1. / 3, 2. / 3, 1. / 3, 2. / 3, 1, 4. / 3, 1, 4. / 3, 1, 4. / 3}));
  // mean of everything: 1/12 each
  const auto g = grad_of(ops::mean(x), x).to_vector<double>();
  BOOST_TEST(wbtest::allclose(f64(g, {12}), std::vector<double>(12, 1.0 / 12)));
  // max over axis 1 routes the seed to the argmax (rows 2, 0 for i = 0 and 0, 1 for i = 1)
  Tensor y = param(f64({3, 9, 2, -1, 5, 0, 7, 1, 4, 8, -2, 6}, {2, 3, 2}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::max(y, 1), y, seed), {0, 2, 0, 0, 1, 0, 3, 0, 0, 4, 0, 0}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::max(y, 1, true), y, f64({1, 2, 3, 4}, {2, 1, 2})),
                              {0, 2, 0, 0, 1, 0, 3, 0, 0, 4, 0, 0}));
}

BOOST_AUTO_TEST_CASE(gradchecks_every_axis_set) {
  const Tensor x = param(randn({2, 3, 4}, 1));
  const std::vector<Axes> axis_sets = {{}, {0}, {1}, {2}, {-1}, {0, 1}, {0, 2}, {1, 2}, {2, 0}, {0, 1, 2}};
  for (const auto& axes : axis_sets)
    for (bool keep : {false, true}) {
      BOOST_TEST_CONTEXT("axes size " << axes.size() << " keepdim " << keep) {
        wbtest::check_grad([&](const V& t) { return ops::sum(t[0], axes, keep); }, {x});
        wbtest::check_grad([&](const V& t) { return ops::mean(t[0], axes, keep); }, {x});
      }
    }
  // distinct values 0.25 apart, so +-eps never changes the argmax
  const Tensor s = param(wbtest::spaced({2, 3, 4}, 2));
  for (std::int64_t axis : {0, 1, 2, -1})
    for (bool keep : {false, true})
      wbtest::check_grad([&](const V& t) { return ops::max(t[0], axis, keep); }, {s});
}

BOOST_AUTO_TEST_CASE(fan_out_and_views) {
  // y = x - mean(x) (x used twice); softmax-free centering: gradient sums to zero per row
  wbtest::check_grad([](const V& t) { return t[0] - ops::mean(t[0], {-1}, true); }, {param(randn({3, 4}, 3))});
  wbtest::check_grad([](const V& t) { return t[0] * ops::sum(t[0], {0}) + ops::max(t[0], 1, true); },
                     {param(wbtest::spaced({3, 4}, 4))});
  wbtest::check_grad([](const V& t) { return ops::sum(ops::transpose(t[0], 0, 2), {0, 1}); }, {param(randn({2, 3, 4}, 5))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const V in = {randn({3, 4, 5}, 6)};
  wbtest::check_f32_matches_f64([](const V& t) { return ops::sum(t[0], {0, 2}); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::mean(t[0], {1}, true); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::max(t[0], 2); }, in);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({2, 3}, 7);
  wbtest::check_error([&] { return ops::sum(x, {2}); }, {"sum", "axis 2"});
  wbtest::check_error([&] { return ops::mean(x, {-3}); }, {"mean", "axis -3"});
  wbtest::check_error([&] { return ops::max(x, 5); }, {"max", "axis 5"});
  wbtest::check_error([&] { return ops::max(Tensor::zeros({2, 0}, DType::f64), 1); }, {"max", "empty"});
  wbtest::check_error([&] { return ops::sum(wbtest::ids({1, 2}, {2})); }, {"sum", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cumsum_op)

BOOST_AUTO_TEST_CASE(forward_hand_computed_both_directions) {
  // rows (1, 2, 3) and (4, 5, 6) of a (2, 3) tensor; along axis 1 and axis 0, forward and reversed
  const Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  BOOST_TEST(wbtest::allclose(ops::cumsum(x, 1), {1, 3, 6, 4, 9, 15}, 0, 0));
  BOOST_TEST(wbtest::allclose(ops::cumsum(x, 1, true), {6, 5, 3, 15, 11, 6}, 0, 0));
  BOOST_TEST(wbtest::allclose(ops::cumsum(x, 0), {1, 2, 3, 5, 7, 9}, 0, 0));
  BOOST_TEST(wbtest::allclose(ops::cumsum(x, -2, true), {5, 7, 9, 4, 5, 6}, 0, 0));
  // a strided view (the transpose) is summed along its own axes
  BOOST_TEST(wbtest::allclose(ops::cumsum(ops::transpose(x, 0, 1), 1), {1, 5, 2, 7, 3, 9}, 0, 0));
}

BOOST_AUTO_TEST_CASE(gradcheck_f64) {
  wbtest::check_grad([](const V& x) { return ops::cumsum(x[0], 1); }, {param(randn({2, 5, 3}, 71))});
  wbtest::check_grad([](const V& x) { return ops::cumsum(x[0], 2, true); }, {param(randn({2, 5, 3}, 72))});
  // the backward of a forward running sum is the reversed running sum of dy
  Tensor a = param(randn({4}, 73));
  const Tensor g = grad_of(ops::cumsum(a, 0), a, f64({1, 10, 100, 1000}, {4}));
  BOOST_TEST(wbtest::allclose(g, {1111, 1110, 1100, 1000}, 0, 0));
}

BOOST_AUTO_TEST_CASE(bad_axis_named) {
  wbtest::check_error([] { return ops::cumsum(f64({1, 2}, {2}), 3); }, {"cumsum"});
}

BOOST_AUTO_TEST_SUITE_END()
