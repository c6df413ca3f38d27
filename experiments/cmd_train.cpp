// `whitebox train`: crate::train with every option as a flag (crate/train/loop.hpp documents the
// run directory it writes).
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "datasets/registry.hpp"
#include "crate/train/loop.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {
namespace {

// The flags of `train --task lm`: the text model (--model names a text config; --dim, --depth,
// --heads, --eta, --lambda apply, plus --block-size), the tokenizer and the iteration schedule. The
// shared flags the user did not give get the language model's defaults (nanoGPT's): batch 16, weight
// decay 0.1, beta2 0.95, min lr = lr / 10, warmup 5% of the steps, 128 validation windows.
struct LmFlags {
  std::string tokenizer;  // "": gpt2:V for the model's V (gpt2 when V >= 50,257)
  std::optional<std::int64_t> block_size, max_iters, warmup_steps;
  std::optional<double> beta2;
  CLI::App* cmd = nullptr;

  void add(CLI::App& app, crate::TrainOptions& o) {
    cmd = &app;
    app.add_option("--tokenizer", tokenizer, "lm: gpt2, gpt2:V (the first V - 256 merges) or bytes (default: gpt2:V of the model's V)");
    app.add_option("--cache-dir", o.cache_dir, "lm: folder of the corpus's token caches (default: <out>/tokens)");
    app.add_option("--eval-every", o.steps_per_epoch, "lm: optimizer steps between validations (one 'epoch')")
        ->check(IntRange(1, 1000000000))
        ->capture_default_str();
    app.add_option("--max-iters", max_iters, "lm: total optimizer steps (a multiple of --eval-every; sets --epochs)")
        ->check(IntRange(1, 1000000000000));
    app.add_option("--warmup-steps", warmup_steps, "linear warmup in steps (lm default: 5% of the steps)")->check(Count);
    app.add_option("--block-size", block_size, "lm: override the context length T")->check(IntRange(1, 1000000));
    app.add_option("--beta2", beta2, "AdamW beta2 (default 0.999; lm 0.95)")->check(CLI::Range(0.0, 0.999999));
  }
  bool given(const char* flag) const { return cmd->get_option(flag)->count() > 0; }

  void apply(const ModelFlags& model, crate::TrainOptions& o) const {
    if (model.dim_head || model.patch || model.image_size || model.classes || model.pool || model.mlp ||
        model.mssa_sign || model.output_map || model.dictionary || model.ista_residual || model.learnable_ista ||
        model.tssa_form || model.layer_scale || model.f64)
      throw std::invalid_argument(
          "train --task lm: of the model flags only --dim, --depth, --heads, --eta, --lambda, --attention and "
          "--block-size apply (name a crate-gpt-*, crate-lm-* or gpt2-* model for the family)");
    o.text_model = model.name.empty() || model.name == "crate-mini-28" ? "crate-gpt-d256" : model.name;
    crate::TextConfig c = crate::named_text_config(o.text_model);
    bool custom = false;
    if (model.attention) {
      c.attention = crate::enum_from_name<crate::AttentionKind>(*model.attention, "--attention");
      if (c.family == crate::TextFamily::gpt2 && c.attention != crate::AttentionKind::tssa)
        c.attention = crate::AttentionKind::mssa;  // "standard" or "mssa": the baseline's own attention
      if (c.family == crate::TextFamily::gpt2 && c.attention == crate::AttentionKind::tssa)
        throw std::invalid_argument(fmt::format("train --task lm: --attention tssa is not supported on the GPT-2 "
                                                "baseline '{}' (it runs standard attention); use a crate-gpt-* or "
                                                "crate-lm-* model",
                                                o.text_model));
      if (c.family != crate::TextFamily::gpt2 && c.attention == crate::AttentionKind::standard)
        throw std::invalid_argument(fmt::format("train --task lm: --attention standard is not supported on '{}' (mssa "
                                                "or tssa; gpt2-* is the standard-attention baseline)",
                                                o.text_model));
      if (c.attention != crate::AttentionKind::mssa) custom = true;
    }
    if (model.dim) c.dim = *model.dim, custom = true;
    if (model.depth) c.depth = *model.depth, custom = true;
    if (model.heads) c.heads = *model.heads, custom = true;
    if (model.eta) c.eta = *model.eta, custom = true;
    if (model.lambda) c.lambda = *model.lambda, custom = true;
    if (block_size) c.block_size = *block_size, custom = true;
    if (custom) o.text_model += "+custom";
    c.validate();
    o.text = c;
    o.tokenizer = !tokenizer.empty() ? tokenizer : c.vocab_size >= 50257 ? "gpt2" : fmt::format("gpt2:{}", c.vocab_size);
    o.label_smoothing = 0.0;
    if (!given("--batch-size")) o.batch_size = 16;
    if (!given("--weight-decay")) o.weight_decay = 0.1;
    if (!given("--min-lr")) o.min_lr = o.lr / 10;
    if (!given("--test-limit")) o.test_limit = 128;
    o.adam_beta2 = beta2 ? *beta2 : 0.95;
    if (max_iters) {
      if (*max_iters % o.steps_per_epoch != 0)
        throw std::invalid_argument(fmt::format("train: --max-iters {} must be a multiple of --eval-every {}", *max_iters,
                                                o.steps_per_epoch));
      if (given("--epochs")) throw std::invalid_argument("train: give --max-iters or --epochs, not both");
      o.epochs = *max_iters / o.steps_per_epoch;
    }
    o.warmup_steps = warmup_steps ? *warmup_steps : o.epochs * o.steps_per_epoch / 20;
  }
};

}  // namespace

void add_train_command(CLI::App& app) {
  auto opts = std::make_shared<crate::TrainOptions>();
  auto flags = std::make_shared<ModelFlags>();
  crate::TrainOptions& o = *opts;
  ModelFlags& model = *flags;
  auto* cmd = app.add_subcommand("train", "train a CRATE (or ViT) classifier; writes metrics, checkpoints and curves");
  model.add(*cmd);
  auto mae_flags = std::make_shared<MaeFlags>();
  auto lm_flags = std::make_shared<LmFlags>();
  cmd->add_option("--task", o.task,
                  "classification; mae: masked autoencoding (--model crate-mae-*, vit-mae-*); mae-classify: an MAE "
                  "encoder with a class head (linear probe / fine-tune with --init-from, --init-partial, --freeze)")
      ->check(CLI::IsMember({"classification", "mae", "mae-classify", "lm"}))
      ->capture_default_str();
  lm_flags->add(*cmd, o);
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
  cmd->callback([opts, flags, mae_flags, lm_flags, report] {
    crate::TrainOptions& o = *opts;
    ModelFlags& model = *flags;
    if (o.task == "lm") {
      lm_flags->apply(model, o);
    } else {
      if (lm_flags->beta2) o.adam_beta2 = *lm_flags->beta2;
      if (lm_flags->warmup_steps) o.warmup_steps = *lm_flags->warmup_steps;
      if (o.task != "classification") o.mae = mae_flags->resolve(model);
      else o.model = model.resolve();
    }
    const auto r = crate::train(o);
    if (!r.epochs.empty() && o.task == "lm") {
      const auto& e = r.epochs.back();
      fmt::print("{}: step {} validation loss {:.4f} perplexity {:.2f} ({:.0f} tokens seen); checkpoint {}\n",
                 o.text_model, e.epoch * o.steps_per_epoch, e.test_loss, e.test.at("perplexity"),
                 static_cast<double>(e.epoch * o.steps_per_epoch * o.batch_size * o.text.block_size), r.model_path);
    } else if (!r.epochs.empty() && o.task == "mae-classify") {
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
