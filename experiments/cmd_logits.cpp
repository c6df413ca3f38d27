// `whitebox logits`: runs a saved model on a few inputs and writes the inputs and the logits to a
// safetensors file, so another implementation (scripts/crate_reference.py, the official PyTorch
// code through scripts/pytorch_parity.py) can be run on the same inputs and compared.
//
// Output tensors:
//   images  (B, C, H, W) f32   the model's input: normalized test images, or N(0, 1) noise
//   logits  (B, classes)       in the model's dtype (f32, or f64 for --f64 models)
//   labels  (B) i64            the test labels (--data only)
// and the metadata "whitebox.config" (the model's configuration), "checkpoint" and "source".
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "datasets/registry.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/train/loop.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "ops/ops.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace wb::cli {
namespace {
struct LogitsFlags {
  std::string checkpoint, out, data = "fashion-mnist", data_dir;
  std::int64_t limit = 64, random = 0, batch_size = 64;
  std::uint64_t seed = 0;
  int threads = 0;
  ModelFlags model = ModelFlags::without_default();  // by default the configuration comes from the file's metadata
};

// Logits of `images` in batches of `batch_size`, concatenated.
Tensor run_batches(const crate::CrateModel& model, const Tensor& images, std::int64_t batch_size) {
  std::vector<Tensor> parts;
  for (std::int64_t i = 0; i < images.size(0); i += batch_size)
    parts.push_back(model.forward(prim::slice(images, 0, i, std::min(images.size(0), i + batch_size))));
  return parts.size() == 1 ? parts[0] : ops::concat(parts, 0);
}
}  // namespace

void add_logits_command(CLI::App& app) {
  auto flags = std::make_shared<LogitsFlags>();
  LogitsFlags& f = *flags;
  auto* cmd = app.add_subcommand("logits", "write a model's inputs and logits to a safetensors file (for parity checks)");
  cmd->add_option("--checkpoint", f.checkpoint, "model.safetensors to run")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", f.out, "output .safetensors (images, logits, labels)")->required();
  auto* data = cmd->add_option("--data", f.data, "test images of this dataset (normalized as in training)")
                   ->check(CLI::IsMember(data::dataset_names()))
                   ->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--limit", f.limit, "the first N test images")->check(Positive)->capture_default_str();
  auto* random = cmd->add_option("--random", f.random, "N images of N(0, 1) noise instead of test images")->check(Positive);
  cmd->add_option("--seed", f.seed, "seed of the --random images")->check(Seed)->capture_default_str();
  random->excludes(data);
  cmd->add_option("--batch-size", f.batch_size, "batch size")->check(BatchSize)->capture_default_str();
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  f.model.add(*cmd, false);  // --model only for files without whitebox metadata (e.g. converted official weights)
  cmd->callback([flags] {
    LogitsFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    auto model = load_checkpoint_model(f.checkpoint, f.model, "logits");
    const crate::ModeGuard eval(*model, false);
    autograd::NoGradGuard ng;
    const crate::CrateConfig& c = model->config();

    Tensor images, labels;
    std::string source;
    if (f.random > 0) {
      images = Tensor::empty({f.random, c.channels, c.image_size, c.image_size}, DType::f32);
      Generator gen(f.seed);
      prim::normal_(images, 0.0, 1.0, gen);
      source = fmt::format("random N(0, 1), seed {}", f.seed);
    } else {
      auto test = std::make_shared<data::Dataset>(data::load_dataset(f.data, f.data_dir, data::Split::test));
      if (test->channels != c.channels || test->height != c.image_size || test->width != c.image_size)
        throw std::invalid_argument(fmt::format("logits: model '{}' expects {}x{}x{} images; {} test images are {}x{}x{}",
                                                c.name, c.channels, c.image_size, c.image_size, f.data, test->channels,
                                                test->height, test->width));
      if (f.limit < test->size()) *test = test->subset(0, f.limit);
      data::LoaderOptions lo;
      lo.batch_size = test->size();
      lo.normalization = data::dataset_info(f.data).normalization;
      lo.prefetch = 0;
      data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
      const data::Batch b = loader.batch(0, 0);
      images = b.x;
      labels = b.y;
      source = fmt::format("{} test images 0..{}, normalized", f.data, test->size() - 1);
    }
    const Tensor logits = run_batches(*model, images, f.batch_size);

    std::vector<std::pair<std::string, Tensor>> out = {{"images", images}, {"logits", logits}};
    if (labels.defined()) out.emplace_back("labels", labels);
    crate::write_safetensors(f.out, out,
                             {{"format", "pt"},
                              {"whitebox.config", crate::to_json(c).dump()},
                              {"checkpoint", f.checkpoint},
                              {"source", source}});
    fmt::print("{}: {} inputs {} -> logits {} ({}) from {}\n", f.out, source, shape_str(images.shape()),
               shape_str(logits.shape()), dtype_name(logits.dtype()), f.checkpoint);
  });
}

}  // namespace wb::cli
