// index_select, gather, masked_fill and embedding (indices are i64 and get no gradient).
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::ids;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;
using wbtest::iota;
}  // namespace

BOOST_AUTO_TEST_SUITE(index_ops)

BOOST_AUTO_TEST_CASE(forward_values) {
  const Tensor x = iota({3, 4});  // x[i][j] = 4i + j
  BOOST_TEST(wbtest::allclose(ops::index_select(x, 0, ids({2, 0, 2}, {3})), {8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  BOOST_TEST(wbtest::allclose(ops::index_select(x, -1, ids({3, 1}, {2})), {3, 1, 7, 5, 11, 9}));
  // gather along axis 1: y[i][j] = x[i][idx[i][j]]
  BOOST_TEST(wbtest::allclose(ops::gather(x, 1, ids({0, 0, 3, 2, 1, 1}, {3, 2})), {0, 0, 7, 6, 9, 9}));
  // gather along axis 0: y[i][j] = x[idx[i][j]][j]
  BOOST_TEST(wbtest::allclose(ops::gather(x, 0, ids({2, 1, 0, 2}, {1, 4})), {8, 5, 2, 11}));
  // masked_fill with a broadcast row mask (1, 4) = [1, 0, 0, 1] and an i64 mask of x's shape
  BOOST_TEST(wbtest::allclose(ops::masked_fill(x, f64({1, 0, 0, 1}, {1, 4}), -5),
                              {-5, 1, 2, -5, -5, 5, 6, -5, -5, 9, 10, -5}));
  BOOST_TEST(wbtest::allclose(ops::masked_fill(iota({2, 2}), ids({0, 1, 1, 0}, {2, 2}), 7), {0, 7, 7, 3}));
  // embedding: W (4, 2), W[v] = [2v, 2v + 1]; ids (2, 2) = [[3, 0], [1, 3]] -> (2, 2, 2)
  const Tensor e = ops::embedding(iota({4, 2}), ids({3, 0, 1, 3}, {2, 2}));
  BOOST_TEST((e.shape() == Shape{2, 2, 2}));
  BOOST_TEST(wbtest::allclose(e, {6, 7, 0, 1, 2, 3, 6, 7}));
  // the same ids as a transposed view of [[3, 1], [0, 3]]
  BOOST_TEST(wbtest::allclose(ops::embedding(iota({4, 2}), ops::transpose(ids({3, 1, 0, 3}, {2, 2}), 0, 1)), e, 0.0, 0.0));
}

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  // index_select with a repeated index accumulates: rows [2, 0, 2], seed 1 -> row 2 gets 2, row 0 gets 1
  Tensor x = param(iota({3, 2}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::index_select(x, 0, ids({2, 0, 2}, {3})), x, Tensor::ones({3, 2}, DType::f64)),
                              {1, 1, 0, 0, 2, 2}));
  // gather along axis 1 with idx [[0, 0], [1, 0], [1, 1]] and seed [[1, 2], [3, 4], [5, 6]]
  BOOST_TEST(wbtest::allclose(grad_of(ops::gather(x, 1, ids({0, 0, 1, 0, 1, 1}, {3, 2})), x, f64({1, 2, 3, 4, 5, 6}, {3, 2})),
                              {3, 0, 4, 3, 0, 11}));
  // masked_fill passes the seed where the mask is 0
  BOOST_TEST(wbtest::allclose(grad_of(ops::masked_fill(x, f64({0, 1}, {2}), 9.0), x, f64({1, 2, 3, 4, 5, 6}, {3, 2})),
                              {1, 0, 3, 0, 5, 0}));
  // embedding with repeated ids [[1, 1], [3, 1]] and seed 1 per (position, feature): dW[1] = 3, dW[3] = 1
  Tensor w = param(iota({4, 3}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::embedding(w, ids({1, 1, 3, 1}, {2, 2})), w, Tensor::ones({2, 2, 3}, DType::f64)),
                              {0, 0, 0, 3, 3, 3, 0, 0, 0, 1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(gradchecks) {
  const Tensor x = param(randn({3, 4, 2}, 1));
  const Tensor rep = ids({1, 3, 1, 0, 1}, {5});
  for (std::int64_t axis : {0, 1, 2}) {
    const Tensor idx = axis == 1 ? rep : ids({1, 0, 1}, {3});
    wbtest::check_grad([&](const V& t) { return ops::index_select(t[0], axis, idx); }, {x});
  }
  // gather along each axis with repeated positions
  wbtest::check_grad([](const V& t) { return ops::gather(t[0], 0, ids({2, 2, 0, 1, 1, 1, 0, 2}, {1, 4, 2})); }, {x});
  wbtest::check_grad([](const V& t) { return ops::gather(t[0], 1, ids({3, 3, 0, 1, 2, 2, 1, 0, 0, 3, 3, 2}, {3, 2, 2})); }, {x});
  wbtest::check_grad([](const V& t) { return ops::gather(t[0], -1, ids(std::vector<std::int64_t>(24, 1), {3, 4, 2})); }, {x});
  wbtest::check_grad([](const V& t) { return ops::masked_fill(t[0], f64({1, 0, 0, 1, 0, 1, 1, 0}, {4, 2}), -4.0); }, {x});
  wbtest::check_grad([](const V& t) { return ops::embedding(t[0], ids({0, 4, 4, 2, 1, 4}, {3, 2})); }, {param(randn({5, 3}, 2))});
  // index_select through a non-contiguous view, and fan-out: the selected rows multiply x itself
  wbtest::check_grad([](const V& t) { return ops::index_select(ops::transpose(t[0], 0, 1), 0, ids({2, 2, 0}, {3})) * t[0]; },
                     {param(randn({3, 3}, 3))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const V in = {randn({4, 3}, 4)};
  wbtest::check_f32_matches_f64([](const V& t) { return ops::index_select(t[0], 0, ids({3, 1, 3}, {3})); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::gather(t[0], 1, ids({2, 0, 1, 1}, {4, 1})); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::masked_fill(t[0], f64({0, 1, 0}, {3}), 2.5); }, in);
  wbtest::check_f32_matches_f64([](const V& t) { return ops::embedding(t[0], ids({0, 3}, {2})); }, in);
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({3, 4}, 5);
  wbtest::check_error([&] { return ops::index_select(x, 0, ids({0, 3}, {2})); }, {"index_select", "3", "out of range"});
  wbtest::check_error([&] { return ops::index_select(x, 1, ids({-1}, {1})); }, {"index_select", "-1"});
  wbtest::check_error([&] { return ops::index_select(x, 0, f64({0, 1}, {2})); }, {"index_select", "i64"});
  wbtest::check_error([&] { return ops::index_select(x, 2, ids({0}, {1})); }, {"index_select", "axis 2"});
  wbtest::check_error([&] { return ops::gather(x, 1, ids({0, 4, 0}, {3, 1})); }, {"gather", "4", "out of range"});
  wbtest::check_error([&] { return ops::gather(x, 1, ids({0, 1}, {2, 1})); }, {"gather", "[2, 1]", "[3, 4]"});
  wbtest::check_error([&] { return ops::masked_fill(x, f64({1, 0}, {2}), 0.0); }, {"masked_fill", "[2]"});
  wbtest::check_error([&] { return ops::masked_fill(x, Tensor::zeros({2, 3, 4}), 0.0); }, {"masked_fill", "[2, 3, 4]", "[3, 4]"});
  wbtest::check_error([&] { return ops::embedding(x, ids({0, 3}, {2})); }, {"embedding", "3", "out of range"});
  wbtest::check_error([&] { return ops::embedding(x, f64({0, 1}, {2})); }, {"embedding", "i64"});
  wbtest::check_error([&] { return ops::embedding(randn({3}, 6), ids({0}, {1})); }, {"embedding", "(V, D)"});
}

BOOST_AUTO_TEST_SUITE_END()
