// matmul: 2-D, batched, broadcast batch axes, transposed operands as views, the (B,N,K)@(K,N) fold.
#include <boost/test/unit_test.hpp>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;

// Reference by loops: a (..., M, K) @ b (..., K, N) with NumPy broadcasting of the batch axes.
Tensor naive_matmul(const Tensor& a, const Tensor& b) {
  const Shape ab(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  const Shape batch = broadcast_shapes(ab, bb, "naive_matmul");
  const std::int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  Shape as = batch, bs = batch, os = batch;
  as.insert(as.end(), {m, k});
  bs.insert(bs.end(), {k, n});
  os.insert(os.end(), {m, n});
  const auto av = prim::contiguous(prim::expand(a, as)).to_vector<double>();
  const auto bv = prim::contiguous(prim::expand(b, bs)).to_vector<double>();
  std::vector<double> c(static_cast<std::size_t>(numel_of(os)), 0.0);
  for (std::int64_t q = 0; q < numel_of(batch); ++q)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j)
        for (std::int64_t p = 0; p < k; ++p)
          c[static_cast<std::size_t>((q * m + i) * n + j)] +=
              av[static_cast<std::size_t>((q * m + i) * k + p)] * bv[static_cast<std::size_t>((q * k + p) * n + j)];
  return f64(c, os);
}

void check_forward(const Tensor& a, const Tensor& b) {
  const Tensor y = ops::matmul(a, b), want = naive_matmul(a, b);
  BOOST_TEST(wbtest::allclose(y, want, 1e-12, 1e-12));
}

// A (rows, cols) view whose storage is (cols, rows): the transposed operand ?gemm gets as a flag.
Tensor transposed_view(const Shape& s, std::uint64_t seed) {
  Shape flipped = s;
  std::swap(flipped[flipped.size() - 1], flipped[flipped.size() - 2]);
  return ops::transpose(randn(flipped, seed), -1, -2);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(matmul)

BOOST_AUTO_TEST_CASE(forward_2d_by_hand) {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]]
  const Tensor a = f64({1, 2, 3, 4}, {2, 2}), b = f64({5, 6, 7, 8}, {2, 2});
  BOOST_TEST(wbtest::allclose(ops::matmul(a, b), {19, 22, 43, 50}));
  // (1, 3) @ (3, 2): [1, 2, 3] . columns [1, 0, -1] and [2, 1, 0]
  BOOST_TEST(wbtest::allclose(ops::matmul(f64({1, 2, 3}, {1, 3}), f64({1, 2, 0, 1, -1, 0}, {3, 2})), {-2, 4}));
  // a^T as a view: [[1, 3], [2, 4]] @ [[5, 6], [7, 8]] = [[26, 30], [38, 44]]
  BOOST_TEST(wbtest::allclose(ops::matmul(ops::transpose(a, 0, 1), b), {26, 30, 38, 44}));
}

BOOST_AUTO_TEST_CASE(forward_against_loops) {
  check_forward(randn({3, 5}, 1), randn({5, 4}, 2));
  check_forward(randn({2, 3, 4}, 3), randn({2, 4, 5}, 4));           // batched
  check_forward(randn({2, 1, 3, 4}, 5), randn({3, 4, 2}, 6));        // broadcast batch axes
  check_forward(randn({3, 4}, 7), randn({2, 4, 5}, 8));              // 2-D @ batched
  check_forward(randn({2, 3, 4}, 9), randn({4, 5}, 10));             // the fold
  check_forward(transposed_view({3, 4}, 11), transposed_view({4, 2}, 12));
  check_forward(transposed_view({2, 3, 4}, 13), randn({2, 4, 5}, 14));
  check_forward(randn({2, 3, 4}, 15), transposed_view({2, 4, 5}, 16));
  check_forward(transposed_view({2, 3, 4}, 17), randn({4, 5}, 18));  // fold input that is not a view
  check_forward(ops::permute(randn({3, 2, 4}, 19), {1, 0, 2}), randn({4, 2}, 20));  // (N, B, K) -> (B, N, K)
  check_forward(ops::slice(randn({3, 8}, 21), 1, 0, 8, 2), randn({4, 3}, 22));    // strided columns
  check_forward(randn({3, 1}, 23), randn({1, 4}, 24));                             // K = 1 (outer product)
}

BOOST_AUTO_TEST_CASE(gradcheck_shapes) {
  auto mm = [](const V& t) { return ops::matmul(t[0], t[1]); };
  wbtest::check_grad(mm, {param(randn({3, 4}, 1)), param(randn({4, 2}, 2))});
  wbtest::check_grad(mm, {param(randn({2, 3, 4}, 3)), param(randn({2, 4, 2}, 4))});
  wbtest::check_grad(mm, {param(randn({2, 1, 3, 4}, 5)), param(randn({3, 4, 2}, 6))});  // both broadcast
  wbtest::check_grad(mm, {param(randn({3, 4}, 7)), param(randn({2, 4, 2}, 8))});        // da sums the batch
  wbtest::check_grad(mm, {param(randn({2, 3, 4}, 9)), param(randn({4, 2}, 10))});       // fold: one GEMM for db
  wbtest::check_grad(mm, {param(randn({1, 3, 4}, 11)), param(randn({2, 4, 2}, 12))});
  wbtest::check_grad(mm, {param(randn({3, 1}, 13)), param(randn({1, 4}, 14))});
}

BOOST_AUTO_TEST_CASE(gradcheck_transposed_views) {
  // the operands reach ?gemm as transposed views; dA and dB must come back in the input's layout
  auto t = [](const Tensor& x) { return ops::transpose(x, -1, -2); };
  wbtest::check_grad([&](const V& in) { return ops::matmul(t(in[0]), in[1]); }, {param(randn({4, 3}, 1)), param(randn({4, 2}, 2))});
  wbtest::check_grad([&](const V& in) { return ops::matmul(in[0], t(in[1])); }, {param(randn({3, 4}, 3)), param(randn({2, 4}, 4))});
  wbtest::check_grad([&](const V& in) { return ops::matmul(t(in[0]), t(in[1])); },
                     {param(randn({2, 4, 3}, 5)), param(randn({2, 2, 4}, 6))});
  wbtest::check_grad([&](const V& in) { return ops::matmul(t(in[0]), in[1]); },  // fold of a non-viewable A
                     {param(randn({2, 4, 3}, 7)), param(randn({4, 2}, 8))});
  wbtest::check_grad([](const V& in) { return ops::matmul(ops::permute(in[0], {1, 0, 2}), in[1]); },
                     {param(randn({3, 2, 4}, 9)), param(randn({4, 2}, 10))});
}

BOOST_AUTO_TEST_CASE(gradcheck_expanded_operands) {
  // stride-0 batch axes: the same matrix for every batch entry, on either side
  wbtest::check_grad([](const V& in) { return ops::matmul(ops::expand(in[0], {2, 3, 4}), in[1]); },
                     {param(randn({3, 4}, 1)), param(randn({2, 4, 2}, 2))});
  wbtest::check_grad([](const V& in) { return ops::matmul(in[0], ops::expand(in[1], {2, 4, 2})); },
                     {param(randn({2, 3, 4}, 3)), param(randn({4, 2}, 4))});
  wbtest::check_grad([](const V& in) { return ops::matmul(ops::expand(in[0], {2, 3, 4}), in[1]); },  // fold
                     {param(randn({1, 3, 4}, 5)), param(randn({4, 2}, 6))});
}

BOOST_AUTO_TEST_CASE(one_operand_constant) {
  // the node saves A only when B needs a gradient and vice versa: check each side alone
  const Tensor a = randn({2, 3, 4}, 1), b = randn({4, 2}, 2);
  wbtest::check_grad([&](const V& in) { return ops::matmul(in[0], b); }, {param(randn({2, 3, 4}, 3))});
  wbtest::check_grad([&](const V& in) { return ops::matmul(a, in[0]); }, {param(randn({4, 2}, 4))});
  wbtest::check_grad([&](const V& in) { return ops::matmul(a, in[0]); }, {param(randn({2, 4, 2}, 5))});
}

BOOST_AUTO_TEST_CASE(fan_out) {
  // x @ x for square x; the Gram matrix x x^T; x feeding both operands through different views
  wbtest::check_grad([](const V& in) { return ops::matmul(in[0], in[0]); }, {param(randn({3, 3}, 1))});
  wbtest::check_grad([](const V& in) { return ops::matmul(in[0], ops::transpose(in[0], 0, 1)); }, {param(randn({3, 4}, 2))});
  wbtest::check_grad([](const V& in) { return ops::matmul(ops::transpose(in[0], -1, -2), in[0]); },
                     {param(randn({2, 3, 4}, 3))});
  // d/dX sum(X X) with X = [[1, 2], [3, 4]] and seed 1: dX = 1 X^T + X^T 1 (1 = ones), i.e.
  // dX_ij = sum_k X_jk + sum_k X_ki: row sums of X [3, 7] and column sums [4, 6]
  Tensor x = param(f64({1, 2, 3, 4}, {2, 2}));
  BOOST_TEST(wbtest::allclose(wbtest::grad_of(ops::matmul(x, x), x, Tensor::ones({2, 2}, DType::f64)),
                              {3 + 4, 7 + 4, 3 + 6, 7 + 6}));
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  wbtest::check_f32_matches_f64([](const V& t) { return ops::matmul(t[0], t[1]); }, {randn({2, 5, 6}, 1), randn({6, 3}, 2)});
  wbtest::check_f32_matches_f64([](const V& t) { return ops::matmul(t[0], ops::transpose(t[1], -1, -2)); },
                                {randn({2, 5, 6}, 3), randn({2, 3, 6}, 4)});
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  wbtest::check_error([] { return ops::matmul(randn({3, 4}, 1), randn({3, 4}, 2)); }, {"matmul", "[3, 4]"});
  wbtest::check_error([] { return ops::matmul(randn({4}, 1), randn({4, 2}, 2)); }, {"matmul", "[4]"});
  wbtest::check_error([] { return ops::matmul(randn({2, 3, 4}, 1), randn({3, 4, 2}, 2)); }, {"matmul", "[2]", "[3]"});
  wbtest::check_error([] { return ops::matmul(randn({3, 4}, 1), randn({4, 2}, 2, DType::f32)); }, {"matmul", "f32"});
}

BOOST_AUTO_TEST_SUITE_END()
