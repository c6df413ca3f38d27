// `whitebox eval`: test accuracy and loss of a saved model (crate::evaluate of the classification task).
#include <memory>

#include <fmt/format.h>

#include "datasets/registry.hpp"
#include "crate/train/evaluate.hpp"
#include "crate/train/objectives/classification.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct EvalFlags {
  std::string checkpoint, data = "fashion-mnist", data_dir;
  std::int64_t batch_size = 256, limit = 0;
  int threads = 0;
  ModelFlags model = ModelFlags::without_default();  // by default the configuration comes from the file's metadata
};
}  // namespace

void add_eval_command(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  EvalFlags& f = *flags;
  auto* cmd = app.add_subcommand("eval", "test accuracy of a saved model");
  cmd->add_option("--checkpoint", f.checkpoint, "model.safetensors to evaluate")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", f.data, "dataset")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--batch-size", f.batch_size, "batch size")->check(BatchSize)->capture_default_str();
  cmd->add_option("--limit", f.limit, "evaluate only the first N test images")->check(NonNegative);
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  f.model.add(*cmd, false);  // --model only for files without whitebox metadata (e.g. converted official weights)
  cmd->callback([flags] {
    EvalFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    crate::ClassificationTask task(load_checkpoint_model(f.checkpoint, f.model, "eval"));
    auto test = std::make_shared<data::Dataset>(data::load_dataset(f.data, f.data_dir, data::Split::test));
    if (f.limit > 0 && f.limit < test->size()) *test = test->subset(0, f.limit);
    data::LoaderOptions lo;
    lo.batch_size = f.batch_size;
    lo.normalization = data::dataset_info(f.data).normalization;
    data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
    const auto r = crate::evaluate(task, loader);
    fmt::print("{} on {} test ({} images): accuracy {:.2f}%, loss {:.4f}\n", task.name(), f.data, r.count,
               100 * r.metric("accuracy"), r.loss);
  });
}

}  // namespace wb::cli
