// docs/ARCHITECTURE.md's "Adding a model family", followed for a toy family: a denoising
// autoencoder of two CRATE layers over 4 x 4 patches of 8 x 8 images. The model (step 1), its
// objective (step 2) and its task (step 3) are written here as a family would write them under
// crate/models/ and crate/train/objectives/; the loop (crate/train/loop.cpp) runs it unchanged:
// training lowers the loss, metrics.jsonl carries the task's own metric, the measurement hook and the
// sparse rate reduction term work on its layers, and a resumed run continues bit for bit, the task's
// own noise generator included.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "crate/io/safetensors.hpp"
#include "crate/models/vision/patch_embedding.hpp"
#include "crate/nn/init.hpp"
#include "crate/nn/linear.hpp"
#include "crate/train/loop.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::TempDir;

namespace {

// ---- step 1, the model (crate/models/toy/denoiser.hpp in a real family) ----
// patches (B, N, P*P*C) -> embed + positions -> CRATE layers -> linear decoder -> patches.
class ToyDenoiser : public Module {
 public:
  explicit ToyDenoiser(const BlockConfig& c, std::uint64_t seed) {
    Generator gen(seed);
    embed_ = &register_module("embed", std::make_shared<Linear>(16, c.dim, true, c.dtype, gen));
    pos_ = &register_parameter("pos", normal_init({1, 4, c.dim}, 0.02, c.dtype, gen));
    for (int l = 0; l < 2; ++l)
      layers_.push_back(&register_module(fmt::format("layers.{}", l), std::make_shared<CrateLayer>(c, gen)));
    decode_ = &register_module("decode", std::make_shared<Linear>(c.dim, 16, true, c.dtype, gen));
  }
  Tensor forward(const Tensor& patches, std::vector<LayerTrace>* traces = nullptr) const {
    Tensor z = embed_->forward(patches) + *pos_;
    if (traces != nullptr) traces->assign(layers_.size(), LayerTrace{});
    for (std::size_t l = 0; l < layers_.size(); ++l) z = layers_[l]->forward(z, traces ? &(*traces)[l] : nullptr);
    return decode_->forward(z);
  }
  std::vector<const CrateLayer*> layers() const { return {layers_.begin(), layers_.end()}; }

 private:
  Linear* embed_;
  Tensor* pos_;
  std::vector<CrateLayer*> layers_;
  Linear* decode_;
};

// ---- step 2, the objective (crate/train/objectives/toy.hpp) ----
Tensor denoising_loss(const Tensor& reconstruction, const Tensor& clean) { return ops::mse(reconstruction, clean); }

// ---- step 3, the task ----
class ToyTask : public Task {
 public:
  explicit ToyTask(const BlockConfig& c, std::uint64_t seed) : model_(c, seed), noise_(seed + 1) {}
  const std::string& name() const override { return name_; }
  Module& model() override { return model_; }
  TaskData open_data(const TrainOptions& o) override {
    wbtest::SyntheticTask images(o);  // the synthetic 8 x 8 image set and its loaders
    return images.open_data(o);
  }
  TaskStep step(const data::Batch& b, Phase phase, std::vector<LayerTrace>* traces) override {
    const Tensor clean = patchify(b.x, 4);  // (B, 4, 16)
    Tensor noise = Tensor::empty(clean.shape());
    prim::normal_(noise, 0.0, phase == Phase::train ? 0.3 : 0.0, noise_);
    const Tensor loss = denoising_loss(model_.forward(clean + noise, traces), clean);
    TaskStep s;
    s.loss = loss;
    s.count = b.x.size(0);
    s.sums["mse"] = loss.item() * static_cast<double>(s.count);
    return s;
  }
  std::vector<MetricSpec> metrics() const override { return {{"mse", "mse", false}}; }
  std::vector<const CrateLayer*> layers() const override { return model_.layers(); }
  Measurement measure(data::Loader& loader, const std::string& label) override {
    return crate::measure(model_, model_.layers(), loader, label,
                          [&](const data::Batch& b, std::vector<LayerTrace>& t) { (void)model_.forward(patchify(b.x, 4), &t); });
  }
  void save_weights(const std::string& path, std::map<std::string, std::string> metadata) override {
    NamedTensors tensors;
    for (auto& [n, t] : model_.named_parameters()) tensors.emplace_back(n, t.detach());
    write_safetensors(path, tensors, metadata);
  }
  LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) override {
    return crate::load_weights(model_, name_, file, path, mode);
  }
  std::vector<std::pair<std::string, Generator*>> generators() override { return {{"noise_rng", &noise_}}; }

 private:
  std::string name_ = "toy-denoiser";
  ToyDenoiser model_;
  Generator noise_;
};

BlockConfig toy_block() {
  BlockConfig c;
  c.dim = 16;
  c.heads = 2;
  c.dim_head = 8;
  return c;
}

TrainOptions toy_run(const std::string& out) {
  TrainOptions o = wbtest::synthetic_run(out);
  o.epochs = 4;
  o.lr = 3e-3;
  return o;
}

std::vector<nlohmann::json> epochs_of(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["kind"] != "epoch") continue;
    j.erase("seconds");
    j.erase("images_per_second");
    out.push_back(j);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(toy_family)

BOOST_AUTO_TEST_CASE(the_loop_trains_measures_and_resumes_a_new_family) {
  TempDir dir;
  TrainOptions o = toy_run(dir / "full");
  o.measure_every = 2;
  o.srr_weight = 0.01;
  ToyTask full(toy_block(), 3);
  const TrainResult r = train(full, o);
  BOOST_REQUIRE(r.epochs.size() == 4);
  BOOST_TEST(r.epochs.back().train_loss < 0.75 * r.epochs.front().train_loss);  // 0.32 -> 0.19 at this seed
  BOOST_TEST(r.epochs.back().test.at("mse") == r.epochs.back().test_loss);  // the metric is the task's own
  const auto logged = epochs_of(dir / "full/metrics.jsonl");
  BOOST_REQUIRE(logged.size() == 4);
  BOOST_TEST(logged.back().contains("train_mse"));
  BOOST_TEST(!logged.back().contains("train_accuracy"));
  // The measurement hook ran on the task's layers: at init and after epochs 2 and 4.
  std::ifstream ms(dir / "full/measurements.jsonl");
  std::string line;
  std::vector<std::int64_t> measured;
  while (std::getline(ms, line)) {
    const auto j = nlohmann::json::parse(line);
    measured.push_back(j["epoch"].get<std::int64_t>());
    BOOST_TEST(j["layers"].size() == 2u);
  }
  BOOST_TEST((measured == std::vector<std::int64_t>{0, 2, 4}));

  // Stopped after 1 epoch and mid-epoch checkpoints, then resumed: the same run bit for bit.
  TrainOptions first = toy_run(dir / "split");
  first.measure_every = 2;
  first.srr_weight = 0.01;
  first.stop_after_epochs = 1;
  first.checkpoint_every = 2;
  ToyTask a(toy_block(), 3);
  train(a, first);
  TrainOptions rest = first;
  rest.stop_after_epochs = 0;
  rest.resume = true;
  ToyTask b(toy_block(), 3);
  train(b, rest);
  BOOST_TEST((epochs_of(dir / "split/metrics.jsonl") == logged));
  const auto wa = read_safetensors(dir / "full/model.safetensors"), wb_ = read_safetensors(dir / "split/model.safetensors");
  BOOST_REQUIRE(wa.tensors.size() == wb_.tensors.size());
  for (std::size_t i = 0; i < wa.tensors.size(); ++i)
    BOOST_TEST((wa.tensors[i].second.to_vector<float>() == wb_.tensors[i].second.to_vector<float>()),
               wa.tensors[i].first);
}

BOOST_AUTO_TEST_SUITE_END()
