// The training driver on real Fashion-MNIST images (a few hundred, a tiny model): resume is bit for
// bit, metrics and checkpoints are written, bad options are refused.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "crate/io/safetensors.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/run_state.hpp"
#include "datasets/idx.hpp"
#include "tests/support/check.hpp"
#include "tests/support/datasets.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::read_bytes;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {


TrainOptions tiny_run(const std::string& out) {
  TrainOptions o;
  o.model = named_config("crate-mini-28");
  o.model.dim = 16;
  o.model.depth = 2;
  o.model.heads = 2;
  o.model.dim_head = 8;
  o.model.patch_size = 7;
  o.epochs = 2;
  o.batch_size = 32;
  o.train_limit = 192;
  o.test_limit = 64;
  o.lr = 2e-3;
  o.warmup_epochs = 1;
  o.out_dir = out;
  o.progress = false;
  o.plot = false;
  o.log_every = 2;
  o.seed = 11;
  return o;
}

std::vector<nlohmann::json> epoch_lines(const std::string& p) {
  std::vector<nlohmann::json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] == "epoch") {
      j.erase("seconds");
      j.erase("images_per_second");
      out.push_back(j);
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(train_driver)

BOOST_AUTO_TEST_CASE(resume_is_bit_for_bit, *wbtest::require_dataset("fashion-mnist")) {
  TempDir dir;
  // 2 epochs in one run ...
  const auto full = train(tiny_run(dir / "full"));
  // ... against 1 epoch, stop, resume, 1 more epoch.
  TrainOptions first = tiny_run(dir / "split");
  first.stop_after_epochs = 1;
  const auto half = train(first);
  BOOST_TEST(half.epochs.size() == 1u);
  TrainOptions second = tiny_run(dir / "split");
  second.resume = true;
  const auto rest = train(second);
  BOOST_TEST(rest.epochs.size() == 2u);
  BOOST_TEST(read_bytes(dir / "full/model.safetensors") == read_bytes(dir / "split/model.safetensors"));
  BOOST_TEST(full.epochs.back().test_accuracy() == rest.epochs.back().test_accuracy());
  BOOST_TEST(full.epochs.back().train_loss == rest.epochs.back().train_loss);
  BOOST_TEST(epoch_lines(dir / "full/metrics.jsonl") == epoch_lines(dir / "split/metrics.jsonl"));
}

BOOST_AUTO_TEST_CASE(mid_epoch_checkpoint_resumes_exactly, *wbtest::require_dataset("fashion-mnist")) {
  TempDir dir;
  TrainOptions a = tiny_run(dir / "a");
  a.epochs = 1;
  train(a);
  // The same run with a checkpoint every 2 steps; resuming from the last one (step 4 of 6) must end
  // where run a ended.
  TrainOptions b = tiny_run(dir / "b");
  b.epochs = 1;
  b.checkpoint_every = 2;
  train(b);
  const std::string state = read_bytes(latest_checkpoint(dir / "b")->state);
  BOOST_TEST(read_bytes(dir / "a/model.safetensors") == read_bytes(dir / "b/model.safetensors"));
  BOOST_TEST(state.find("\\\"batch\\\":0") != std::string::npos);  // the end-of-epoch checkpoint came last
}

BOOST_AUTO_TEST_CASE(run_directory_contents_and_refusals, *wbtest::require_dataset("fashion-mnist")) {
  TempDir dir;
  TrainOptions o = tiny_run(dir / "r");
  o.epochs = 1;
  const auto r = train(o);
  for (const char* f : {"options.json", "metrics.jsonl", "model.safetensors", "checkpoint-000001/model.safetensors",
                        "checkpoint-000001/train_state.safetensors"})
    BOOST_TEST(fs::exists(dir / ("r/" + std::string(f))), f);
  BOOST_TEST(fs::equivalent(dir / "r/model.safetensors", dir / "r/checkpoint-000001/model.safetensors"));
  BOOST_TEST(r.epochs.size() == 1u);
  BOOST_TEST((r.epochs[0].test_accuracy() >= 0.0 && r.epochs[0].test_accuracy() <= 1.0));
  // An existing run is not overwritten without --resume.
  BOOST_CHECK_THROW(train(o), std::invalid_argument);
  // Resuming with different training options is refused.
  TrainOptions changed = o;
  changed.resume = true;
  changed.lr = 0.5;
  BOOST_CHECK_THROW(train(changed), std::invalid_argument);
  // A checkpoint whose weights and state are of different steps (damage; or an older whitebox's layout,
  // where a kill between its two files left them apart) is refused.
  {
    const std::string model = latest_checkpoint(dir / "r")->model;
    auto w = read_safetensors(model);
    w.metadata["whitebox.step"] = "999";
    write_safetensors(model, w.tensors, w.metadata);
    TrainOptions again = o;
    again.resume = true;
    try {
      train(again);
      BOOST_FAIL("mismatched checkpoint halves must be refused");
    } catch (const std::runtime_error& e) {
      BOOST_TEST(std::string(e.what()).find("step 999") != std::string::npos, e.what());
    }
  }
  // A model that does not fit the data is refused with both shapes named.
  TrainOptions wrong = tiny_run(dir / "w");
  wrong.model = named_config("crate-mini-32");
  try {
    train(wrong);
    BOOST_FAIL("a 32x32x3 model on Fashion-MNIST must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("28x28") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(diverging_loss_stops_with_a_clear_error, *wbtest::require_dataset("fashion-mnist")) {
  TempDir dir;
  TrainOptions o = tiny_run(dir / "nan");
  o.lr = 1e30;  // the first update makes the weights overflow
  o.clip_grad = 0;
  o.warmup_epochs = 0;
  o.epochs = 1;
  try {
    train(o);
    BOOST_FAIL("a run with lr 1e30 must stop on a non-finite loss");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).find("non-finite") != std::string::npos, e.what());
  }
  BOOST_TEST(!fs::exists(dir / "nan/model.safetensors"));  // nothing half-written
}

BOOST_AUTO_TEST_SUITE_END()
