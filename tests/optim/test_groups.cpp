// Parameter groups, the decay / no-decay split, zero_grad, skipping parameters without a gradient,
// lr setters and construction-time validation.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "ops/optim/optim.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

// A toy model's named parameters: two matrices, a bias, a LayerNorm's weight and bias.
optim::NamedTensors toy_params() {
  return {
      {"embed.weight", wbtest::param(wbtest::randn({4, 3}, 1))},
      {"embed.bias", wbtest::param(wbtest::randn({3}, 2))},
      {"norm.weight", wbtest::param(Tensor::ones({3}, DType::f64))},
      {"norm.bias", wbtest::param(Tensor::zeros({3}, DType::f64))},
      {"head.weight", wbtest::param(wbtest::randn({3, 2}, 3))},
  };
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(groups)

BOOST_AUTO_TEST_CASE(split_decay_puts_1d_params_in_the_no_decay_group) {
  const auto named = toy_params();
  const auto groups = optim::split_decay(named, 0.01, 0.05);
  BOOST_TEST_REQUIRE(groups.size() == 2u);
  BOOST_TEST(groups[0].names == (std::vector<std::string>{"embed.weight", "head.weight"}),
             boost::test_tools::per_element());
  BOOST_TEST(groups[1].names == (std::vector<std::string>{"embed.bias", "norm.weight", "norm.bias"}),
             boost::test_tools::per_element());
  BOOST_TEST(groups[0].weight_decay == 0.05);
  BOOST_TEST(groups[1].weight_decay == 0.0);
  BOOST_TEST(groups[0].lr == 0.01);
  BOOST_TEST(groups[1].lr == 0.01);
  // the groups hold the same tensors (shallow handles), not copies
  BOOST_TEST(groups[0].params[1].storage() == named[4].second.storage());
  BOOST_TEST(groups[1].params[2].storage() == named[3].second.storage());
}

BOOST_AUTO_TEST_CASE(split_decay_with_a_custom_predicate) {
  // e.g. also exempt a positional embedding, which is 2-D
  optim::NamedTensors named = toy_params();
  named.emplace_back("pos_embedding", wbtest::param(wbtest::randn({5, 3}, 4)));
  const auto groups = optim::split_decay(named, 0.01, 0.05, [](const std::string& name, const Tensor& p) {
    return optim::is_norm_or_bias(name, p) || name == "pos_embedding";
  });
  BOOST_TEST(groups[0].params.size() == 2u);
  BOOST_TEST(groups[1].params.size() == 4u);
  BOOST_TEST(groups[1].names.back() == "pos_embedding");
}

BOOST_AUTO_TEST_CASE(no_decay_group_is_not_decayed) {
  // AdamW with zero gradients: the update term is 0 / (0 + eps) = 0, so only the decoupled decay
  // p *= 1 - lr * wd = 1 - 0.1 * 0.5 = 0.95 moves anything, and only in the decay group.
  const auto named = toy_params();
  std::vector<Tensor> before;
  for (const auto& [name, p] : named) {
    before.push_back(prim::clone(p));
    p.set_grad(prim::zeros_like(p));
  }
  optim::AdamW adam(optim::split_decay(named, 0.1, 0.5));
  adam.step();
  for (std::size_t i = 0; i < named.size(); ++i) {
    const Tensor& p = named[i].second;
    const double factor = p.dim() >= 2 ? 0.95 : 1.0;
    BOOST_TEST(wbtest::allclose(p, prim::unary(prim::Unary::mul_scalar, before[i], factor), 1e-15, 0.0),
               named[i].first);
  }
}

BOOST_AUTO_TEST_CASE(groups_have_their_own_lr) {
  Tensor a = wbtest::param(Tensor::from_vector(std::vector<double>{1}, {1}));
  Tensor b = wbtest::param(Tensor::from_vector(std::vector<double>{1}, {1}));
  optim::SGD sgd({{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.01}});
  a.set_grad(Tensor::ones({1}, DType::f64));
  b.set_grad(Tensor::ones({1}, DType::f64));
  sgd.step();
  BOOST_TEST(wbtest::allclose(a, {0.9}, 1e-15, 0.0));
  BOOST_TEST(wbtest::allclose(b, {0.99}, 1e-15, 0.0));
  // set_lr_factor scales each group's construction-time lr
  sgd.set_lr_factor(0.5);
  BOOST_TEST(sgd.lr(0) == 0.05);
  BOOST_TEST(sgd.lr(1) == 0.005);
  sgd.set_lr_factor(2.0);
  BOOST_TEST(sgd.lr(0) == 0.2);
  sgd.set_group_lr(1, 0.3);
  BOOST_TEST(sgd.lr(1) == 0.3);
  sgd.set_lr(0.7);
  BOOST_TEST(sgd.lr(0) == 0.7);
  BOOST_TEST(sgd.lr(1) == 0.7);
  BOOST_CHECK_THROW(sgd.set_lr(-1.0), std::invalid_argument);
  BOOST_CHECK_THROW(sgd.set_group_lr(2, 0.1), std::out_of_range);
  BOOST_TEST(sgd.params().size() == 2u);
}

BOOST_AUTO_TEST_CASE(step_skips_params_without_a_gradient) {
  Tensor a = wbtest::param(Tensor::from_vector(std::vector<double>{1, 2}, {2}));
  Tensor b = wbtest::param(Tensor::from_vector(std::vector<double>{3, 4}, {2}));
  optim::AdamW adam({{.params = {a, b}, .lr = 0.1, .weight_decay = 0.1}});
  a.set_grad(Tensor::from_vector(std::vector<double>{1, -1}, {2}));
  adam.step();
  BOOST_TEST(adam.state(0, 0).step == 1);
  BOOST_TEST(adam.state(0, 1).step == 0);
  BOOST_TEST(wbtest::allclose(b, {3, 4}, 0.0, 0.0));  // untouched, not even decayed
  BOOST_TEST(!wbtest::allclose(a, {1, 2}, 1e-3, 0.0));
  BOOST_TEST(!a.grad_fn());  // the update recorded nothing
  BOOST_TEST(a.is_leaf());
}

BOOST_AUTO_TEST_CASE(zero_grad_zero_fills_and_keeps_memory) {
  Tensor a = wbtest::param(Tensor::ones({3}, DType::f64));
  Tensor b = wbtest::param(Tensor::ones({2}, DType::f64));  // never gets a gradient
  optim::SGD sgd({{.params = {a, b}, .lr = 0.1}});
  a.set_grad(Tensor::full({3}, 2.0, DType::f64));
  const void* mem = a.grad().raw_data();
  sgd.zero_grad();
  BOOST_TEST(a.grad().raw_data() == mem);
  BOOST_TEST(wbtest::allclose(a.grad(), {0, 0, 0}, 0.0, 0.0));
  BOOST_TEST(!b.grad().defined());
}

BOOST_AUTO_TEST_CASE(construction_is_validated) {
  Tensor a = wbtest::param(Tensor::ones({3}, DType::f64));
  Tensor b = wbtest::param(Tensor::ones({3}, DType::f64));
  const std::vector<optim::ParamGroup> no_params = {optim::ParamGroup{}, optim::ParamGroup{}};
  BOOST_CHECK_THROW(optim::SGD{no_params}, std::invalid_argument);  // no parameters at all
  BOOST_CHECK_THROW(optim::SGD({{.params = {a}, .lr = -0.1}}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {a}, .weight_decay = -1}}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {a, b}, .names = {"a"}}}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {Tensor()}}}), std::invalid_argument);
  BOOST_CHECK_THROW(optim::SGD({{.params = {Tensor::zeros({2}, DType::i64)}}}), std::invalid_argument);
  try {
    optim::AdamW adam({{.params = {a}, .names = {"x"}}, {.params = {b, a}, .names = {"y", "x again"}}});
    BOOST_FAIL("a parameter in two groups must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(contains(e.what(), "group1.param1 (x again)"), e.what());
    BOOST_TEST(contains(e.what(), "group0.param0 (x)"), e.what());
  }
  // an empty group next to a non-empty one is fine (split_decay may produce one)
  optim::SGD ok({{.params = {a}}, {.params = {}}});
  BOOST_TEST(ok.groups().size() == 2u);
}

BOOST_AUTO_TEST_CASE(gradient_of_the_wrong_shape_is_named) {
  Tensor a = wbtest::param(Tensor::ones({3}, DType::f64));
  optim::SGD sgd({{.params = {a}, .names = {"blocks.0.norm.weight"}}});
  a.set_grad(Tensor::ones({4}, DType::f64));
  try {
    sgd.step();
    BOOST_FAIL("a mis-shaped gradient must throw");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(contains(e.what(), "blocks.0.norm.weight"), e.what());
    BOOST_TEST(contains(e.what(), "[4]"), e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
