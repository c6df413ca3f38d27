// softmax and log_softmax along every axis, including large logits.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>

#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::f64;
using wbtest::grad_of;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;
// softmax([1, 2, 3]) = [kS0, kS1, kS2], logsumexp = kLse (derived in op_testing.hpp)
using wbtest::kLse;
using wbtest::kS0;
using wbtest::kS1;
using wbtest::kS2;
// two-way softmax [a, b]: e^a / (e^a + e^b) = 1 / (1 + e^(b - a)); for a - b = 1: e / (e + 1)
constexpr double kSig1 = 0.7310585786300049, kSig2 = 0.8807970779778823;  // sigmoid(1), sigmoid(2)
}  // namespace

BOOST_AUTO_TEST_SUITE(softmax)

BOOST_AUTO_TEST_CASE(forward_by_hand) {
  BOOST_TEST(wbtest::allclose(ops::softmax(f64({1, 2, 3}, {3})), {kS0, kS1, kS2}, 1e-15, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::log_softmax(f64({1, 2, 3}, {3})), {1 - kLse, 2 - kLse, 3 - kLse}, 1e-14, 1e-14));
  // x = [[1, 2, 3], [1, 1, 1]]: along axis 0, columns [1, 1], [2, 1], [3, 1]
  const Tensor x = f64({1, 2, 3, 1, 1, 1}, {2, 3});
  BOOST_TEST(wbtest::allclose(ops::softmax(x, 0), {0.5, kSig1, kSig2, 0.5, 1 - kSig1, 1 - kSig2}, 1e-15, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::softmax(x, 1), {kS0, kS1, kS2, 1. / 3, 1. / 3, 1. / 3}, 1e-15, 1e-14));
  BOOST_TEST(wbtest::allclose(ops::log_softmax(x, 0), {std::log(0.5), std::log(kSig1), std::log(kSig2), std::log(0.5),
                                                       std::log(1 - kSig1), std::log(1 - kSig2)},
                              1e-14, 1e-13));
}

BOOST_AUTO_TEST_CASE(every_axis_normalizes_along_that_axis) {
  const Tensor x = randn({2, 3, 4}, 1, DType::f64, 3.0);
  for (std::int64_t axis : {0, 1, 2, -1, -3}) {
    const Tensor y = ops::softmax(x, axis);
    Shape ones_shape = x.shape();
    ones_shape.erase(ones_shape.begin() + (axis + 3) % 3);
    BOOST_TEST(wbtest::allclose(ops::sum(y, {axis}), Tensor::ones(ones_shape, DType::f64), 1e-14));
    // log_softmax = log(softmax)
    BOOST_TEST(wbtest::allclose(ops::log_softmax(x, axis), ops::log(y), 1e-13, 1e-12));
  }
}

BOOST_AUTO_TEST_CASE(large_logits_are_stable) {
  // softmax is shift invariant: [1000, 1001, 1002] and [-1002, -1001, -1000] give softmax([1, 2, 3])
  for (DType dt : {DType::f64, DType::f32}) {
    const Tensor big = prim::cast(f64({1000, 1001, 1002, -1002, -1001, -1000}, {2, 3}), dt);
    BOOST_TEST(wbtest::allclose(ops::softmax(big, 1), {kS0, kS1, kS2, kS0, kS1, kS2}, 1e-6, 1e-6));
    BOOST_TEST(wbtest::allclose(ops::log_softmax(big, 1), {1 - kLse, 2 - kLse, 3 - kLse, 1 - kLse, 2 - kLse, 3 - kLse},
                                1e-4, 1e-5));
  }
  // spread logits: log_softmax([0, -1000, 1000]) = [-1000, -2000, 0] exactly (e^-1000 underflows)
  BOOST_TEST(wbtest::allclose(ops::log_softmax(f64({0, -1000, 1000}, {3})), {-1000, -2000, 0}, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::softmax(f64({0, -1000, 1000}, {3})), {0, 0, 1}, 1e-300));
  // gradients through large logits stay finite and correct
  // (logits near -700 and +800: exp would overflow / underflow without the max shift)
  const Tensor low = param(prim::unary(prim::Unary::add_scalar, randn({3, 4}, 2), -700));
  const Tensor high = param(prim::unary(prim::Unary::add_scalar, randn({3, 4}, 3), 800));
  for (const Tensor& x : {low, high}) {
    wbtest::check_grad([](const V& t) { return ops::softmax(t[0], 0); }, {x});
    wbtest::check_grad([](const V& t) { return ops::log_softmax(t[0], 1); }, {x});
  }
}

BOOST_AUTO_TEST_CASE(masked_logits) {
  // -inf logits (an attention mask) get probability 0; row 0 keeps entries 0 and 2 = [0, 1], so its
  // softmax is [1 - sigmoid(1), 0, sigmoid(1), 0, ...]. Row 1 is fully masked: softmax all 0 and
  // log_softmax all -inf, never NaN. Rows of 3 run the scalar loop, f32 rows of 20 the vector path.
  const double inf = std::numeric_limits<double>::infinity();
  for (DType dt : {DType::f64, DType::f32})
    for (std::int64_t r : {3, 20}) {
      BOOST_TEST_CONTEXT(dt << " rows of " << r) {
        std::vector<double> x(static_cast<std::size_t>(2 * r), -inf), p(x.size(), 0.0), lp(x.size(), -inf);
        x[0] = 0;
        x[2] = 1;
        p[0] = 1 - kSig1, p[2] = kSig1, lp[0] = std::log(1 - kSig1), lp[2] = std::log(kSig1);
        Tensor xt = param(prim::cast(f64(x, {2, r}), dt));
        const auto y = ops::softmax(xt, 1).to_vector<double>();
        const auto ly = ops::log_softmax(xt, 1).to_vector<double>();
        for (std::size_t i = 0; i < x.size(); ++i) {
          BOOST_TEST(std::abs(y[i] - p[i]) < 1e-6, "softmax [" << i << "] = " << y[i] << ", want " << p[i]);
          const bool same = std::isinf(lp[i]) ? ly[i] == -inf : std::abs(ly[i] - lp[i]) < 1e-6;
          BOOST_TEST(same, "log_softmax [" << i << "] = " << ly[i] << ", want " << lp[i]);
        }
        // the gradient is finite, and 0 at masked entries for softmax
        const auto g = grad_of(ops::softmax(xt, 1), xt, prim::cast(randn({2, r}, 9), dt)).to_vector<double>();
        for (std::size_t i = 0; i < x.size(); ++i)
          BOOST_TEST((std::isfinite(g[i]) && (p[i] != 0.0 || g[i] == 0.0)), "dx [" << i << "] = " << g[i]);
      }
    }
}

BOOST_AUTO_TEST_CASE(gradients_by_hand) {
  // dx = y * (dy - sum(dy * y)); with dy = e_0: dx = y * (e_0 - y_0)
  Tensor x = param(f64({1, 2, 3}, {3}));
  BOOST_TEST(wbtest::allclose(grad_of(ops::softmax(x), x, f64({1, 0, 0}, {3})),
                              {kS0 * (1 - kS0), -kS1 * kS0, -kS2 * kS0}, 1e-15, 1e-13));
  // log_softmax: dx = dy - softmax * sum(dy); dy = [1, 2, 3] -> [1 - 6 kS0, 2 - 6 kS1, 3 - 6 kS2]
  BOOST_TEST(wbtest::allclose(grad_of(ops::log_softmax(x), x, f64({1, 2, 3}, {3})),
                              {1 - 6 * kS0, 2 - 6 * kS1, 3 - 6 * kS2}, 1e-14, 1e-13));
  // a plain sum of softmax is constant: its gradient is 0 (why gradcheck weights the output)
  BOOST_TEST(wbtest::allclose(grad_of(ops::sum(ops::softmax(x)), x), {0, 0, 0}, 1e-15));
}

BOOST_AUTO_TEST_CASE(gradcheck_every_axis) {
  const Tensor x = param(randn({2, 3, 4}, 4, DType::f64, 2.0));
  for (std::int64_t axis : {0, 1, 2, -1, -2}) {
    BOOST_TEST_CONTEXT("axis " << axis) {
      wbtest::check_grad([axis](const V& t) { return ops::softmax(t[0], axis); }, {x});
      wbtest::check_grad([axis](const V& t) { return ops::log_softmax(t[0], axis); }, {x});
    }
  }
  // non-contiguous input and fan-out: attention-like softmax(x x^T) x
  wbtest::check_grad([](const V& t) { return ops::softmax(ops::transpose(t[0], 0, 1), 0); }, {param(randn({3, 4}, 5))});
  wbtest::check_grad(
      [](const V& t) { return ops::matmul(ops::softmax(ops::matmul(t[0], ops::transpose(t[0], 0, 1)), -1), t[0]); },
      {param(randn({3, 4}, 6))});
}

BOOST_AUTO_TEST_CASE(f32_agrees_with_f64) {
  const V in = {randn({3, 5}, 7, DType::f64, 4.0)};
  for (std::int64_t axis : {0, 1}) {
    wbtest::check_f32_matches_f64([axis](const V& t) { return ops::softmax(t[0], axis); }, in);
    wbtest::check_f32_matches_f64([axis](const V& t) { return ops::log_softmax(t[0], axis); }, in);
  }
}

BOOST_AUTO_TEST_CASE(f32_vector_path_agrees_with_f64) {
  // f32 rows of >= 16 along the last axis take the vectorized kernels: rows of 37 (two vectors and a
  // tail) and of 16 (exactly one), 70 rows (blocks of 16 with a remainder)
  for (std::int64_t r : {37, 16}) {
    const V in = {randn({70, r}, 10, DType::f64, 4.0)};
    wbtest::check_f32_matches_f64([](const V& t) { return ops::softmax(t[0], -1); }, in, 1e-6, 1e-5);
    wbtest::check_f32_matches_f64([](const V& t) { return ops::log_softmax(t[0], -1); }, in, 1e-5, 1e-5);
    wbtest::check_f32_grads_match_f64([](const V& t) { return ops::softmax(t[0], -1); }, in);
    wbtest::check_f32_grads_match_f64([](const V& t) { return ops::log_softmax(t[0], -1); }, in);
  }
}

BOOST_AUTO_TEST_CASE(f32_block_path_agrees_with_f64_and_keeps_rows_independent) {
  // With AVX-512, softmax over rows of length 16..256 runs in flat blocks of 16 rows, a last partial block
  // padded (tensor/cpu/softmax.cpp); other lengths run row by row. Rows of 16, 17, 50 (attention maps of
  // 28x28 images), 65, 256 and 257 (past the block limit), 70 rows (four blocks and six left over), with
  // -inf entries and one fully masked row inside a block.
  const float inf = std::numeric_limits<float>::infinity();
  for (std::int64_t r : {16, 17, 50, 65, 256, 257}) {
    BOOST_TEST_CONTEXT("rows of " << r) {
      const V in = {randn({70, r}, 11, DType::f64, 4.0)};
      wbtest::check_f32_matches_f64([](const V& t) { return ops::softmax(t[0], -1); }, in, 1e-6, 1e-5);
      std::vector<float> v = prim::cast(in[0], DType::f32).to_vector<float>();
      for (std::int64_t k = 0; k < r; k += 3) v[static_cast<std::size_t>(5 * r + k)] = -inf;  // row 5: a third masked
      for (std::int64_t k = 0; k < r; ++k) v[static_cast<std::size_t>(20 * r + k)] = -inf;   // row 20: all masked
      const Tensor x = Tensor::from_vector(v, {70, r});
      const auto y = ops::softmax(x, -1).to_vector<float>();
      for (std::int64_t k = 0; k < r; ++k) {
        const auto i = static_cast<std::size_t>(5 * r + k);
        if (k % 3 == 0) BOOST_TEST(y[i] == 0.0f, "masked entry [5, " << k << "] = " << y[i]);
        BOOST_TEST(y[static_cast<std::size_t>(20 * r + k)] == 0.0f);
      }
      // the same rows, alone (16 rows: one whole block) and with one fewer (15: a padded block), give the
      // same bits; so do all rows but row 3 when row 3 changes
      const auto block = ops::softmax(prim::slice(x, 0, 0, 16), -1).to_vector<float>();
      const auto rows = ops::softmax(prim::slice(x, 0, 0, 15), -1).to_vector<float>();
      for (std::size_t i = 0; i < rows.size(); ++i) BOOST_TEST(block[i] == rows[i], "entry " << i);
      for (std::size_t i = 0; i < block.size(); ++i) BOOST_TEST(block[i] == y[i], "entry " << i);
      std::vector<float> w = v;
      for (std::int64_t k = 0; k < r; ++k) w[static_cast<std::size_t>(3 * r + k)] = 100.0f * static_cast<float>(k % 7);
      const auto z = ops::softmax(Tensor::from_vector(w, {70, r}), -1).to_vector<float>();
      for (std::size_t i = 0; i < z.size(); ++i)
        if (i / static_cast<std::size_t>(r) != 3) BOOST_TEST(z[i] == y[i], "entry " << i);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_nan_shows_in_its_row_only) {
  // A NaN logit makes its row's output contain NaN (a diverging run is seen) and leaves the other rows
  // alone, on every path: rows of 5 (scalar), 50 (AVX-512 blocks), 300 (row by row).
  for (std::int64_t r : {5, 50, 300}) {
    BOOST_TEST_CONTEXT("rows of " << r) {
      std::vector<float> v = randn({20, r}, 12, DType::f32, 2.0).to_vector<float>();
      v[static_cast<std::size_t>(2 * r + r / 2)] = std::numeric_limits<float>::quiet_NaN();
      const auto y = ops::softmax(Tensor::from_vector(v, {20, r}), -1).to_vector<float>();
      bool nan_in_row = false;
      for (std::int64_t k = 0; k < r; ++k) nan_in_row |= std::isnan(y[static_cast<std::size_t>(2 * r + k)]);
      BOOST_TEST(nan_in_row);
      for (std::int64_t i = 0; i < 20; ++i) {
        if (i == 2) continue;
        double sum = 0;
        for (std::int64_t k = 0; k < r; ++k) sum += y[static_cast<std::size_t>(i * r + k)];
        BOOST_TEST(std::abs(sum - 1.0) < 1e-5, "row " << i << " sums to " << sum);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_inputs_name_the_op) {
  const Tensor x = randn({2, 3}, 8);
  wbtest::check_error([&] { return ops::softmax(x, 2); }, {"softmax", "axis 2"});
  wbtest::check_error([&] { return ops::log_softmax(x, -3); }, {"log_softmax", "axis -3"});
  wbtest::check_error([&] { return ops::softmax(wbtest::ids({1, 2}, {2})); }, {"softmax", "i64"});
}

BOOST_AUTO_TEST_SUITE_END()
