#include "crate/train/objectives/masked_autoencoding.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/checkpoint.hpp"
#include "crate/models/vision/patch_embedding.hpp"
#include "crate/report/image_grid.hpp"
#include "datasets/registry.hpp"
#include "ops/ops.hpp"
#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

Tensor norm_pix_target(const Tensor& patches, bool unbiased) {
  const std::int64_t k = patches.size(-1);
  const Tensor t = patches.detach();
  const Tensor centered = t - ops::mean(t, {-1}, true);
  const Tensor var = ops::mul_scalar(ops::sum(ops::square(centered), {-1}, true),
                                     1.0 / static_cast<double>(unbiased ? k - 1 : k));
  return ops::div(centered, ops::sqrt(ops::add_scalar(var, 1e-6)));
}

Tensor masked_reconstruction_loss(const Tensor& pred, const Tensor& target, const Tensor& mask) {
  if (pred.dim() != 3 || pred.shape() != target.shape() || mask.dim() != 2 || mask.size(0) != pred.size(0) ||
      mask.size(1) != pred.size(1))
    throw std::invalid_argument(fmt::format("masked_reconstruction_loss: prediction {}, target {} and mask {} do not "
                                            "match (expected (B, N, k), (B, N, k), (B, N))",
                                            shape_str(pred.shape()), shape_str(target.shape()),
                                            shape_str(mask.shape())));
  const Tensor m = mask.dtype() == pred.dtype() ? mask.detach() : prim::cast(mask.detach(), pred.dtype());
  const Tensor per_patch = ops::mean(ops::square(pred - target.detach()), {2});  // (B, N)
  return ops::div(ops::sum(ops::mul(per_patch, m)), ops::sum(m));
}

Tensor mae_target(const Tensor& images, const MaeConfig& c, bool unbiased) {
  const Tensor x = images.dtype() == c.dtype ? images.detach() : prim::cast(images.detach(), c.dtype);
  const Tensor t = patchify(x, c.patch_size);
  return c.norm_pix ? norm_pix_target(t, unbiased) : t;
}

Tensor evaluation_mask(const std::vector<std::int64_t>& indices, const MaeConfig& c, std::uint64_t seed) {
  const std::int64_t b = static_cast<std::int64_t>(indices.size()), n = c.num_patches();
  Tensor noise = Tensor::empty({b, n}, DType::f64);
  for (std::int64_t i = 0; i < b; ++i) {
    Generator g(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(indices[static_cast<std::size_t>(i)] + 1)));
    prim::uniform_(prim::slice(noise, 0, i, i + 1), 0.0, 1.0, g);
  }
  return mask_from_noise(noise, c.kept(), c.dtype);
}

MaeTask::MaeTask(const TrainOptions& o)
    : model_(std::make_unique<MaskedAutoencoder>(o.mae)), seed_(o.seed), mask_gen_(o.seed ^ 0x6d61736b5eedULL) {}

MaeTask::MaeTask(std::unique_ptr<MaskedAutoencoder> model, std::uint64_t seed)
    : model_(std::move(model)), seed_(seed), mask_gen_(seed ^ 0x6d61736b5eedULL) {
  if (!model_) throw std::invalid_argument("MaeTask: no model");
}

TaskData mae_open_data(const TrainOptions& o, const MaeConfig& mc, std::int64_t classes, data::Batch* first_batch) {
  auto train_set = std::make_shared<data::Dataset>(
      data::load_dataset(o.data, o.data_dir, data::Split::train, o.train_limit));
  auto test_set = std::make_shared<data::Dataset>(data::load_dataset(o.data, o.data_dir, data::Split::test, o.test_limit));
  if (train_set->channels != mc.channels || train_set->height != mc.image_size || train_set->width != mc.image_size)
    throw std::invalid_argument(fmt::format("train: model '{}' expects {}x{}x{} images; dataset '{}' has {}x{}x{}",
                                            mc.name, mc.channels, mc.image_size, mc.image_size, o.data,
                                            train_set->channels, train_set->height, train_set->width));
  if (classes > 0 && train_set->num_classes != classes)
    throw std::invalid_argument(fmt::format("train: model '{}' has {} classes; dataset '{}' has {}", mc.name, classes,
                                            o.data, train_set->num_classes));
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed;
  lo.normalization = data::dataset_info(o.data).normalization;
  lo.crop_padding = !o.augment ? 0 : o.crop_padding >= 0 ? o.crop_padding : (mc.image_size <= 28 ? 0 : 4);
  lo.horizontal_flip = o.augment && o.flip;
  TaskData d;
  d.train = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(train_set), lo);
  d.test = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(test_set), data::eval_options(lo));
  if (o.measure_every > 0) {
    auto subset = std::make_shared<data::Dataset>(test_set->subset(0, std::min(o.measure_limit, test_set->size())));
    d.measure = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(subset), data::eval_options(lo));
  }
  if (first_batch != nullptr) {
    auto first = std::make_shared<data::Dataset>(test_set->subset(0, std::min<std::int64_t>(8, test_set->size())));
    data::LoaderOptions go = data::eval_options(lo);
    go.batch_size = first->size();
    go.prefetch = 0;
    const data::Loader grid(std::shared_ptr<const data::Dataset>(first), go);
    *first_batch = grid.batch(0, 0);
  }
  return d;
}

TaskData MaeTask::open_data(const TrainOptions& o) { return mae_open_data(o, model_->config(), 0, &grid_batch_); }

TaskStep MaeTask::step_with_mask(const Tensor& images, const Tensor& mask, std::vector<LayerTrace>* traces,
                                 Tensor* prediction) {
  const Tensor pred = model_->forward(images, mask, traces);
  if (prediction != nullptr) *prediction = pred;
  TaskStep s;
  s.loss = masked_reconstruction_loss(pred, mae_target(images, model_->config()), mask);
  s.count = images.size(0);
  s.sums["mse"] = s.loss.item() * static_cast<double>(s.count);
  return s;
}

TaskStep MaeTask::step(const data::Batch& b, Phase phase, std::vector<LayerTrace>* traces) {
  const MaeConfig& c = model_->config();
  const Tensor mask = phase == Phase::train ? draw_mask(b.x.size(0), c, mask_gen_) : evaluation_mask(b.indices, c, seed_);
  return step_with_mask(b.x, mask, traces);
}

std::vector<const CrateLayer*> MaeTask::layers() const {
  return {model_->encoder_layers().begin(), model_->encoder_layers().end()};
}

Measurement MaeTask::measure(data::Loader& loader, const std::string& label) {
  const MaeConfig& c = model_->config();
  return crate::measure(*model_, layers(), loader, label, [&](const data::Batch& b, std::vector<LayerTrace>& t) {
    (void)model_->encode(b.x, evaluation_mask(b.indices, c, seed_), &t);
  });
}

void save_mae(const std::string& path, const MaskedAutoencoder& model, std::map<std::string, std::string> metadata) {
  NamedTensors tensors;
  for (const auto& [n, t] : model.named_parameters()) tensors.emplace_back(n, t.detach());
  metadata["format"] = "pt";
  metadata["whitebox.config"] = to_json(model.config()).dump();
  write_safetensors(path, tensors, metadata);
}

MaeConfig mae_checkpoint_config(const SafeTensors& file, const std::string& path) {
  auto it = file.metadata.find("whitebox.config");
  if (it == file.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.config' metadata; not a whitebox MAE checkpoint", path));
  try {
    return mae_config_from_json(nlohmann::json::parse(it->second));
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

std::unique_ptr<MaskedAutoencoder> load_mae(const std::string& path) {
  const SafeTensors file = read_safetensors(path);
  auto model = std::make_unique<MaskedAutoencoder>(mae_checkpoint_config(file, path));
  load_weights(*model, model->config().name, file, path, LoadMode::strict);
  return model;
}

void MaeTask::save_weights(const std::string& path, std::map<std::string, std::string> metadata) {
  save_mae(path, *model_, std::move(metadata));
}

LoadReport MaeTask::load_weights(const SafeTensors& file, const std::string& path, LoadMode mode) {
  if (file.metadata.count("whitebox.config")) (void)mae_checkpoint_config(file, path);  // refuses other families
  return crate::load_weights(*model_, model_->config().name, file, path, mode);
}

void MaeTask::end_of_epoch(std::int64_t epoch, const TrainOptions& o) {
  if (!grid_batch_.x.defined()) return;
  const MaeConfig& c = model_->config();
  const ModeGuard eval(*model_, false);
  const autograd::NoGradGuard no_grad;
  const Tensor mask = evaluation_mask(grid_batch_.indices, c, seed_);
  const Tensor images = prim::contiguous(prim::cast(grid_batch_.x, DType::f64));
  Tensor pred = prim::cast(model_->forward(grid_batch_.x, mask).detach(), DType::f64);
  const Tensor target = prim::cast(patchify(images, c.patch_size), DType::f64);
  if (c.norm_pix) {  // back to pixels with each patch's own mean and (unbiased) variance
    const std::int64_t k = target.size(-1);
    const auto t = prim::contiguous(target).to_vector<double>();
    auto p = prim::contiguous(pred).to_vector<double>();
    for (std::size_t row = 0; row * k < t.size(); ++row) {
      double mean = 0, var = 0;
      for (std::int64_t j = 0; j < k; ++j) mean += t[row * k + j];
      mean /= static_cast<double>(k);
      for (std::int64_t j = 0; j < k; ++j) var += (t[row * k + j] - mean) * (t[row * k + j] - mean);
      var /= static_cast<double>(k - 1);
      for (std::int64_t j = 0; j < k; ++j) p[row * k + j] = p[row * k + j] * std::sqrt(var + 1e-6) + mean;
    }
    pred = Tensor::from_vector(p, pred.shape());
  }
  const std::int64_t b = images.size(0), ch = c.channels, s = c.image_size, P = c.patch_size, g = s / P;
  const auto x = images.to_vector<double>();
  const auto pv = prim::contiguous(pred).to_vector<double>();
  const auto mv = prim::contiguous(prim::cast(mask, DType::f64)).to_vector<double>();
  double lo = *std::min_element(x.begin(), x.end()), hi = *std::max_element(x.begin(), x.end());
  ImageGrid grid;
  grid.rows = 3;
  grid.columns = b;
  grid.channels = ch;
  grid.height = grid.width = s;
  grid.lo = lo;
  grid.hi = hi;
  grid.scale = s <= 32 ? 3 : 1;
  grid.pixels.assign(static_cast<std::size_t>(3 * b * ch * s * s), 0.0f);
  for (std::int64_t i = 0; i < b; ++i)
    for (std::int64_t cc = 0; cc < ch; ++cc)
      for (std::int64_t y = 0; y < s; ++y)
        for (std::int64_t xx = 0; xx < s; ++xx) {
          const std::int64_t patch = (y / P) * g + xx / P;
          const bool masked = mv[static_cast<std::size_t>(i * g * g + patch)] != 0.0;
          const double orig = x[static_cast<std::size_t>(((i * ch + cc) * s + y) * s + xx)];
          const double rec =
              pv[static_cast<std::size_t>((i * g * g + patch) * P * P * ch + ((y % P) * P + xx % P) * ch + cc)];
          const std::size_t tile = static_cast<std::size_t>(ch * s * s), at = static_cast<std::size_t>((cc * s + y) * s + xx);
          grid.pixels[static_cast<std::size_t>(i) * tile + at] = static_cast<float>(orig);
          grid.pixels[static_cast<std::size_t>(b + i) * tile + at] = static_cast<float>(masked ? 0.5 * (lo + hi) : orig);
          grid.pixels[static_cast<std::size_t>(2 * b + i) * tile + at] = static_cast<float>(masked ? rec : orig);
        }
  const auto dir = std::filesystem::path(o.out_dir);
  write_png_grid((dir / fmt::format("reconstructions-epoch{}.png", epoch)).string(), grid);
  write_png_grid((dir / "reconstructions.png").string(), grid);
}

}  // namespace wb::crate
