// MSSA and ISTA: gradients against the closed forms of crate-spec §1.7, directional gradchecks of
// whole blocks, and the ISTA algebra (column form = row form).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "autograd/engine.hpp"
#include "crate/models/vision/classifier.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/crate/module_check.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::param;
using wbtest::randn;

using wbtest::gradcheck_config;

BOOST_AUTO_TEST_SUITE(blocks)

BOOST_AUTO_TEST_CASE(tied_attention_gradient_has_the_symmetric_term) {
  // H = softmax(Q Q^T / sqrt(p)) Q with Q used three times. Spec §1.7:
  //   dA = dH Q^T, dS = A * (dA - rowsum(dA * A)), dQ = A^T dH + (dS + dS^T) Q / sqrt(p)
  const std::int64_t n = 5, p = 3;
  const double s = 1.0 / std::sqrt(3.0);
  Tensor q = param(randn({n, p}, 11));
  const Tensor dh = randn({n, p}, 12);
  const Tensor h = attend(q, q, q, s);
  autograd::backward(h, dh);
  const Tensor a = prim::softmax(prim::unary(prim::Unary::mul_scalar, prim::matmul(q, prim::transpose(q, 0, 1)), s), 1);
  const Tensor da = prim::matmul(dh, prim::transpose(q, 0, 1));
  const Tensor ds = prim::softmax_backward(da, a, 1);
  const Tensor sym = prim::binary(prim::Binary::add, ds, prim::transpose(ds, 0, 1));
  const Tensor want = prim::binary(prim::Binary::add, prim::matmul(prim::transpose(a, 0, 1), dh),
                                   prim::unary(prim::Unary::mul_scalar, prim::matmul(sym, q), s));
  BOOST_TEST(wbtest::allclose(q.grad(), want, 1e-12, 1e-10));
  // Dropping the transpose half of the symmetric term gives a different (wrong) gradient.
  const Tensor wrong = prim::binary(prim::Binary::add, prim::matmul(prim::transpose(a, 0, 1), dh),
                                    prim::unary(prim::Unary::mul_scalar, prim::matmul(ds, q), 2 * s));
  BOOST_TEST(!wbtest::allclose(q.grad(), wrong, 1e-6, 1e-6));
  wbtest::check_grad([&](const std::vector<Tensor>& x) { return attend(x[0], x[0], x[0], s); }, {param(randn({n, p}, 13))});
}

BOOST_AUTO_TEST_CASE(ista_gradient_matches_the_closed_form) {
  // Row form pre = X M - eta lambda, M = I + eta D - eta D^T D; G_pre = G [pre > 0];
  //   dX = G_pre M^T,   dD = eta X^T G_pre - eta D X^T G_pre - eta D G_pre^T X     (spec §1.7)
  CrateConfig c = gradcheck_config();
  c.dim = 5;
  Generator gen(3);
  ISTA ista(c, gen);
  const double eta = c.eta, lam = c.lambda;
  Tensor x = param(randn({7, 5}, 21));
  const Tensor g = randn({7, 5}, 22);
  autograd::backward(ista.forward(x), g);
  const Tensor d = ista.dictionary().detach();
  const Tensor eye = [] {
    Tensor e = Tensor::zeros({5, 5}, DType::f64);
    for (int i = 0; i < 5; ++i) e.data<double>()[i * 6] = 1.0;
    return e;
  }();
  using prim::Binary;
  auto mm = [](const Tensor& a, const Tensor& b) { return prim::matmul(a, b); };
  auto tr = [](const Tensor& a) { return prim::transpose(a, 0, 1); };
  auto sc = [](const Tensor& a, double k) { return prim::unary(prim::Unary::mul_scalar, a, k); };
  const Tensor m = prim::binary(Binary::sub, prim::binary(Binary::add, eye, sc(d, eta)), sc(mm(tr(d), d), eta));
  const Tensor pre = prim::unary(prim::Unary::add_scalar, mm(x.detach(), m), -eta * lam);
  const Tensor gpre = prim::binary(Binary::mul, g, prim::unary(prim::Unary::gt_scalar, pre, 0.0));
  const Tensor dx = mm(gpre, tr(m));
  const Tensor xtg = mm(tr(x.detach()), gpre);
  const Tensor dd = prim::binary(Binary::sub, prim::binary(Binary::sub, sc(xtg, eta), sc(mm(d, xtg), eta)),
                                 sc(mm(d, mm(tr(gpre), x.detach())), eta));
  BOOST_TEST(wbtest::allclose(x.grad(), dx, 1e-12, 1e-10));
  BOOST_TEST(wbtest::allclose(ista.dictionary().grad(), dd, 1e-12, 1e-10));
}

BOOST_AUTO_TEST_CASE(ista_row_form_equals_column_form) {
  // Column form per token z: ReLU(z + eta D^T (z - D z) - eta lambda), computed by loops.
  CrateConfig c = gradcheck_config();
  Generator gen(5);
  ISTA ista(c, gen);
  const Tensor x = randn({3, 4}, 31);
  const auto out = ista.forward(x).to_vector<double>();
  const auto d = ista.dictionary().to_vector<double>();
  const auto xv = x.to_vector<double>();
  bool ok = true;
  for (int t = 0; t < 3; ++t) {
    const double* z = &xv[static_cast<std::size_t>(t * 4)];
    double r[4];
    for (int i = 0; i < 4; ++i) {
      double dz = 0;
      for (int j = 0; j < 4; ++j) dz += d[static_cast<std::size_t>(i * 4 + j)] * z[j];
      r[i] = z[i] - dz;
    }
    for (int i = 0; i < 4; ++i) {
      double dtr = 0;
      for (int j = 0; j < 4; ++j) dtr += d[static_cast<std::size_t>(j * 4 + i)] * r[j];
      const double v = std::max(0.0, z[i] + c.eta * dtr - c.eta * c.lambda);
      ok = ok && std::abs(v - out[static_cast<std::size_t>(t * 4 + i)]) < 1e-12;
    }
  }
  BOOST_TEST(ok);
}

BOOST_AUTO_TEST_CASE(ista_as_one_product_equals_the_two_product_form) {
  // The layer computes X M, M = I + eta (D - D^T D), with one token-sized product. The explicit form
  // X + eta (X D - (X D^T) D) (two token-sized products, the earlier code) gives the same output to
  // float error, in float64 and float32, with eta and lambda fixed or learned; and the layer's float64
  // gradient (input, D, eta, lambda) passes a central-difference check.
  for (const bool learnable : {false, true}) {
    for (const DType dt : {DType::f64, DType::f32}) {
      CrateConfig c = gradcheck_config();
      c.dim = 6;
      c.dtype = dt;
      c.learnable_ista = learnable;
      c.eta = 0.3;
      c.lambda = 0.05;
      Generator gen(17);
      ISTA ista(c, gen);
      const Tensor x = randn({2, 9, 6}, 51, dt);
      const Tensor d = ista.dictionary().detach();
      const Tensor dtr = ops::transpose(d, 0, 1);
      const Tensor step = ops::matmul(x, d) - ops::matmul(ops::matmul(x, dtr), d);
      const Tensor want = ops::relu(ops::add_scalar(x + ops::mul_scalar(step, c.eta), -c.eta * c.lambda));
      const bool f64 = dt == DType::f64;
      BOOST_TEST_CONTEXT((learnable ? "learnable " : "fixed ") << (f64 ? "f64" : "f32")) {
        BOOST_TEST(wbtest::allclose(ista.forward(x), want, f64 ? 1e-13 : 1e-5, f64 ? 1e-12 : 1e-5));
        // Negative control: the step without the D^T D term is far from the layer's output.
        const Tensor wrong = ops::relu(ops::add_scalar(x + ops::mul_scalar(ops::matmul(x, d), c.eta), -c.eta * c.lambda));
        BOOST_TEST(!wbtest::allclose(ista.forward(x), wrong, 1e-3, 1e-3));
        if (f64) {
          const Tensor xp = param(randn({2, 9, 6}, 52));
          const Tensor r = randn({2, 9, 6}, 53);
          check_module_direction(ista, {xp}, [&] { return ops::sum(ops::mul(ista.forward(xp), r)); });
          wbtest::check_grad([&](const std::vector<Tensor>& in) { return ista.forward(in[0]); },
                             {param(randn({1, 3, 6}, 54))});
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(block_gradchecks_along_a_random_direction) {
  // Whole blocks in double: the input gets an elementwise gradcheck, and the input plus every
  // parameter a check along one random direction (module_check.hpp).
  const CrateConfig base = gradcheck_config();
  for (const std::string variant : {"crate", "overcomplete", "learnable", "paper", "ista_residual", "vit", "tssa",
                                    "tost", "tost_paper", "attention_only", "negative", "transposed"}) {
    const CrateConfig c = wbtest::with_variant(base, variant);
    Generator gen(9);
    CrateLayer layer(c, gen);
    BOOST_TEST_CONTEXT("variant " << variant) {
      wbtest::check_grad([&](const std::vector<Tensor>& in) { return layer.forward(in[0]); },
                         {param(randn({1, 3, 4}, 42))});
      const Tensor x = param(randn({2, 5, 4}, 41));
      const Tensor r = randn({2, 5, 4}, 43);
      check_module_direction(layer, {x}, [&] { return ops::sum(ops::mul(layer.forward(x), r)); });
    }
  }
}

BOOST_AUTO_TEST_CASE(tssa_layer_records_its_assignment_and_layer_scale) {
  // The ToST block: gamma1, gamma2 registered at their initial value; the trace holds Pi (B, n, K)
  // summing to 1 over heads and no attention maps; with gamma = 0 the layer is the identity.
  CrateConfig c = wbtest::with_variant(gradcheck_config(), "tost");
  Generator gen(9);
  CrateLayer layer(c, gen);
  BOOST_TEST(layer.tssa() != nullptr);
  BOOST_TEST(layer.mssa() == nullptr);
  const auto named = layer.named_parameters();
  std::vector<std::string> names;
  for (const auto& [n, p] : named) names.push_back(n);
  for (const char* want : {"gamma1", "gamma2", "0.fn.qkv.weight", "0.fn.qkv.bias", "0.fn.temp", "0.fn.to_out.0.weight"})
    BOOST_TEST((std::find(names.begin(), names.end(), want) != names.end()), want);
  BOOST_TEST(static_cast<std::int64_t>(layer.parameter_count()) == count_layer_parameters(c));
  const Tensor x = randn({2, 5, 4}, 44);
  LayerTrace t;
  (void)layer.forward(x, &t);
  BOOST_TEST((t.assignment.shape() == Shape{2, 5, 2}));
  BOOST_TEST(!t.attention.defined());
  BOOST_TEST(wbtest::allclose(prim::sum(t.assignment, {2}), Tensor::ones({2, 5}, DType::f64), 1e-14, 0));
  for (const auto& [n, p] : named)
    if (n == "gamma1" || n == "gamma2") prim::fill_(p, 0.0);
  BOOST_TEST(wbtest::allclose(layer.forward(x), x, 0, 0));
}

BOOST_AUTO_TEST_SUITE_END()
