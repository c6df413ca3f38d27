// The fused attention op against the same math composed from plain ops (reshape, permute, matmul,
// softmax), on strided views; float64 gradchecks; the tied form's single gradient equals the sum of
// the three separate ones (the symmetric term of crate-spec §1.7).
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "autograd/engine.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using wbtest::param;
using wbtest::randn;

namespace {

// softmax(scale q k^T) v per head, composed: (B, n, H p) -> (B, H, n, p) -> ... -> (B, n, H p).
Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale) {
  auto split = [&](const Tensor& x) {
    const std::int64_t b = x.size(0), n = x.size(1), w = x.size(2);
    return ops::permute(ops::reshape(ops::contiguous(x), {b, n, heads, w / heads}), {0, 2, 1, 3});
  };
  const Tensor a = ops::softmax(ops::mul_scalar(ops::matmul(split(q), ops::transpose(split(k), -1, -2)), scale), -1);
  const Tensor o = ops::matmul(a, split(v));
  return ops::reshape(ops::permute(o, {0, 2, 1, 3}), q.shape());
}

// The causal reference: the same composition with an explicit (n, n) mask of -inf above the diagonal
// added to the scores (what the fused op must do without building it).
Tensor composed_causal(const Tensor& q, const Tensor& k, const Tensor& v, std::int64_t heads, double scale) {
  auto split = [&](const Tensor& x) {
    const std::int64_t b = x.size(0), n = x.size(1), w = x.size(2);
    return ops::permute(ops::reshape(ops::contiguous(x), {b, n, heads, w / heads}), {0, 2, 1, 3});
  };
  const std::int64_t n = q.size(1);
  std::vector<double> mask(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) mask[static_cast<std::size_t>(i * n + j)] = -INFINITY;
  const Tensor m = prim::cast(Tensor::from_vector(mask, {n, n}), q.dtype());
  const Tensor s = ops::add(ops::mul_scalar(ops::matmul(split(q), ops::transpose(split(k), -1, -2)), scale), m);
  const Tensor o = ops::matmul(ops::softmax(s, -1), split(v));
  return ops::reshape(ops::permute(o, {0, 2, 1, 3}), q.shape());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fused_attention)

BOOST_AUTO_TEST_CASE(causal_forward_hand_computed) {
  // One head, p = 1, q = k = v = (1, 2), scale 1. Token 0 sees only itself: O_0 = 1. Token 1: scores
  // (2, 4), A_1 = (1, e^2) / (1 + e^2), O_1 = (1 + 2 e^2) / (1 + e^2).
  const Tensor x = Tensor::from_vector(std::vector<double>{1, 2}, {1, 2, 1});
  Tensor maps;
  const Tensor out = ops::tied_causal_attention(x, 1, 1.0, &maps);
  const double e2 = std::exp(2.0);
  BOOST_TEST(wbtest::allclose(out, {1.0, (1 + 2 * e2) / (1 + e2)}, 1e-15, 0));
  BOOST_TEST(wbtest::allclose(maps, {1.0, 0.0, 1 / (1 + e2), e2 / (1 + e2)}, 1e-15, 0));
}

BOOST_AUTO_TEST_CASE(causal_matches_masked_composition_across_tiles) {
  // 70 tokens: two full row tiles of 32 and a tail of 6; q, k, v strided slices of one projection.
  const Tensor qkv = randn({2, 70, 3 * 8}, 31);
  const Tensor q = prim::slice(qkv, 2, 0, 8), k = prim::slice(qkv, 2, 8, 16), v = prim::slice(qkv, 2, 16, 24);
  Tensor maps;
  const Tensor out = ops::causal_attention(q, k, v, 2, 0.5, &maps);
  BOOST_TEST(wbtest::allclose(out, composed_causal(q, k, v, 2, 0.5), 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::tied_causal_attention(q, 2, 0.5), composed_causal(q, q, q, 2, 0.5), 1e-12, 1e-12));
  // the maps: zero above the diagonal, rows summing to one
  const std::vector<double> a = prim::cast(maps, DType::f64).to_vector<double>();
  double above = 0;
  for (std::int64_t bh = 0; bh < 4; ++bh)
    for (std::int64_t i = 0; i < 70; ++i)
      for (std::int64_t j = i + 1; j < 70; ++j) above += std::abs(a[static_cast<std::size_t>((bh * 70 + i) * 70 + j)]);
  BOOST_TEST(above == 0.0);
  BOOST_TEST(wbtest::allclose(prim::sum(maps, {3}), std::vector<double>(2 * 2 * 70, 1.0), 1e-12, 0));
  // the past does not see the future: changing the last token changes only the last output
  Tensor x2 = prim::clone(qkv);
  prim::fill_(prim::slice(x2, 1, 69, 70), 3.0);
  const Tensor out2 = ops::causal_attention(prim::slice(x2, 2, 0, 8), prim::slice(x2, 2, 8, 16), prim::slice(x2, 2, 16, 24), 2, 0.5);
  BOOST_TEST(wbtest::allclose(prim::slice(out2, 1, 0, 69), prim::slice(out, 1, 0, 69), 0, 0));
  BOOST_TEST(!wbtest::allclose(prim::slice(out2, 1, 69, 70), prim::slice(out, 1, 69, 70), 1e-6, 0));
  // f32 agrees with f64
  const Tensor q32 = prim::cast(q, DType::f32);
  BOOST_TEST(wbtest::allclose(ops::tied_causal_attention(q32, 2, 0.5), composed_causal(q, q, q, 2, 0.5), 1e-5, 1e-4));
}

BOOST_AUTO_TEST_CASE(causal_gradcheck_separate_and_tied) {
  wbtest::check_grad([](const std::vector<Tensor>& x) { return ops::causal_attention(x[0], x[1], x[2], 2, 0.6); },
                     {param(randn({2, 5, 4}, 32)), param(randn({2, 5, 4}, 33)), param(randn({2, 5, 4}, 34))});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return ops::tied_causal_attention(x[0], 2, 0.6); },
                     {param(randn({1, 37, 4}, 35))});  // a full tile of 32 and a tail of 5
}

BOOST_AUTO_TEST_CASE(causal_backward_matches_masked_composition) {
  const Tensor x0 = randn({2, 45, 6}, 36), dy = randn({2, 45, 6}, 37);
  Tensor a = param(prim::clone(x0));
  autograd::backward(ops::tied_causal_attention(a, 3, 0.7), dy);
  Tensor c = param(prim::clone(x0));
  autograd::backward(composed_causal(c, c, c, 3, 0.7), dy);
  BOOST_TEST(wbtest::allclose(a.grad(), c.grad(), 1e-12, 1e-10));
  Tensor q = param(prim::clone(x0)), k = param(randn({2, 45, 6}, 38)), v = param(randn({2, 45, 6}, 39));
  autograd::backward(ops::causal_attention(q, k, v, 3, 0.7), dy);
  Tensor q2 = param(prim::clone(q.detach())), k2 = param(prim::clone(k.detach())), v2 = param(prim::clone(v.detach()));
  autograd::backward(composed_causal(q2, k2, v2, 3, 0.7), dy);
  BOOST_TEST(wbtest::allclose(q.grad(), q2.grad(), 1e-12, 1e-10));
  BOOST_TEST(wbtest::allclose(k.grad(), k2.grad(), 1e-12, 1e-10));
  BOOST_TEST(wbtest::allclose(v.grad(), v2.grad(), 1e-12, 1e-10));
}

BOOST_AUTO_TEST_CASE(forward_matches_composition_on_strided_slices) {
  // q, k, v as slices of one (B, n, 3 H p) projection: row stride 3 H p, no copies.
  const Tensor qkv = randn({3, 5, 3 * 8}, 1);
  const Tensor q = prim::slice(qkv, 2, 0, 8), k = prim::slice(qkv, 2, 8, 16), v = prim::slice(qkv, 2, 16, 24);
  Tensor maps;
  const Tensor out = ops::attention(q, k, v, 2, 0.5, &maps);
  BOOST_TEST(wbtest::allclose(out, composed(q, k, v, 2, 0.5), 1e-12, 1e-12));
  BOOST_TEST((maps.shape() == Shape{3, 2, 5, 5}));
  // every map row sums to 1
  BOOST_TEST(wbtest::allclose(prim::sum(maps, {3}), std::vector<double>(30, 1.0), 1e-12, 0));
  // f32 agrees with f64
  const Tensor o32 = ops::attention(prim::cast(q, DType::f32), prim::cast(k, DType::f32), prim::cast(v, DType::f32), 2, 0.5);
  BOOST_TEST(wbtest::allclose(o32, out, 1e-5, 1e-4));
  // rows of 50 scores take the vector softmax path (16 lanes and a 2-lane tail), in f32 and f64
  const Tensor big = randn({2, 50, 3 * 16}, 11);
  const Tensor bq = prim::slice(big, 2, 0, 16), bk = prim::slice(big, 2, 16, 32), bv = prim::slice(big, 2, 32, 48);
  const Tensor want = composed(bq, bk, bv, 2, 0.25);
  BOOST_TEST(wbtest::allclose(ops::attention(bq, bk, bv, 2, 0.25), want, 1e-12, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::attention(prim::cast(bq, DType::f32), prim::cast(bk, DType::f32),
                                             prim::cast(bv, DType::f32), 2, 0.25),
                              want, 1e-5, 1e-4));
  // a hand-checked case: one token attends only to itself, so O = V
  const Tensor one = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {1, 1, 4});
  BOOST_TEST(wbtest::allclose(ops::attention(one, one, one, 2, 1.0), {1, 2, 3, 4}, 1e-15, 0));
}

BOOST_AUTO_TEST_CASE(gradcheck_separate_and_tied) {
  wbtest::check_grad([](const std::vector<Tensor>& x) { return ops::attention(x[0], x[1], x[2], 2, 0.6); },
                     {param(randn({2, 4, 6}, 2)), param(randn({2, 4, 6}, 3)), param(randn({2, 4, 6}, 4))});
  wbtest::check_grad([](const std::vector<Tensor>& x) { return ops::tied_attention(x[0], 3, 0.6); },
                     {param(randn({2, 4, 6}, 5))});
}

BOOST_AUTO_TEST_CASE(f32_backward_on_long_rows_matches_f64) {
  // 37 tokens: rows of 37 scores (two vectors of 16 and a 5-lane tail) through the f32 backward.
  const Tensor x = randn({2, 37, 8}, 21), dy = randn({2, 37, 8}, 22);
  Tensor a64 = param(prim::clone(x));
  autograd::backward(ops::tied_attention(a64, 2, 0.5), dy);
  Tensor a32 = param(prim::cast(x, DType::f32));
  autograd::backward(ops::tied_attention(a32, 2, 0.5), prim::cast(dy, DType::f32));
  BOOST_TEST(wbtest::allclose(a32.grad(), a64.grad(), 1e-4, 1e-3));
}

BOOST_AUTO_TEST_CASE(tied_gradient_is_the_sum_of_the_three_uses) {
  const Tensor x0 = randn({2, 5, 4}, 6), dy = randn({2, 5, 4}, 7);
  Tensor a = param(prim::clone(x0));
  autograd::backward(ops::tied_attention(a, 2, 0.8), dy);
  Tensor q = param(prim::clone(x0)), k = param(prim::clone(x0)), v = param(prim::clone(x0));
  autograd::backward(ops::attention(q, k, v, 2, 0.8), dy);
  const Tensor sum = prim::binary(prim::Binary::add, prim::binary(prim::Binary::add, q.grad(), k.grad()), v.grad());
  BOOST_TEST(wbtest::allclose(a.grad(), sum, 1e-12, 1e-10));
  // and the composed reference with the tensor used three times agrees too
  Tensor c = param(prim::clone(x0));
  autograd::backward(composed(c, c, c, 2, 0.8), dy);
  BOOST_TEST(wbtest::allclose(a.grad(), c.grad(), 1e-12, 1e-10));
}

BOOST_AUTO_TEST_CASE(bad_shapes_are_named) {
  try {
    (void)ops::attention(randn({2, 3, 5}, 8), randn({2, 3, 5}, 9), randn({2, 3, 5}, 10), 2, 1.0);
    BOOST_FAIL("5 is not divisible by 2 heads");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("attention") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(ops::attention(randn({2, 3, 4}, 8), randn({2, 4, 4}, 9), randn({2, 3, 4}, 10), 2, 1.0),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
