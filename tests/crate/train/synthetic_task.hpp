// A classification task on a small synthetic image set held in memory (no dataset files), for tests
// of the training loop and its harness: 1 x 8 x 8 images of 3 classes, each class a brighter band of
// rows plus seeded noise, so a tiny CRATE learns it within a few epochs.
#pragma once

#include <memory>

#include "crate/train/objectives/classification.hpp"
#include "tests/crate/fixtures.hpp"
#include "datasets/dataset.hpp"
#include "tensor/rng.hpp"

namespace wbtest {

inline wb::data::Dataset synthetic_images(std::int64_t n, std::uint64_t seed) {
  wb::data::Dataset d;
  d.name = "synthetic";
  d.channels = 1, d.height = 8, d.width = 8, d.num_classes = 3;
  wb::Generator gen(seed);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t label = i % 3;
    d.labels.push_back(label);
    for (std::int64_t y = 0; y < 8; ++y)
      for (std::int64_t x = 0; x < 8; ++x) {
        const double base = (y / 3 == label) ? 200.0 : 40.0;
        const double v = base + 30.0 * (gen.uniform() - 0.5);
        d.pixels.push_back(static_cast<std::uint8_t>(v));
      }
  }
  d.validate();
  return d;
}

// A tiny CRATE for 8 x 8 x 1 images of 3 classes: 4 x 4 patches, d = 16, 2 layers of 2 heads of 8.
inline wb::crate::CrateConfig synthetic_config() {
  return tiny_config({.image_size = 8, .patch_size = 4, .channels = 1, .num_classes = 3, .dim = 16, .depth = 2,
                      .heads = 2, .dim_head = 8},
                     wb::DType::f32, 0, "crate-synthetic");
}

class SyntheticTask : public wb::crate::ClassificationTask {
 public:
  using ClassificationTask::ClassificationTask;
  wb::crate::TaskData open_data(const wb::crate::TrainOptions& o) override {
    auto train = std::make_shared<const wb::data::Dataset>(synthetic_images(96, 1));
    auto test = std::make_shared<const wb::data::Dataset>(synthetic_images(48, 2));
    wb::data::LoaderOptions lo;
    lo.batch_size = o.batch_size;
    lo.seed = o.seed;
    wb::crate::TaskData d;
    d.train = std::make_unique<wb::data::Loader>(train, lo);
    d.test = std::make_unique<wb::data::Loader>(test, wb::data::eval_options(lo));
    if (o.measure_every > 0) d.measure = std::make_unique<wb::data::Loader>(test, wb::data::eval_options(lo));
    return d;
  }
};

inline wb::crate::TrainOptions synthetic_run(const std::string& out) {
  wb::crate::TrainOptions o;
  o.model = synthetic_config();
  o.epochs = 2;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.warmup_epochs = 0;
  o.out_dir = out;
  o.progress = false;
  o.plot = false;
  o.log_every = 2;
  o.seed = 5;
  o.model.seed = o.seed;
  return o;
}

}  // namespace wbtest
