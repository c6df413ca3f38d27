// The whole model: patch order, forward shapes and errors, seeded determinism, a whole-model
// directional gradcheck, and an overfit-a-tiny-batch test.
#include <boost/test/unit_test.hpp>

#include "autograd/engine.hpp"
#include "crate/models/vision/classifier.hpp"
#include "ops/ops.hpp"
#include "ops/optim/adamw.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/crate/module_check.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;

using wbtest::small_config;

BOOST_AUTO_TEST_SUITE(model)

BOOST_AUTO_TEST_CASE(patchify_order_is_row_column_channel) {
  // Image (1, C=2, 4, 4) with value 100 c + 10 row + col; patch 2. Patch 1 is (rows 0-1, cols 2-3);
  // inside a patch the order is (row, col, channel) with the channel fastest.
  std::vector<double> v;
  for (int ch = 0; ch < 2; ++ch)
    for (int r = 0; r < 4; ++r)
      for (int col = 0; col < 4; ++col) v.push_back(100 * ch + 10 * r + col);
  const Tensor img = Tensor::from_vector(v, {1, 2, 4, 4});
  const Tensor p = patchify(img, 2);
  BOOST_TEST((p.shape() == Shape{1, 4, 8}));
  BOOST_TEST(wbtest::allclose(prim::select(prim::select(p, 0, 0), 0, 1), {2, 102, 3, 103, 12, 112, 13, 113}));
  BOOST_TEST(wbtest::allclose(prim::select(prim::select(p, 0, 0), 0, 2), {20, 120, 21, 121, 30, 130, 31, 131}));
}

BOOST_AUTO_TEST_CASE(forward_shapes_and_errors) {
  const CrateModel m(small_config(DType::f32));
  const Tensor x = wbtest::randn({3, 2, 8, 8}, 1, DType::f32);
  std::vector<LayerTrace> trace;
  const Tensor logits = m.forward(x, &trace);
  BOOST_TEST((logits.shape() == Shape{3, 3}));
  BOOST_TEST(trace.size() == 2u);
  BOOST_TEST((trace[0].qkv.shape() == Shape{3, 5, 8}));
  BOOST_TEST((trace[1].attention.shape() == Shape{3, 2, 5, 5}));
  // official CRATE: no residual around ISTA, so every layer output is >= 0
  const auto out = trace[1].output.to_vector<float>();
  BOOST_TEST(*std::min_element(out.begin(), out.end()) >= 0.0f);
  try {
    (void)m.forward(wbtest::randn({3, 1, 8, 8}, 1, DType::f32));
    BOOST_FAIL("wrong channel count must throw");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("(B, 2, 8, 8)") != std::string::npos, e.what());
  }
  CrateConfig mc = small_config(DType::f32);
  mc.pool = Pool::mean;
  BOOST_TEST((CrateModel(mc).forward(x).shape() == Shape{3, 3}));
}

BOOST_AUTO_TEST_CASE(trace_code_is_the_sparse_code) {
  // The complete dictionary without a residual: the code is the layer output. The overcomplete
  // dictionary (CRATE-alpha): the code is A2 (B, n, r d), nonnegative, and the block's output before the
  // residual is A2 D1^T.
  const Tensor x = wbtest::randn({3, 2, 8, 8}, 1, DType::f32);
  std::vector<LayerTrace> trace;
  (void)CrateModel(small_config(DType::f32)).forward(x, &trace);
  BOOST_TEST(trace[0].code.is_same(trace[0].output));
  const CrateConfig c = wbtest::with_variant(small_config(DType::f32), "alpha");  // overcomplete + ISTA residual
  const CrateModel alpha(c);
  (void)alpha.forward(x, &trace);
  for (std::size_t l = 0; l < trace.size(); ++l) {
    BOOST_TEST((trace[l].code.shape() == Shape{3, 5, c.overcomplete_ratio * c.dim}));
    const auto a = trace[l].code.to_vector<float>();
    BOOST_TEST(*std::min_element(a.begin(), a.end()) >= 0.0f);
    const Tensor d1 = alpha.layers()[l]->ista()->output_dictionary();
    const Tensor block = prim::binary(prim::Binary::sub, trace[l].output, trace[l].z_half);
    BOOST_TEST(wbtest::allclose(block, prim::matmul(trace[l].code, prim::transpose(d1, 0, 1)), 1e-5, 1e-5));
  }
}

BOOST_AUTO_TEST_CASE(seeded_models_are_bit_identical) {
  const CrateModel a(small_config(DType::f32)), b(small_config(DType::f32));
  const Tensor x = wbtest::randn({2, 2, 8, 8}, 2, DType::f32);
  BOOST_TEST((a.forward(x).to_vector<float>() == b.forward(x).to_vector<float>()));
  auto pa = a.named_parameters(), pb = b.named_parameters();
  bool same = true;
  for (std::size_t i = 0; i < pa.size(); ++i) same = same && pa[i].second.to_vector<float>() == pb[i].second.to_vector<float>();
  BOOST_TEST(same);
  CrateConfig other = small_config(DType::f32);
  other.seed = 6;
  BOOST_TEST((CrateModel(other).forward(x).to_vector<float>() != a.forward(x).to_vector<float>()));
}

BOOST_AUTO_TEST_CASE(whole_model_directional_gradcheck) {
  CrateModel m(small_config(DType::f64));
  const Tensor x = wbtest::randn({2, 2, 8, 8}, 3);
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 2}, {2});
  check_module_direction(m, {}, [&] { return ops::cross_entropy(m.forward(x), y, -100, 0.1); });
}

BOOST_AUTO_TEST_CASE(overfits_a_tiny_batch) {
  // 8 random images with random labels: AdamW must drive the loss from ~ln 3 to below 0.05 in 150 steps.
  CrateModel m(small_config(DType::f32));
  const Tensor x = wbtest::randn({8, 2, 8, 8}, 4, DType::f32);
  const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2, 1, 0}, {8});
  optim::AdamW opt({optim::ParamGroup{m.parameters(), 3e-3, 0.0}});
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const Tensor loss = ops::cross_entropy(m.forward(x), y);
    if (step == 0) first = loss.item();
    last = loss.item();
    autograd::backward(loss);
    opt.step();
  }
  BOOST_TEST(first > 0.7);
  BOOST_TEST(last < 0.05, "final loss " << last);
}

BOOST_AUTO_TEST_SUITE_END()
