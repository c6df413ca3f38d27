// Optimizer state export / import: a run resumed from exported state continues bit for bit, and a
// state with missing, mis-shaped or unknown entries is refused with the entry's name.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "ops/optim/optim.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {

using Factory = std::function<std::unique_ptr<optim::Optimizer>(const optim::NamedTensors&)>;

optim::NamedTensors fresh_params() {
  return {
      {"w", wbtest::param(wbtest::randn({5, 4}, 11, DType::f32))},
      {"b", wbtest::param(wbtest::randn({4}, 12, DType::f32))},
      {"v", wbtest::param(wbtest::randn({4, 3}, 13, DType::f32))},
  };
}

optim::NamedTensors clone_params(const optim::NamedTensors& named) {
  optim::NamedTensors out;
  for (const auto& [name, p] : named) out.emplace_back(name, wbtest::param(prim::clone(p)));
  return out;
}

// Training steps [t0, t1): fixed pseudo-random gradients per (step, parameter), the warmup + cosine
// schedule, clipping, then the update.
void train(optim::Optimizer& opt, const optim::NamedTensors& named, std::int64_t t0, std::int64_t t1) {
  const optim::Schedule schedule({.base_lr = 1e-2, .warmup = 2, .total = 6, .min_lr = 1e-3});
  for (std::int64_t t = t0; t < t1; ++t) {
    for (std::size_t i = 0; i < named.size(); ++i) {
      const Tensor& p = named[i].second;
      p.set_grad(wbtest::randn(p.shape(), 1000 + 10 * static_cast<std::uint64_t>(t) + i, p.dtype(), 0.3));
    }
    schedule.apply(opt, t);
    optim::clip_grad_norm_(opt.params(), 1.0);
    opt.step();
  }
}

const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> all = {
      {"SGD", [](const optim::NamedTensors& n) {
         return std::make_unique<optim::SGD>(optim::split_decay(n, 1e-2, 0.1), optim::SGDOptions{.momentum = 0.9});
       }},
      {"AdamW", [](const optim::NamedTensors& n) {
         return std::make_unique<optim::AdamW>(optim::split_decay(n, 1e-2, 0.1));
       }},
      {"Lion", [](const optim::NamedTensors& n) {
         return std::make_unique<optim::Lion>(optim::split_decay(n, 1e-2, 0.5));
       }},
  };
  return all;
}


bool identical(const optim::NamedTensors& x, const optim::NamedTensors& y) {
  for (std::size_t i = 0; i < x.size(); ++i)
    if (x[i].second.to_vector<float>() != y[i].second.to_vector<float>()) return false;
  return true;
}

// Replaces (or appends) one entry of a state.
optim::NamedTensors with_entry(optim::NamedTensors state, const std::string& name, const Tensor& t) {
  const auto it = std::find_if(state.begin(), state.end(), [&](const auto& e) { return e.first == name; });
  if (it == state.end()) state.emplace_back(name, t);
  else it->second = t;
  return state;
}

optim::NamedTensors without_entry(optim::NamedTensors state, const std::string& name) {
  std::erase_if(state, [&](const auto& e) { return e.first == name; });
  return state;
}

// Loads `state` into `opt` and returns the invalid_argument message ("" when nothing was thrown).
std::string load_error(optim::Optimizer& opt, const optim::NamedTensors& state) {
  try {
    opt.load_state_tensors(state);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(state)

BOOST_AUTO_TEST_CASE(resume_from_exported_state_is_bit_identical) {
  for (const auto& [kind, make] : factories()) {
    // A: four uninterrupted steps.
    const auto pa = fresh_params();
    const auto a = make(pa);
    train(*a, pa, 0, 4);
    // B: two steps, export, a new optimizer over copies of the parameters, import, two more steps.
    const auto pb = fresh_params();
    const auto b = make(pb);
    train(*b, pb, 0, 2);
    const optim::NamedTensors saved = b->state_tensors();
    const auto pc = clone_params(pb);
    const auto c = make(pc);
    c->load_state_tensors(saved);
    train(*c, pc, 2, 4);
    BOOST_TEST(identical(pa, pc), kind << ": resumed parameters differ from the uninterrupted run");
    // Control: resuming without the state gives different parameters, so the check above has teeth.
    const auto pd = clone_params(pb);
    const auto d = make(pd);
    train(*d, pd, 2, 4);
    BOOST_TEST(!identical(pa, pd), kind << ": the optimizer state made no difference");
  }
}

BOOST_AUTO_TEST_CASE(state_names_and_scalars) {
  const auto named = fresh_params();
  optim::AdamW adam(optim::split_decay(named, 1e-2, 0.1));
  train(adam, named, 0, 2);
  const auto state = adam.state_tensors();
  std::vector<std::string> names;
  for (const auto& [name, t] : state) names.push_back(name);
  const std::vector<std::string> want = {
      "group0.lr", "group0.weight_decay",
      "group0.param0.step", "group0.param0.exp_avg", "group0.param0.exp_avg_sq",   // w
      "group0.param1.step", "group0.param1.exp_avg", "group0.param1.exp_avg_sq",   // v
      "group1.lr", "group1.weight_decay",
      "group1.param0.step", "group1.param0.exp_avg", "group1.param0.exp_avg_sq",   // b
  };
  BOOST_TEST(names == want, boost::test_tools::per_element());
  BOOST_TEST(state[2].second.dtype() == DType::i64);
  BOOST_TEST(state[2].second.item() == 2.0);
  BOOST_TEST(state[1].second.item() == 0.1);
  BOOST_TEST(state[9].second.item() == 0.0);
  BOOST_TEST(state[0].second.item() == adam.lr(0));
  BOOST_TEST((state[11].second.shape() == Shape{4}));
  BOOST_TEST(state[11].second.dtype() == DType::f32);
  // a snapshot: further steps do not change the exported tensors
  const auto before = state[3].second.to_vector<float>();
  train(adam, named, 2, 3);
  BOOST_TEST(state[3].second.to_vector<float>() == before, boost::test_tools::per_element());
  BOOST_TEST((adam.state(0, 0).buffers[0].to_vector<float>() != before));
}

BOOST_AUTO_TEST_CASE(load_restores_lr_and_step_counts) {
  const auto named = fresh_params();
  optim::Lion lion(optim::split_decay(named, 1e-2, 0.5));
  train(lion, named, 0, 3);
  const auto fresh = clone_params(named);
  optim::Lion other(optim::split_decay(fresh, 7.0, 0.25));
  other.load_state_tensors(lion.state_tensors());
  BOOST_TEST(other.lr(0) == lion.lr(0));
  BOOST_TEST(other.groups()[0].weight_decay == 0.5);
  BOOST_TEST(other.state(1, 0).step == 3);
  BOOST_TEST(other.state(0, 1).buffers[0].to_vector<float>() == lion.state(0, 1).buffers[0].to_vector<float>(),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_states_are_refused_naming_the_entry) {
  const auto named = fresh_params();
  optim::AdamW adam(optim::split_decay(named, 1e-2, 0.1));
  train(adam, named, 0, 2);
  const auto good = adam.state_tensors();
  const auto m_before = adam.state(0, 0).buffers[0].to_vector<float>();

  std::string msg = load_error(adam, without_entry(good, "group1.param0.exp_avg_sq"));
  BOOST_TEST(wbtest::contains(msg, "missing entry 'group1.param0.exp_avg_sq' (b)"), msg);
  msg = load_error(adam, with_entry(good, "group0.param0.exp_avg", Tensor::zeros({4, 5}, DType::f32)));
  BOOST_TEST(wbtest::contains(msg, "'group0.param0.exp_avg' (w) is [4, 5] f32, expected [5, 4] f32"), msg);
  msg = load_error(adam, with_entry(good, "group0.param1.exp_avg", Tensor::zeros({4, 3}, DType::f64)));
  BOOST_TEST(wbtest::contains(msg, "'group0.param1.exp_avg' (v) is [4, 3] f64"), msg);
  msg = load_error(adam, with_entry(good, "group0.param0.step", Tensor::scalar(-1, DType::i64)));
  BOOST_TEST(wbtest::contains(msg, "group0.param0.step"), msg);
  msg = load_error(adam, with_entry(good, "group0.param0.step", Tensor::scalar(2, DType::f64)));
  BOOST_TEST(wbtest::contains(msg, "'group0.param0.step' (w) is [] f64, expected [] i64"), msg);
  msg = load_error(adam, with_entry(good, "group2.lr", Tensor::scalar(0.1, DType::f64)));
  BOOST_TEST(wbtest::contains(msg, "unknown entry 'group2.lr'"), msg);
  optim::NamedTensors twice = good;
  twice.push_back(good[0]);
  msg = load_error(adam, twice);
  BOOST_TEST(wbtest::contains(msg, "'group0.lr' appears twice"), msg);

  // a Lion over the same parameters has no exp_avg_sq: loading AdamW state into it is refused
  optim::Lion lion(optim::split_decay(named, 1e-2, 0.1));
  msg = load_error(lion, good);
  BOOST_TEST(wbtest::contains(msg, "unknown entry 'group0.param0.exp_avg_sq'"), msg);

  // nothing was written by the failed loads
  BOOST_TEST(adam.state(0, 0).step == 2);
  BOOST_TEST(adam.state(0, 0).buffers[0].to_vector<float>() == m_before, boost::test_tools::per_element());
  BOOST_TEST(load_error(adam, good).empty());
}

BOOST_AUTO_TEST_SUITE_END()
