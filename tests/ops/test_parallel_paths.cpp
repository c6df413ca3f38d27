// The kernels split large inputs across threads and into fixed blocks (sum: 512 rows of the reduced
// axis, layer_norm backward: 64 rows, elementwise: 32768 elements); the small shapes of the other op
// tests run on one chunk. Here shapes are large enough to split, run with 3 threads (more than the
// cores, so every split happens), and are checked against naive loops, against one thread (bitwise:
// the kernels promise thread-count-independent results) and by directional gradchecks.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "ops/ops.hpp"
#include "tensor/parallel.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::param;
using wbtest::randn;

namespace {
using V = std::vector<Tensor>;

using Threads = wbtest::ThreadCount;

// f(inputs) with 1 thread and with 3 threads: bitwise equal.
void same_for_any_thread_count(const autograd::TensorFn& f, const V& in) {
  Tensor one, three;
  {
    Threads t(1);
    one = f(in);
  }
  {
    Threads t(3);
    three = f(in);
  }
  BOOST_TEST(wbtest::allclose(three, one, 0.0, 0.0));
}

std::size_t at(std::int64_t i) { return static_cast<std::size_t>(i); }
}  // namespace

BOOST_AUTO_TEST_SUITE(parallel_paths)

BOOST_AUTO_TEST_CASE(broadcast_binary_over_a_transposed_view) {
  // y[i][j] = xt[i][j] * b[j] with xt = x^T, x (300, 257): 77100 elements, several runs per chunk
  Threads t(3);
  const Tensor x = randn({300, 257}, 1), b = randn({300}, 2);
  const Tensor y = ops::transpose(x, 0, 1) * b;
  const auto xv = x.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> want(at(257 * 300));
  for (std::int64_t i = 0; i < 257; ++i)
    for (std::int64_t j = 0; j < 300; ++j) want[at(i * 300 + j)] = xv[at(j * 257 + i)] * bv[at(j)];
  BOOST_TEST(wbtest::allclose(y, want, 0.0, 0.0));
  wbtest::check_grad_direction([](const V& in) { return ops::transpose(in[0], 0, 1) * in[1]; }, {param(x), param(b)});
}

BOOST_AUTO_TEST_CASE(sum_over_many_blocks) {
  // sum over axis 0 of (1500, 3, 2): three 512-row blocks per output, inner = 6
  Threads t(3);
  const Tensor x = randn({1500, 3, 2}, 3);
  const auto xv = x.to_vector<double>();
  std::vector<double> want(6, 0.0);
  for (std::int64_t r = 0; r < 1500; ++r)
    for (std::int64_t i = 0; i < 6; ++i) want[at(i)] += xv[at(r * 6 + i)];
  BOOST_TEST(wbtest::allclose(ops::sum(x, {0}), want, 1e-11, 1e-12));
  BOOST_TEST(wbtest::allclose(ops::mean(x, {0, 1}), {(want[0] + want[2] + want[4]) / 4500, (want[1] + want[3] + want[5]) / 4500},
                              1e-13, 1e-12));
  same_for_any_thread_count([](const V& in) { return ops::sum(in[0], {0}); }, {x});
  same_for_any_thread_count([](const V& in) { return ops::sum(in[0], {1, 2}); }, {x});
  wbtest::check_grad_direction([](const V& in) { return ops::sum(in[0], {0}); }, {param(x)});
}

BOOST_AUTO_TEST_CASE(max_over_many_rows) {
  // 3000 slices of 4: every slice's max and argmax against a loop
  Threads t(3);
  const Tensor x = randn({3000, 4}, 4);
  const auto xv = x.to_vector<double>();
  std::vector<double> want(3000);
  for (std::int64_t r = 0; r < 3000; ++r) want[at(r)] = std::max({xv[at(4 * r)], xv[at(4 * r + 1)], xv[at(4 * r + 2)], xv[at(4 * r + 3)]});
  BOOST_TEST(wbtest::allclose(ops::max(x, 1), want, 0.0, 0.0));
  wbtest::check_grad_direction([](const V& in) { return ops::max(in[0], 1); }, {param(x)});
}

BOOST_AUTO_TEST_CASE(softmax_rows_in_blocks) {
  // f32 rows of 50 (the AVX-512 block path) and of 300 (the row path), 1000 rows: 62 blocks and 8 left
  for (std::int64_t r : {50, 300}) {
    const Tensor x = randn({1000, r}, 6, DType::f32, 3.0);
    same_for_any_thread_count([](const V& in) { return ops::softmax(in[0], -1); }, {x});
    same_for_any_thread_count([](const V& in) { return ops::log_softmax(in[0], -1); }, {x});
  }
}

BOOST_AUTO_TEST_CASE(softmax_along_a_strided_axis) {
  // softmax over axis 0 of (600, 20): 20 columns of 600 entries each, stride 20
  Threads t(3);
  const Tensor x = randn({600, 20}, 5, DType::f64, 3.0);
  const auto xv = x.to_vector<double>();
  std::vector<double> want(xv.size());
  for (std::int64_t c = 0; c < 20; ++c) {
    double mx = -INFINITY, s = 0;
    for (std::int64_t r = 0; r < 600; ++r) mx = std::max(mx, xv[at(r * 20 + c)]);
    for (std::int64_t r = 0; r < 600; ++r) s += std::exp(xv[at(r * 20 + c)] - mx);
    for (std::int64_t r = 0; r < 600; ++r) want[at(r * 20 + c)] = std::exp(xv[at(r * 20 + c)] - mx) / s;
  }
  BOOST_TEST(wbtest::allclose(ops::softmax(x, 0), want, 1e-15, 1e-12));
  same_for_any_thread_count([](const V& in) { return ops::log_softmax(in[0], 0); }, {x});
  wbtest::check_grad_direction([](const V& in) { return ops::softmax(in[0], 0); }, {param(x)});
  wbtest::check_grad_direction([](const V& in) { return ops::log_softmax(in[0], 1); }, {param(x)});
}

BOOST_AUTO_TEST_CASE(layer_norm_over_many_row_blocks) {
  // 300 rows = 5 blocks of 64 in the backward's parameter sums
  Threads t(3);
  const Tensor x = randn({300, 17}, 6, DType::f64, 2.0), g = randn({17}, 7), b = randn({17}, 8);
  const auto xv = x.to_vector<double>(), gv = g.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> want(xv.size());
  for (std::int64_t r = 0; r < 300; ++r) {
    double mu = 0, var = 0;
    for (std::int64_t i = 0; i < 17; ++i) mu += xv[at(r * 17 + i)] / 17;
    for (std::int64_t i = 0; i < 17; ++i) var += (xv[at(r * 17 + i)] - mu) * (xv[at(r * 17 + i)] - mu) / 17;
    for (std::int64_t i = 0; i < 17; ++i)
      want[at(r * 17 + i)] = (xv[at(r * 17 + i)] - mu) / std::sqrt(var + 1e-5) * gv[at(i)] + bv[at(i)];
  }
  BOOST_TEST(wbtest::allclose(ops::layer_norm(x, g, b), want, 1e-13, 1e-12));
  // parameter gradients: the same bits for 1 and 3 threads
  auto dgamma = [](const V& in) {
    Tensor gp = param(prim::clone(in[1]));
    autograd::backward(ops::layer_norm(in[0], gp, in[2]), in[3]);
    return gp.grad();
  };
  same_for_any_thread_count(dgamma, {x, g, b, randn({300, 17}, 9)});
  wbtest::check_grad_direction([](const V& in) { return ops::layer_norm(in[0], in[1], in[2]); }, {param(x), param(g), param(b)});
}

BOOST_AUTO_TEST_CASE(cross_entropy_over_many_rows) {
  Threads t(3);
  const std::int64_t rows = 200, c = 7;
  const Tensor logits = randn({rows, c}, 10, DType::f64, 2.0);
  std::vector<std::int64_t> target(at(rows));
  for (std::int64_t r = 0; r < rows; ++r) target[at(r)] = r % 9 == 4 ? -100 : (r * 5) % c;
  const Tensor tt = wbtest::ids(target, {rows});
  const auto lv = logits.to_vector<double>();
  double total = 0;
  int kept = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    if (target[at(r)] == -100) continue;
    double se = 0;
    for (std::int64_t k = 0; k < c; ++k) se += std::exp(lv[at(r * c + k)]);
    total += std::log(se) - lv[at(r * c + target[at(r)])];
    ++kept;
  }
  BOOST_TEST(wbtest::allclose(ops::cross_entropy(logits, tt), {total / kept}, 1e-13, 1e-12));
  same_for_any_thread_count([&](const V& in) { return ops::cross_entropy(in[0], tt, -100, 0.1); }, {logits});
  wbtest::check_grad_direction([&](const V& in) { return ops::cross_entropy(in[0], tt, -100, 0.1); }, {param(logits)});
}

BOOST_AUTO_TEST_CASE(embedding_and_index_select_with_many_rows) {
  // 5000 ids into 50 rows of width 3: dW[v] = sum of the seed rows whose id is v
  Threads t(3);
  const std::int64_t n = 5000, vocab = 50, d = 3;
  std::vector<std::int64_t> idv(at(n));
  for (std::int64_t i = 0; i < n; ++i) idv[at(i)] = (i * 7 + i / 13) % vocab;
  const Tensor ids = wbtest::ids(idv, {n});
  Tensor w = param(randn({vocab, d}, 11));
  const Tensor seed = randn({n, d}, 12);
  const auto sv = seed.to_vector<double>();
  std::vector<double> want(at(vocab * d), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) want[at(idv[at(i)] * d + k)] += sv[at(i * d + k)];
  BOOST_TEST(wbtest::allclose(wbtest::grad_of(ops::embedding(w, ids), w, seed), want, 1e-12, 1e-12));
  // index_select along the middle axis of (40, 50, 3) with the same ids
  wbtest::check_grad_direction([&](const V& in) { return ops::index_select(in[0], 1, ids); }, {param(randn({40, vocab, d}, 13))});
}

BOOST_AUTO_TEST_CASE(elementwise_maps_over_many_chunks) {
  Threads t(3);
  const Tensor x = wbtest::uniform({100000}, 14, 0.5, 2.0);
  const auto xv = x.to_vector<double>();
  const auto y = ops::sqrt(ops::log(x) + 1.0).to_vector<double>();
  bool ok = true;
  for (std::size_t i = 0; i < xv.size(); ++i) ok = ok && std::abs(y[i] - std::sqrt(std::log(xv[i]) + 1.0)) < 1e-15;
  BOOST_TEST(ok);
  wbtest::check_grad_direction([](const V& in) { return ops::gelu(in[0]) * ops::tanh(in[0]); }, {param(x)});
}

BOOST_AUTO_TEST_SUITE_END()
