// Divergence at any step: a non-finite weight (here at an epoch's last step, where an older loop kept
// a NaN checkpoint and wrote null into the metrics) or a non-finite evaluation stops the run with the
// step named; the last checkpoint kept is the last finite one, metrics.jsonl never holds null, and
// --resume from it works. A checkpoint with non-finite weights is refused by every loader, naming the
// tensor.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "autograd/grad_mode.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/run_state.hpp"
#include "ops/ops.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::read_bytes;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {

// 3 steps an epoch (96 images, batches of 32), 2 epochs.
TrainOptions divergence_run(const std::string& out) {
  TrainOptions o = wbtest::synthetic_run(out);
  o.batch_size = 32;
  o.log_every = 1;
  return o;
}

// The synthetic task whose update at training step `nan_step` (1-based) makes a weight NaN: a NaN is
// put into the head's bias after the forward (the bias takes no part in any backward formula, so the
// loss and the gradients stay finite and only the optimizer's update carries the NaN into the weights,
// as an overflowing update does). With `eval_inf`, the evaluation after epoch `eval_inf` reports an
// infinite loss from finite weights instead.
class DivergingTask : public wbtest::SyntheticTask {
 public:
  DivergingTask(const TrainOptions& o, std::int64_t nan_step, std::int64_t eval_inf = 0)
      : SyntheticTask(o), nan_step_(nan_step), eval_inf_(eval_inf) {}
  TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) override {
    TaskStep s = SyntheticTask::step(batch, phase, traces);
    if (phase == Phase::train) {
      ++train_steps_;
      eval_epoch_ = train_steps_ / 3;  // the evaluation that follows belongs to this epoch
      if (train_steps_ == nan_step_) {
        for (auto& [name, t] : model().named_parameters())
          if (name == "mlp_head.1.bias") {
            autograd::NoGradGuard ng;
            static_cast<float*>(t.raw_data())[0] = std::numeric_limits<float>::quiet_NaN();
          }
      }
    } else if (eval_inf_ > 0 && eval_epoch_ == eval_inf_) {
      s.loss = ops::mul_scalar(s.loss, std::numeric_limits<double>::infinity());
    }
    return s;
  }

 private:
  std::int64_t nan_step_, eval_inf_, train_steps_ = 0, eval_epoch_ = 0;
};

std::string train_error(Task& task, const TrainOptions& o) {
  try {
    train(task, o);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

bool contains_text(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(divergence)

BOOST_AUTO_TEST_CASE(a_nan_weight_at_an_epochs_last_step_keeps_the_last_finite_checkpoint) {
  TempDir dir;
  // The reference: 2 clean epochs.
  {
    wbtest::SyntheticTask clean(divergence_run(dir / "ref"));
    train(clean, divergence_run(dir / "ref"));
  }
  // Step 6 is epoch 2's last: the run must stop there, before its evaluation and checkpoint.
  const TrainOptions o = divergence_run(dir / "run");
  DivergingTask task(o, 6);
  const std::string msg = train_error(task, o);
  BOOST_TEST(contains_text(msg, "non-finite weight after epoch 2 step 6: 'mlp_head.1.bias' holds nan"), msg);
  BOOST_TEST(contains_text(msg, "the last checkpoint, all finite, is kept"), msg);
  const auto ckpt = latest_checkpoint(dir / "run");
  BOOST_REQUIRE(ckpt.has_value());
  const nlohmann::json state = read_train_state(*ckpt);
  BOOST_TEST(state.at("step").get<std::int64_t>() == 3);  // the end of epoch 1
  BOOST_TEST(describe_nonfinite(read_safetensors(ckpt->model).tensors).empty());
  const std::string metrics = read_bytes(dir / "run/metrics.jsonl");
  BOOST_TEST(!contains_text(metrics, "null"), metrics);
  BOOST_TEST(!contains_text(metrics, "\"step\":6"), metrics);
  // --resume (without the fault) continues from the finite checkpoint and ends as the clean run did.
  TrainOptions again = o;
  again.resume = true;
  wbtest::SyntheticTask clean(again);
  train(clean, again);
  BOOST_TEST((read_bytes(dir / "run/model.safetensors") == read_bytes(dir / "ref/model.safetensors")));
  BOOST_TEST(!contains_text(read_bytes(dir / "run/metrics.jsonl"), "null"));
}

BOOST_AUTO_TEST_CASE(a_non_finite_evaluation_stops_before_its_metrics_and_checkpoint) {
  TempDir dir;
  const TrainOptions o = divergence_run(dir / "run");
  DivergingTask task(o, 0, 2);
  const std::string msg = train_error(task, o);
  BOOST_TEST(contains_text(msg, "non-finite test_loss (inf) in the evaluation after epoch 2 (step 6)"), msg);
  const auto ckpt = latest_checkpoint(dir / "run");
  BOOST_REQUIRE(ckpt.has_value());
  BOOST_TEST(read_train_state(*ckpt).at("step").get<std::int64_t>() == 3);
  BOOST_TEST(!contains_text(read_bytes(dir / "run/metrics.jsonl"), "null"));
}

BOOST_AUTO_TEST_CASE(a_checkpoint_with_non_finite_weights_is_refused_naming_the_tensor) {
  TempDir dir;
  const TrainOptions o = divergence_run(dir / "run");
  wbtest::SyntheticTask task(o);
  train(task, o);
  SafeTensors w = read_safetensors(dir / "run/model.safetensors");
  for (auto& [name, t] : w.tensors)
    if (name == "transformer.layers.1.1.fn.weight") static_cast<float*>(t.raw_data())[7] = INFINITY;
  write_safetensors(dir / "bad.safetensors", w.tensors, w.metadata);
  try {
    load_model(dir / "bad.safetensors");  // what eval, logits, measure and grads load with
    BOOST_FAIL("non-finite weights must be refused");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(contains_text(e.what(), "bad.safetensors: tensor 'transformer.layers.1.1.fn.weight' holds inf at index 7"),
               e.what());
  }
  // --init-from refuses them too.
  TrainOptions fine = divergence_run(dir / "fine");
  fine.init_from = dir / "bad.safetensors";
  wbtest::SyntheticTask t2(fine);
  BOOST_TEST(contains_text(train_error(t2, fine), "holds inf"));
}

BOOST_AUTO_TEST_SUITE_END()
