// Masked autoencoding (crate-spec §6; crate-family.md §2.1 "loss details"): the reconstruction loss
// and the task that trains a MaskedAutoencoder (models/mae/) with it.
//
//   target = patchify(images)                      (B, N, P*P*C), per patch (row, column, channel)
//   norm_pix: target = (t - mean_t) / sqrt(var_t + 1e-6) per patch, var unbiased (divides by P*P*C - 1)
//   loss   = sum_{b,i} mask_{b,i} mean_c (pred - target)^2 / sum mask     (masked patches only)
//
// The task draws each training batch's mask from its own seeded generator ("mask_rng", carried by
// checkpoints, so a resumed run is bit for bit the same); test images get a fixed mask per image (a
// generator seeded by the run seed and the image's index), so test losses of different epochs compare.
// Its metric "mse" is the masked loss (without norm_pix: the pixel MSE of the masked patches). After
// each epoch it writes reconstructions.png (and reconstructions-epoch<N>.png): for 8 test images, a
// row of originals, a row of masked inputs (masked patches gray) and a row of reconstructions (the
// visible patches pasted in, as the MAE papers show them).
#pragma once

#include <memory>

#include "crate/models/mae/autoencoder.hpp"
#include "crate/train/task.hpp"

namespace wb::crate {

// The normalized target of norm_pix (unbiased per-patch variance; `unbiased` false divides by n, the
// negative control of the parity test).
Tensor norm_pix_target(const Tensor& patches, bool unbiased = true);
// The masked reconstruction loss above (a scalar graph tensor). pred, target (B, N, k); mask (B, N).
Tensor masked_reconstruction_loss(const Tensor& pred, const Tensor& target, const Tensor& mask);
// The target of `images` for config `c` (patchify, then norm_pix_target when c.norm_pix).
Tensor mae_target(const Tensor& images, const MaeConfig& c, bool unbiased = true);

// The fixed evaluation mask of the images with dataset indices `indices` (one generator per image).
Tensor evaluation_mask(const std::vector<std::int64_t>& indices, const MaeConfig& c, std::uint64_t seed);

class MaeTask : public Task {
 public:
  // Builds the model of `o.mae` (seeded by o.mae.seed); the mask generator is seeded by o.seed.
  explicit MaeTask(const TrainOptions& o);
  // Wraps a built (or loaded) model, for gradients and parity outside a training run.
  MaeTask(std::unique_ptr<MaskedAutoencoder> model, std::uint64_t seed);
  const std::string& name() const override { return model_->config().name; }
  MaskedAutoencoder& model() override { return *model_; }
  const MaskedAutoencoder& autoencoder() const { return *model_; }
  TaskData open_data(const TrainOptions& o) override;
  TaskStep step(const data::Batch& batch, Phase phase, std::vector<LayerTrace>* traces) override;
  // The same step with the mask given (B, N): for parity checks and gradients.
  TaskStep step_with_mask(const Tensor& images, const Tensor& mask, std::vector<LayerTrace>* traces,
                          Tensor* prediction = nullptr);
  std::vector<MetricSpec> metrics() const override { return {{"mse", "mse", false}}; }
  std::vector<const CrateLayer*> layers() const override;
  Measurement measure(data::Loader& loader, const std::string& label) override;
  void save_weights(const std::string& path, std::map<std::string, std::string> metadata) override;
  // Refuses a file whose whitebox config is of another family (a classifier, say).
  LoadReport load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) override;
  std::vector<std::pair<std::string, Generator*>> generators() override { return {{"mask_rng", &mask_gen_}}; }
  void end_of_epoch(std::int64_t epoch, const TrainOptions& o) override;

 private:
  std::unique_ptr<MaskedAutoencoder> model_;
  std::uint64_t seed_;
  Generator mask_gen_;
  data::Batch grid_batch_;  // the first test images, for the per-epoch reconstruction grid
};

// The loaders of an MAE run (this task and mae-classify), checked against the input of `mc` (and
// `classes` when positive); `first_batch` (optional) receives the first 8 test images as one batch.
TaskData mae_open_data(const TrainOptions& o, const MaeConfig& mc, std::int64_t classes, data::Batch* first_batch);

// Saves a MaskedAutoencoder as safetensors with its config ("whitebox.config", family "mae").
void save_mae(const std::string& path, const MaskedAutoencoder& model, std::map<std::string, std::string> metadata = {});
// Reads an MAE file (its config from the metadata); a file of another family gets a clear error.
std::unique_ptr<MaskedAutoencoder> load_mae(const std::string& path);
// The MAE config in a file's metadata; std::runtime_error naming the file when it has none or it is
// of another family.
MaeConfig mae_checkpoint_config(const SafeTensors& file, const std::string& path);

}  // namespace wb::crate
