// `whitebox train`: crate::train with every option as a flag (crate/train/loop.hpp documents the
// run directory it writes).
#include <memory>

#include <fmt/format.h>

#include "datasets/registry.hpp"
#include "crate/train/loop.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {

void add_train_command(CLI::App& app) {
  auto opts = std::make_shared<crate::TrainOptions>();
  auto flags = std::make_shared<ModelFlags>();
  crate::TrainOptions& o = *opts;
  ModelFlags& model = *flags;
  auto* cmd = app.add_subcommand("train", "train a CRATE (or ViT) classifier; writes metrics, checkpoints and curves");
  model.add(*cmd);
  auto mae_flags = std::make_shared<MaeFlags>();
  cmd->add_option("--task", o.task,
                  "classification; mae: masked autoencoding (--model crate-mae-*, vit-mae-*); mae-classify: an MAE "
                  "encoder with a class head (linear probe / fine-tune with --init-from, --init-partial, --freeze)")
      ->check(CLI::IsMember({"classification", "mae", "mae-classify"}))
      ->capture_default_str();
  cmd->add_option("--mask-ratio", mae_flags->mask_ratio, "mae: fraction of patches masked, in (0, 1) (default 0.75)");
  cmd->add_flag("--norm-pix", mae_flags->norm_pix, "mae: per-patch normalized target (unbiased variance)");
  cmd->add_option("--data", o.data, "dataset")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "dataset directory (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--epochs", o.epochs, "training epochs")->check(Epochs)->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "batch size")->check(BatchSize)->capture_default_str();
  cmd->add_option("--optimizer", o.optimizer, "optimizer")->check(CLI::IsMember({"adamw", "lion", "sgd"}))->capture_default_str();
  cmd->add_option("--lr", o.lr, "peak learning rate")->check(Positive)->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "decoupled weight decay (not on norms and biases)")->check(NonNegative)->capture_default_str();
  cmd->add_option("--min-lr", o.min_lr, "learning rate at the end of the cosine")->check(NonNegative)->capture_default_str();
  cmd->add_option("--warmup-epochs", o.warmup_epochs, "linear warmup epochs")->check(NonNegative)->capture_default_str();
  cmd->add_option("--label-smoothing", o.label_smoothing, "label smoothing")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd->add_option("--clip-grad", o.clip_grad, "gradient-norm clipping (0: off)")->check(NonNegative)->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_flag("!--no-augment", o.augment, "disable random crop and horizontal flip");
  cmd->add_option("--crop-padding", o.crop_padding, "random-crop padding (default: none at 28x28, 4 at 32x32)")
      ->check(NonNegative);
  cmd->add_flag("!--no-flip", o.flip, "disable the random horizontal flip");
  cmd->add_option("--seed", o.seed, "seed of initialization, data order, augmentation")->check(Seed)->capture_default_str();
  cmd->add_option("--threads", o.threads, "threads (default: all cores)")->check(Threads);
  cmd->add_option("--train-limit", o.train_limit, "use only the first N training images")->check(Count);
  cmd->add_option("--test-limit", o.test_limit, "use only the first N test images")->check(Count);
  cmd->add_option("--out", o.out_dir, "run directory")->capture_default_str();
  cmd->add_flag("--resume", o.resume, "continue the run in --out from its last checkpoint");
  cmd->add_option("--log-every", o.log_every, "steps between metric lines")->check(Count)->capture_default_str();
  cmd->add_option("--checkpoint-every", o.checkpoint_every, "steps between mid-epoch checkpoints (0: epoch ends)")->check(Count);
  cmd->add_option("--stop-after-epochs", o.stop_after_epochs, "end this invocation after N epochs (resume later)")->check(Count);
  cmd->add_option("--measure-every", o.measure_every, "measure per-layer R^c and sparsity at init and every N epochs")->check(Count);
  cmd->add_option("--measure-limit", o.measure_limit, "test images per measurement")->check(IntRange(1, 1000000000000))->capture_default_str();
  cmd->add_option("--srr-weight", o.srr_weight, "add w * (mean per-layer sparse rate reduction) to the loss")->check(NonNegative);
  cmd->add_option("--init-from", o.init_from, "start from this model.safetensors' weights (fine-tuning)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--init-partial", o.init_partial,
                "with --init-from: load the tensors that match by name and shape, list the rest");
  cmd->add_option("--freeze", o.freeze,
                  "hold parameters matching this glob fixed, e.g. 'transformer.*' for a linear probe (repeatable)");
  cmd->add_flag("!--no-plot", o.plot, "do not write curves.png");
  cmd->add_flag("!--quiet", o.progress, "no progress output");
  auto report = std::make_shared<bool>(false);
  cmd->add_flag("--report", *report, "at the end, write <out>/report.html (whitebox report: one offline page of the run)");
  cmd->callback([opts, flags, mae_flags, report] {
    crate::TrainOptions& o = *opts;
    ModelFlags& model = *flags;
    if (o.task != "classification") o.mae = mae_flags->resolve(model);
    else o.model = model.resolve();
    const auto r = crate::train(o);
    if (!r.epochs.empty() && o.task == "mae-classify") {
      const auto& e = r.epochs.back();
      fmt::print("{}-classify: epoch {} test accuracy {:.2f}% (loss {:.4f}); checkpoint {}\n", o.mae.name, e.epoch,
                 100 * e.test_accuracy(), e.test_loss, r.model_path);
    } else if (!r.epochs.empty() && o.task == "mae") {
      const auto& e = r.epochs.back();
      fmt::print("{}: epoch {} test masked mse {:.5f}; checkpoint {}\n", o.mae.name, e.epoch, e.test_loss, r.model_path);
    } else if (!r.epochs.empty()) {
      const auto& e = r.epochs.back();
      fmt::print("{}: epoch {} test accuracy {:.2f}% (loss {:.4f}); checkpoint {}\n", o.model.name, e.epoch,
                 100 * e.test_accuracy(), e.test_loss, r.model_path);
    }
    if (r.interrupted) throw CLI::RuntimeError(130);
    if (*report) (void)write_run_report(o.out_dir, "");
  });
}

}  // namespace wb::cli
