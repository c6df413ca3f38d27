// `whitebox mae-grads`: a masked autoencoder's reconstruction, loss and every trainable parameter's
// gradient on one batch with a given mask, then optionally the losses of K AdamW steps, written as
// safetensors for the PyTorch parity check (tests/compat/check_mae_parity.py). The images are N(0, 1)
// from --image-seed (or the first images of --data), the mask is drawn from --mask-seed with the
// model's mask ratio (models/mae/autoencoder.hpp draw_mask), and the model comes from --checkpoint
// or is built fresh from --model and --seed (and then saved with --save-model).
#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/engine.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/instruments/mae_profile.hpp"
#include "crate/report/plot.hpp"
#include "crate/train/objectives/masked_autoencoding.hpp"
#include "datasets/registry.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "ops/optim/optim.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace wb::cli {
namespace {
struct MaeGradsFlags {
  std::string checkpoint, out, save_model, data, data_dir;
  std::int64_t batch_size = 4, steps = 0;
  std::uint64_t seed = 0, image_seed = 1, mask_seed = 2;
  double lr = 1e-4, weight_decay = 0.01;
  int threads = 0;
  ModelFlags model = ModelFlags::without_default();
  MaeFlags mae;
};
}  // namespace

void add_mae_grads_command(CLI::App& app) {
  auto flags = std::make_shared<MaeGradsFlags>();
  MaeGradsFlags& f = *flags;
  auto* cmd = app.add_subcommand("mae-grads",
                                 "write a masked autoencoder's reconstruction, loss, gradients (and the losses of "
                                 "--steps AdamW steps) on one batch to a safetensors file (for parity checks)");
  cmd->add_option("--checkpoint", f.checkpoint, "an MAE model.safetensors (default: a fresh --model)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", f.out, "output .safetensors (images, mask, pred, loss, losses, grad.<parameter>)")->required();
  cmd->add_option("--save-model", f.save_model, "also write the model (before the steps) here");
  cmd->add_option("--seed", f.seed, "initialization seed of a fresh model")->check(Seed);
  cmd->add_option("--data", f.data, "take the first images of this dataset (default: N(0,1) images)")
      ->check(CLI::IsMember(data::dataset_names()));
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--image-seed", f.image_seed, "seed of the random images")->check(Seed)->capture_default_str();
  cmd->add_option("--mask-seed", f.mask_seed, "seed of the mask")->check(Seed)->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size, "images in the batch")->check(BatchSize)->capture_default_str();
  cmd->add_option("--steps", f.steps, "then take this many AdamW steps on the batch, recording each loss")
      ->check(Count);
  cmd->add_option("--lr", f.lr, "AdamW learning rate of the steps")->check(Positive)->capture_default_str();
  cmd->add_option("--weight-decay", f.weight_decay, "AdamW weight decay (on every trainable tensor)")
      ->check(NonNegative)
      ->capture_default_str();
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->add_option("--mask-ratio", f.mae.mask_ratio, "fraction of patches masked, in (0, 1)");
  cmd->add_flag("--norm-pix", f.mae.norm_pix, "per-patch normalized target");
  f.model.add(*cmd, false);
  cmd->callback([flags] {
    MaeGradsFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    std::unique_ptr<crate::MaskedAutoencoder> model;
    if (!f.checkpoint.empty()) {
      if (!f.model.name.empty() || f.mae.mask_ratio || f.mae.norm_pix)
        throw std::invalid_argument("mae-grads: --checkpoint carries its configuration; drop --model and its flags");
      model = crate::load_mae(f.checkpoint);
    } else {
      crate::MaeConfig c = f.mae.resolve(f.model);
      c.seed = f.seed;
      model = std::make_unique<crate::MaskedAutoencoder>(c);
    }
    const crate::MaeConfig& c = model->config();
    if (!f.save_model.empty()) crate::save_mae(f.save_model, *model);
    Tensor images;
    if (!f.data.empty()) {
      const data::Dataset set = data::load_dataset(f.data, f.data_dir, data::Split::test);
      if (set.channels != c.channels || set.height != c.image_size || set.width != c.image_size)
        throw std::invalid_argument(fmt::format("mae-grads: model '{}' expects {}x{}x{} images; {} has {}x{}x{}", c.name,
                                                c.channels, c.image_size, c.image_size, f.data, set.channels,
                                                set.height, set.width));
      data::LoaderOptions lo;
      lo.batch_size = f.batch_size;
      lo.normalization = data::dataset_info(f.data).normalization;
      lo.prefetch = 0;
      const data::Loader loader(std::make_shared<const data::Dataset>(set.subset(0, f.batch_size)),
                                data::eval_options(lo));
      images = prim::cast(loader.batch(0, 0).x, c.dtype);
    } else {
      images = Tensor::empty({f.batch_size, c.channels, c.image_size, c.image_size}, c.dtype);
      Generator g(f.image_seed);
      prim::normal_(images, 0.0, 1.0, g);
    }
    Generator mg(f.mask_seed);
    const Tensor mask = crate::draw_mask(f.batch_size, c, mg);
    crate::MaeTask task(std::move(model), f.seed);
    crate::MaskedAutoencoder& m = task.model();
    const crate::ModeGuard eval(m, false);
    crate::NamedTensors trainable;
    for (const auto& [name, p] : m.named_parameters())
      if (p.requires_grad()) trainable.emplace_back(name, p);

    auto forward_backward = [&](Tensor* pred) {
      for (auto& [name, p] : trainable) p.zero_grad();
      const crate::TaskStep s = task.step_with_mask(images, mask, nullptr, pred);
      autograd::backward(s.loss);
      return s.loss.item();
    };
    Tensor pred;
    const double loss = forward_backward(&pred);
    std::vector<std::pair<std::string, Tensor>> out = {{"images", images},
                                                       {"mask", mask},
                                                       {"pred", pred.detach()},
                                                       {"loss", Tensor::full({}, loss, DType::f64)}};
    for (const auto& [name, p] : trainable)
      out.emplace_back("grad." + name, p.grad().defined() ? prim::clone(p.grad()) : prim::zeros_like(p));
    std::vector<double> losses;
    if (f.steps > 0) {
      optim::ParamGroup group;
      group.lr = f.lr;
      group.weight_decay = f.weight_decay;
      for (const auto& [name, p] : trainable) group.params.push_back(p), group.names.push_back(name);
      optim::AdamW opt({group});
      losses.push_back(loss);
      opt.step();
      for (std::int64_t k = 1; k < f.steps; ++k) {
        losses.push_back(forward_backward(nullptr));
        opt.step();
      }
      out.emplace_back("losses", Tensor::from_vector(losses, {f.steps}));
    }
    crate::write_safetensors(f.out, out,
                             {{"format", "pt"},
                              {"whitebox.config", crate::to_json(c).dump()},
                              {"loss", fmt::format("{:.17g}", loss)},
                              {"lr", fmt::format("{:.17g}", f.lr)},
                              {"weight_decay", fmt::format("{:.17g}", f.weight_decay)},
                              {"steps", std::to_string(f.steps)}});
    fmt::print("{}: {} loss {:.10g} on {} images, {} gradients{}\n", f.out, c.name, loss, f.batch_size,
               trainable.size(), losses.empty() ? "" : fmt::format(", {} AdamW steps", f.steps));
  });
}

}  // namespace wb::cli

namespace wb::cli {
namespace {
struct MaeMeasureFlags {
  std::vector<std::string> checkpoints;
  std::string out = "mae-profile", data = "fashion-mnist", data_dir;
  std::int64_t limit = 256, batch_size = 64;
  std::uint64_t mask_seed = 0;
  bool init = false;
  int threads = 0;
};
}  // namespace

void add_mae_measure_command(CLI::App& app) {
  auto flags = std::make_shared<MaeMeasureFlags>();
  MaeMeasureFlags& f = *flags;
  auto* cmd = app.add_subcommand("mae-measure",
                                 "R^c through the encoder and back through the decoder of CRATE-MAE checkpoints, "
                                 "and the encoder's sparsity (<out>.csv, <out>.png)");
  cmd->add_option("--checkpoint", f.checkpoints, "MAE model.safetensors (repeatable: one curve each)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_flag("--init", f.init, "also measure the first checkpoint's configuration at initialization (its seed)");
  cmd->add_option("--out", f.out, "output prefix")->capture_default_str();
  cmd->add_option("--data", f.data, "dataset (test split)")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--limit", f.limit, "test images measured")->check(BatchSize)->capture_default_str();
  cmd->add_option("--mask-seed", f.mask_seed, "seed of the fixed evaluation masks (the run's --seed)")->check(Seed);
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->callback([flags] {
    MaeMeasureFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    std::vector<std::pair<std::string, std::unique_ptr<crate::MaskedAutoencoder>>> models;
    for (const auto& path : f.checkpoints) models.emplace_back(path, crate::load_mae(path));
    if (f.init) {
      const crate::MaeConfig c = models.front().second->config();
      models.insert(models.begin(), {"initialization", std::make_unique<crate::MaskedAutoencoder>(c)});
    }
    const crate::MaeConfig& c = models.back().second->config();
    auto set = std::make_shared<data::Dataset>(data::load_dataset(f.data, f.data_dir, data::Split::test));
    if (set->channels != c.channels || set->height != c.image_size || set->width != c.image_size)
      throw std::invalid_argument(fmt::format("mae-measure: model '{}' expects {}x{}x{} images; {} has {}x{}x{}", c.name,
                                              c.channels, c.image_size, c.image_size, f.data, set->channels,
                                              set->height, set->width));
    *set = set->subset(0, std::min(f.limit, set->size()));
    data::LoaderOptions lo;
    lo.batch_size = f.batch_size;
    lo.normalization = data::dataset_info(f.data).normalization;
    lo.prefetch = 0;
    data::Loader loader(std::shared_ptr<const data::Dataset>(set), data::eval_options(lo));
    std::vector<crate::MaeProfile> profiles;
    for (const auto& [label, m] : models) {
      const crate::MaeConfig& mc = m->config();
      profiles.push_back(crate::measure_mae(*m, loader, label, [&](const data::Batch& b) {
        return crate::evaluation_mask(b.indices, mc, f.mask_seed);
      }));
      const auto& p = profiles.back();
      std::string enc, dec;
      for (const auto& s : p.encoder_rc) enc += fmt::format(" {:.2f}", s.mean);
      for (const auto& s : p.decoder_rc) dec += fmt::format(" {:.2f}", s.mean);
      fmt::print("{}: R^c encoder{} | decoder{}\n", label, enc, dec);
    }
    crate::write_mae_profiles(f.out, profiles, crate::gnuplot_available());
    fmt::print("wrote {}.csv{}\n", f.out, crate::gnuplot_available() ? fmt::format(" and {}.png", f.out) : "");
  });
}

}  // namespace wb::cli
