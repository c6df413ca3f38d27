#include <boost/test/unit_test.hpp>

#include <memory>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

BOOST_AUTO_TEST_SUITE(engine)

BOOST_AUTO_TEST_CASE(scalar_backward_reaches_leaves) {
  // y = sum(a * b + a): dy/da = b + 1, dy/db = a
  Tensor a = wbtest::param(Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}));
  Tensor b = wbtest::param(Tensor::from_vector(std::vector<double>{4, 5, 6}, {3}));
  Tensor y = ops::sum(a * b + a);
  BOOST_TEST(y.item() == 4 + 10 + 18 + 6);
  autograd::backward(y);
  BOOST_TEST(wbtest::allclose(a.grad(), {5, 6, 7}));
  BOOST_TEST(wbtest::allclose(b.grad(), {1, 2, 3}));
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_until_zeroed) {
  Tensor w = wbtest::param(Tensor::from_vector(std::vector<double>{2}, {1}));
  for (int i = 0; i < 3; ++i) autograd::backward(ops::sum(w * 3.0));
  BOOST_TEST(wbtest::allclose(w.grad(), {9}));
  w.zero_grad();
  BOOST_TEST(wbtest::allclose(w.grad(), {0}));
  autograd::backward(ops::sum(w * 3.0));
  BOOST_TEST(wbtest::allclose(w.grad(), {3}));
}

BOOST_AUTO_TEST_CASE(fan_out_x_times_x_and_x_plus_x) {
  Tensor x = wbtest::param(Tensor::from_vector(std::vector<double>{3, -2}, {2}));
  autograd::backward(ops::sum(x * x));  // d/dx x^2 = 2x
  BOOST_TEST(wbtest::allclose(x.grad(), {6, -4}));
  x.zero_grad();
  autograd::backward(ops::sum(x + x));  // = 2
  BOOST_TEST(wbtest::allclose(x.grad(), {2, 2}));
  x.zero_grad();
  // diamond: h = 2x used by two branches that meet again
  Tensor h = x * 2.0;
  autograd::backward(ops::sum(h * h + ops::exp(h)));  // d/dx = (2h + e^h) * 2
  BOOST_TEST(wbtest::allclose(x.grad(), {(12 + std::exp(6.0)) * 2, (-8 + std::exp(-4.0)) * 2}));
}

BOOST_AUTO_TEST_CASE(non_scalar_output_needs_a_seed) {
  Tensor x = wbtest::param(Tensor::from_vector(std::vector<double>{1, 2}, {2}));
  Tensor y = x * 3.0;
  BOOST_CHECK_THROW(autograd::backward(y), std::invalid_argument);
  BOOST_CHECK_THROW(autograd::backward(y, Tensor::ones({3}, DType::f64)), std::invalid_argument);
  autograd::backward(y, Tensor::from_vector(std::vector<double>{1, 10}, {2}));
  BOOST_TEST(wbtest::allclose(x.grad(), {3, 30}));
}

BOOST_AUTO_TEST_CASE(no_grad_guard_and_detach_record_nothing) {
  Tensor x = wbtest::param(Tensor::ones({2}, DType::f64));
  {
    autograd::NoGradGuard g;
    Tensor y = x * 2.0;
    BOOST_TEST(!y.grad_fn());
    BOOST_TEST(!y.requires_grad());
    BOOST_CHECK_THROW(autograd::backward(ops::sum(y)), std::invalid_argument);
  }
  BOOST_TEST(autograd::GradMode::enabled());
  Tensor d = (x * 2.0).detach();
  BOOST_TEST(!d.grad_fn());
  BOOST_TEST(!(d * 3.0).grad_fn());
  BOOST_CHECK_THROW((x * 2.0).requires_grad_(), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(saved_tensors_are_released_after_backward) {
  Tensor x = wbtest::param(Tensor::ones({2}, DType::f64));
  Tensor y = ops::sum(x * x);
  autograd::backward(y);
  try {
    autograd::backward(y);
    BOOST_FAIL("a second backward through a released graph must throw");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("retain_graph") != std::string::npos, e.what());
  }
  Tensor z = ops::sum(x * x);
  autograd::backward(z, Tensor(), {.retain_graph = true});
  autograd::backward(z);
  BOOST_TEST(wbtest::allclose(x.grad(), {2 + 2 + 2, 2 + 2 + 2}));
}

BOOST_AUTO_TEST_CASE(graph_has_no_reference_cycles) {
  Tensor x = wbtest::param(Tensor::ones({4}, DType::f64));
  std::weak_ptr<autograd::Node> watch;
  {
    Tensor y = ops::exp(x * x);
    watch = y.grad_fn();
    BOOST_TEST(!watch.expired());
  }
  BOOST_TEST(watch.expired());  // the output was the only owner of its graph
}

BOOST_AUTO_TEST_CASE(hundred_thousand_op_chain_backpropagates) {
  // Both the backward walk and the teardown of the graph are iterative: no stack overflow.
  Tensor x = wbtest::param(Tensor::ones({1}, DType::f64));
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y + 1e-6;
  autograd::backward(ops::sum(y));
  BOOST_TEST(wbtest::allclose(x.grad(), {1.0}));
  // an unreleased chain also tears down without recursion
  Tensor z = x;
  for (int i = 0; i < 100000; ++i) z = z * 1.0;
  z = Tensor();
}

BOOST_AUTO_TEST_CASE(training_loop_memory_stays_flat) {
  // A 1,000-step loop (matmul, relu, mse, manual SGD) must not grow live memory: graphs and saved
  // tensors are freed every step.
  Generator g(3);
  Tensor w = Tensor::empty({16, 8}, DType::f32);
  prim::normal_(w, 0, 0.1, g);
  w.requires_grad_();
  const Tensor xb = wbtest::randn({32, 16}, 4, DType::f32);
  const Tensor yb = wbtest::randn({32, 8}, 5, DType::f32);
  std::int64_t live_at_10 = 0;
  for (int step = 0; step < 1000; ++step) {
    if (step == 10) live_at_10 = host_memory_stats().live_bytes;
    Tensor loss = ops::mse(ops::relu(ops::matmul(xb, w)), yb);
    autograd::backward(loss);
    {
      autograd::NoGradGuard ng;
      prim::axpy_(w, w.grad(), -0.01);
      w.zero_grad();
    }
  }
  BOOST_TEST(host_memory_stats().live_bytes == live_at_10);
}

BOOST_AUTO_TEST_CASE(dot_dump_names_ops) {
  Tensor x = wbtest::param(Tensor::ones({2}, DType::f64));
  const std::string dot = autograd::to_dot(ops::sum(ops::exp(x)));
  BOOST_TEST(dot.find("exp") != std::string::npos, dot);
  BOOST_TEST(dot.find("sum") != std::string::npos, dot);
  BOOST_TEST(dot.find("leaf [2]") != std::string::npos, dot);
}

BOOST_AUTO_TEST_CASE(gradcheck_catches_a_wrong_backward) {
  // A deliberately wrong node (gradient off by a factor 2) must fail the checker: the harness itself
  // can fail.
  struct Wrong final : autograd::Node {
    std::string_view name() const override { return "wrong"; }
    std::vector<Tensor> backward(const Tensor& dy) override { return {prim::unary(prim::Unary::mul_scalar, dy, 2.0)}; }
  };
  auto f = [](const std::vector<Tensor>& in) {
    Tensor y = prim::clone(in[0]);
    autograd::attach(y, std::make_shared<Wrong>(), {in[0]});
    return y;
  };
  const auto r = autograd::gradcheck(f, {wbtest::param(wbtest::randn({3}, 1))});
  BOOST_TEST(!r.ok, r.message());
  BOOST_TEST(r.worst.find("input 0") != std::string::npos, r.worst);
  const auto rd = autograd::gradcheck_direction(f, {wbtest::param(wbtest::randn({3}, 1))});
  BOOST_TEST(!rd.ok, rd.message());
}

BOOST_AUTO_TEST_SUITE_END()
