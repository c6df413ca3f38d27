// whitebox: the command-line front end. Each subcommand is a thin layer over the library:
//   train   crate::train          (crate/train.hpp)
//   eval    crate::evaluate       (a saved model on a dataset's test split)
//   params  crate::count_parameters for every named configuration
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "crate/checkpoint.hpp"
#include "crate/config.hpp"
#include "crate/train.hpp"
#include "experiments/cli_common.hpp"
#include "tensor/parallel.hpp"

using namespace wb;

namespace {

void add_train(CLI::App& app, crate::TrainOptions& o, cli::ModelFlags& model) {
  auto* cmd = app.add_subcommand("train", "train a CRATE (or ViT) classifier; writes metrics, checkpoints and curves");
  model.add(*cmd);
  cmd->add_option("--data", o.data, "dataset")->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10"}))->capture_default_str();
  cmd->add_option("--data-dir", o.data_dir, "dataset directory (default: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--epochs", o.epochs, "training epochs")->check(cli::Positive)->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "batch size")->check(cli::Positive)->capture_default_str();
  cmd->add_option("--optimizer", o.optimizer, "optimizer")->check(CLI::IsMember({"adamw", "lion", "sgd"}))->capture_default_str();
  cmd->add_option("--lr", o.lr, "peak learning rate")->check(cli::Positive)->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "decoupled weight decay (not on norms and biases)")->check(cli::NonNegative)->capture_default_str();
  cmd->add_option("--min-lr", o.min_lr, "learning rate at the end of the cosine")->check(cli::NonNegative)->capture_default_str();
  cmd->add_option("--warmup-epochs", o.warmup_epochs, "linear warmup epochs")->check(cli::NonNegative)->capture_default_str();
  cmd->add_option("--label-smoothing", o.label_smoothing, "label smoothing")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd->add_option("--clip-grad", o.clip_grad, "gradient-norm clipping (0: off)")->check(cli::NonNegative)->capture_default_str();
  cmd->add_option("--momentum", o.momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_flag("!--no-augment", o.augment, "disable random crop and horizontal flip");
  cmd->add_option("--seed", o.seed, "seed of initialization, data order, augmentation")->capture_default_str();
  cmd->add_option("--threads", o.threads, "threads (default: all cores)")->check(cli::NonNegative);
  cmd->add_option("--train-limit", o.train_limit, "use only the first N training images")->check(cli::NonNegative);
  cmd->add_option("--test-limit", o.test_limit, "use only the first N test images")->check(cli::NonNegative);
  cmd->add_option("--out", o.out_dir, "run directory")->capture_default_str();
  cmd->add_flag("--resume", o.resume, "continue the run in --out from its last checkpoint");
  cmd->add_option("--log-every", o.log_every, "steps between metric lines")->check(cli::NonNegative)->capture_default_str();
  cmd->add_option("--checkpoint-every", o.checkpoint_every, "steps between mid-epoch checkpoints (0: epoch ends)")->check(cli::NonNegative);
  cmd->add_option("--stop-after-epochs", o.stop_after_epochs, "end this invocation after N epochs (resume later)")->check(cli::NonNegative);
  cmd->add_flag("!--no-plot", o.plot, "do not write curves.png");
  cmd->add_flag("!--quiet", o.progress, "no progress output");
  cmd->callback([&] {
    o.model = model.resolve();
    const auto r = crate::train(o);
    if (!r.epochs.empty()) {
      const auto& e = r.epochs.back();
      fmt::print("{}: epoch {} test accuracy {:.2f}% (loss {:.4f}); checkpoint {}\n", o.model.name, e.epoch,
                 100 * e.test_accuracy, e.test_loss, r.model_path);
    }
    if (r.interrupted) throw CLI::RuntimeError(130);
  });
}

struct EvalFlags {
  std::string checkpoint, data = "fashion-mnist", data_dir;
  std::int64_t batch_size = 256, limit = 0;
  int threads = 0;
  cli::ModelFlags model;
};

void add_eval(CLI::App& app, EvalFlags& f) {
  auto* cmd = app.add_subcommand("eval", "test accuracy of a saved model");
  cmd->add_option("--checkpoint", f.checkpoint, "model.safetensors to evaluate")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", f.data, "dataset")->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10"}))->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--batch-size", f.batch_size, "batch size")->check(cli::Positive)->capture_default_str();
  cmd->add_option("--limit", f.limit, "evaluate only the first N test images")->check(cli::NonNegative);
  cmd->add_option("--threads", f.threads, "threads")->check(cli::NonNegative);
  f.model.add(*cmd, false);
  cmd->callback([&] {
    if (f.threads > 0) set_num_threads(f.threads);
    const bool named = !f.model.name.empty() && f.model.name != "crate-mini-28";
    auto model = crate::load_model(f.checkpoint, named || f.model.any_override()
                                                     ? std::optional<crate::CrateConfig>(f.model.resolve())
                                                     : std::nullopt);
    auto test = std::make_shared<data::Dataset>(crate::load_named_dataset(f.data, f.data_dir, data::Split::test));
    if (f.limit > 0 && f.limit < test->size()) *test = test->subset(0, f.limit);
    data::LoaderOptions lo;
    lo.batch_size = f.batch_size;
    lo.normalization = crate::named_normalization(f.data);
    data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
    const auto r = crate::evaluate(*model, loader);
    fmt::print("{} on {} test ({} images): accuracy {:.2f}%, loss {:.4f}\n", model->config().name, f.data, r.count,
               100 * r.accuracy, r.loss);
  });
}

void add_params(CLI::App& app) {
  auto* cmd = app.add_subcommand("params", "parameter counts of every named configuration");
  cmd->callback([] {
    fmt::print("{:<14} {:>5} {:>6} {:>6} {:>5} {:>6} {:>6} {:>8} {:>10} {:>14}\n", "config", "image", "patch", "d", "L",
               "heads", "p", "classes", "blocks", "parameters");
    for (const auto& name : crate::config_names()) {
      const auto c = crate::named_config(name);
      fmt::print("{:<14} {:>5} {:>6} {:>6} {:>5} {:>6} {:>6} {:>8} {:>10} {:>14}\n", name, c.image_size, c.patch_size,
                 c.dim, c.depth, c.heads, c.dim_head, c.num_classes, c.attention + "/" + c.mlp,
                 crate::count_parameters(c));
    }
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"whitebox: CRATE white-box transformers, sparse rate reduction, from scratch in C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "whitebox 0.1.0");
  crate::TrainOptions train_opts;
  cli::ModelFlags train_model;
  EvalFlags eval_flags;
  add_train(app, train_opts, train_model);
  add_eval(app, eval_flags);
  add_params(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "whitebox: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
