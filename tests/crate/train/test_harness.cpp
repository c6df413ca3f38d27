// What the coming families need from the harness, on the synthetic task (no dataset files):
// --init-from (strict and partial loads with the problems named), --freeze (frozen tensors stay
// bit for bit, the rest train; a pattern that matches nothing is refused), and batch_gradients
// (`whitebox grads`) against central differences of the loss in float64.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "crate/io/checkpoint.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/train/gradients.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/run_state.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::SyntheticTask;
using wbtest::TempDir;

namespace {

std::map<std::string, std::vector<double>> weights_of(const std::string& path) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : read_safetensors(path).tensors) out[name] = prim::cast(t, DType::f64).to_vector<double>();
  return out;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(harness)

BOOST_AUTO_TEST_CASE(init_from_and_freeze_make_a_linear_probe) {
  TempDir dir;
  TrainOptions base = wbtest::synthetic_run(dir / "base");
  SyntheticTask base_task(base);
  train(base_task, base);
  const auto trained = weights_of(dir / "base/model.safetensors");

  TrainOptions probe = wbtest::synthetic_run(dir / "probe");
  probe.seed = probe.model.seed = 99;  // a different initialization, replaced by --init-from
  probe.init_from = dir / "base/model.safetensors";
  probe.freeze = {"transformer.*", "to_patch_embedding.*", "pos_embedding", "cls_token"};
  SyntheticTask probe_task(probe);
  train(probe_task, probe);
  const auto probed = weights_of(dir / "probe/model.safetensors");
  BOOST_REQUIRE(probed.size() == trained.size());
  std::int64_t changed = 0;
  for (const auto& [name, w] : trained) {
    const bool head = name.rfind("mlp_head.", 0) == 0;
    if (!head) BOOST_TEST((probed.at(name) == w), name << " is frozen and must stay bit for bit");
    changed += probed.at(name) != w;
  }
  BOOST_TEST(changed == 4);  // mlp_head.{0,1}.{weight,bias}: the probe trained the head alone
}

BOOST_AUTO_TEST_CASE(init_from_names_every_mismatch_and_partial_loads_the_rest) {
  TempDir dir;
  CrateConfig deeper = wbtest::synthetic_config();
  deeper.depth = 3;
  deeper.num_classes = 5;
  save_model(dir / "deeper.safetensors", CrateModel(deeper));

  TrainOptions o = wbtest::synthetic_run(dir / "strict");
  o.epochs = 1;
  o.init_from = dir / "deeper.safetensors";
  SyntheticTask strict(o);
  const std::string msg = message_of([&] { train(strict, o); });
  BOOST_TEST(msg.find("deeper.safetensors: does not match model 'crate-synthetic'") != std::string::npos, msg);
  BOOST_TEST(msg.find("unexpected 'transformer.layers.2.0.norm.bias'") != std::string::npos, msg);
  BOOST_TEST(msg.find("'mlp_head.1.weight' is [5, 16] in the file, the model needs [3, 16]") != std::string::npos, msg);

  // Partial: every tensor of the two shared layers and the embedding loads; the head does not.
  SyntheticTask partial(wbtest::synthetic_run(dir / "unused"));
  const LoadReport r = partial.load_weights(read_safetensors(dir / "deeper.safetensors"), dir / "deeper.safetensors",
                                            LoadMode::partial);
  const CrateModel reference(deeper);
  std::int64_t expected = 0;
  for (const auto& [name, t] : partial.model().named_parameters()) expected += name.rfind("mlp_head.1", 0) != 0;
  BOOST_TEST(r.loaded == expected);
  const auto file = weights_of(dir / "deeper.safetensors");
  for (const auto& [name, t] : partial.model().named_parameters())
    if (name.rfind("mlp_head.1", 0) != 0)
      BOOST_TEST((prim::cast(t, DType::f64).to_vector<double>() == file.at(name)), name);

  // A file that shares nothing is refused even in partial mode.
  write_safetensors(dir / "other.safetensors", {{"w", Tensor::zeros({2})}});
  const std::string none = message_of([&] {
    partial.load_weights(read_safetensors(dir / "other.safetensors"), dir / "other.safetensors", LoadMode::partial);
  });
  BOOST_TEST(none.find("no tensor matches model 'crate-synthetic'") != std::string::npos, none);
}

BOOST_AUTO_TEST_CASE(freeze_patterns_are_checked) {
  TempDir dir;
  TrainOptions o = wbtest::synthetic_run(dir / "x");
  o.freeze = {"transformer.*", "mlp_head.2.*"};
  SyntheticTask t1(o);
  const std::string msg = message_of([&] { train(t1, o); });
  BOOST_TEST(msg.find("--freeze 'mlp_head.2.*': no parameter matches") != std::string::npos, msg);
  o.out_dir = dir / "y";
  o.freeze = {"*"};
  SyntheticTask t2(o);
  const std::string all = message_of([&] { train(t2, o); });
  BOOST_TEST(all.find("every parameter is frozen") != std::string::npos, all);
  o.freeze.clear();
  o.init_partial = true;
  BOOST_CHECK_THROW(validate(o), std::invalid_argument);  // --init-partial without --init-from
}

BOOST_AUTO_TEST_CASE(a_malformed_train_state_is_named_on_resume) {
  TempDir dir;
  TrainOptions o = wbtest::synthetic_run(dir / "run");
  o.stop_after_epochs = 1;
  SyntheticTask first(o);
  train(first, o);
  // An older run's state (no "sums"): resuming names the file instead of a raw JSON error.
  const std::string state = latest_checkpoint(dir / "run")->state;
  SafeTensors st = read_safetensors(state);
  auto j = nlohmann::json::parse(st.metadata.at("whitebox.train_state"));
  j.erase("sums");
  write_safetensors(state, st.tensors, {{"whitebox.train_state", j.dump()}});
  o.stop_after_epochs = 0;
  o.resume = true;
  SyntheticTask again(o);
  const std::string msg = message_of([&] { train(again, o); });
  BOOST_TEST(msg.find(state + ": malformed 'whitebox.train_state'") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(batch_gradients_are_the_derivative_of_the_loss) {
  // float64: along a random direction v over every parameter, (L(w + h v) - L(w - h v)) / 2h = <g, v>.
  TrainOptions o = wbtest::synthetic_run("unused");
  o.model.dtype = DType::f64;
  o.label_smoothing = 0.1;
  for (const double srr : {0.0, 0.3}) {
    SyntheticTask task(o);
    TrainOptions data_opts = o;
    data_opts.batch_size = 6;
    const TaskData d = task.open_data(data_opts);
    const data::Batch b = d.test->batch(0, 0);
    const BatchGradients g = batch_gradients(task, b, srr);
    const NamedTensors params = task.model().named_parameters();
    BOOST_REQUIRE(g.grads.size() == params.size());
    Generator gen(3);
    std::vector<Tensor> dirs;
    double predicted = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      BOOST_TEST(g.grads[i].first == params[i].first);
      Tensor v = Tensor::empty(params[i].second.shape(), DType::f64);
      prim::normal_(v, 0.0, 1.0, gen);
      predicted += prim::sum_all(prim::binary(prim::Binary::mul, v, g.grads[i].second));
      dirs.push_back(v);
    }
    auto loss_at = [&](double h) {
      for (std::size_t i = 0; i < params.size(); ++i) prim::axpy_(params[i].second, dirs[i], h);
      const double l = batch_gradients(task, b, srr).loss;
      for (std::size_t i = 0; i < params.size(); ++i) prim::axpy_(params[i].second, dirs[i], -h);
      return l;
    };
    const double h = 1e-5;
    const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
    BOOST_TEST(std::abs(numeric - predicted) <= 1e-6 * std::max(1.0, std::abs(predicted)),
               "srr " << srr << ": numeric " << numeric << " vs <g, v> " << predicted);
    // Negative control: a wrong gradient (one tensor dropped) must not pass the same check.
    const double dropped = predicted - prim::sum_all(prim::binary(prim::Binary::mul, dirs[0], g.grads[0].second));
    BOOST_TEST(std::abs(numeric - dropped) > 1e-6 * std::max(1.0, std::abs(predicted)));
  }
}

BOOST_AUTO_TEST_SUITE_END()
