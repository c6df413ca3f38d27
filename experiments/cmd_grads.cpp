// `whitebox grads`: the loss and every parameter's gradient of a checkpoint on one batch, written as
// safetensors (crate::batch_gradients), for parity checks against another framework.
#include <cmath>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/safetensors.hpp"
#include "crate/train/gradients.hpp"
#include "crate/train/objectives/classification.hpp"
#include "datasets/registry.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace wb::cli {
namespace {
struct GradsFlags {
  std::string checkpoint, out, data = "fashion-mnist", data_dir, split = "test";
  std::int64_t batch_size = 8, offset = 0;
  double label_smoothing = 0.0, srr_weight = 0.0;
  int threads = 0;
  ModelFlags model = ModelFlags::without_default();  // by default the configuration comes from the file's metadata
};
}  // namespace

void add_grads_command(CLI::App& app) {
  auto flags = std::make_shared<GradsFlags>();
  GradsFlags& f = *flags;
  auto* cmd = app.add_subcommand(
      "grads", "write the loss and every parameter's gradient on one batch to a safetensors file (for parity checks)");
  cmd->add_option("--checkpoint", f.checkpoint, "model.safetensors")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", f.out, "output .safetensors (images, labels, logits, loss, grad.<parameter>)")->required();
  cmd->add_option("--data", f.data, "dataset")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  cmd->add_option("--split", f.split, "split the batch comes from")->check(CLI::IsMember({"train", "test"}))->capture_default_str();
  cmd->add_option("--offset", f.offset, "index of the batch's first image")->check(NonNegative)->capture_default_str();
  cmd->add_option("--batch-size", f.batch_size, "images in the batch")->check(BatchSize)->capture_default_str();
  cmd->add_option("--label-smoothing", f.label_smoothing, "label smoothing of the loss")->check(CLI::Range(0.0, 0.999))->capture_default_str();
  cmd->add_option("--srr-weight", f.srr_weight, "add w * the sparse rate reduction term, as train does")->check(NonNegative);
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  f.model.add(*cmd, false);  // --model only for files without whitebox metadata
  cmd->callback([flags] {
    GradsFlags& f = *flags;
    if (f.threads > 0) set_num_threads(f.threads);
    crate::ClassificationTask task(load_checkpoint_model(f.checkpoint, f.model, "grads"), f.label_smoothing);
    const crate::CrateConfig& c = task.classifier().config();
    const auto split = f.split == "train" ? data::Split::train : data::Split::test;
    auto set = std::make_shared<data::Dataset>(data::load_dataset(f.data, f.data_dir, split));
    if (set->channels != c.channels || set->height != c.image_size || set->width != c.image_size)
      throw std::invalid_argument(fmt::format("grads: model '{}' expects {}x{}x{} images; {} images are {}x{}x{}", c.name,
                                              c.channels, c.image_size, c.image_size, f.data, set->channels,
                                              set->height, set->width));
    if (f.offset + f.batch_size > set->size())
      throw std::invalid_argument(fmt::format("grads: images {}..{} are past the end of {} {} ({} images)", f.offset,
                                              f.offset + f.batch_size - 1, f.data, f.split, set->size()));
    *set = set->subset(f.offset, f.batch_size);
    data::LoaderOptions lo;
    lo.batch_size = f.batch_size;
    lo.normalization = data::dataset_info(f.data).normalization;
    lo.prefetch = 0;
    const data::Loader loader(std::shared_ptr<const data::Dataset>(set), data::eval_options(lo));
    const data::Batch b = loader.batch(0, 0);
    const crate::BatchGradients g = crate::batch_gradients(task, b, f.srr_weight);

    std::vector<std::pair<std::string, Tensor>> out = {
        {"images", b.x}, {"labels", b.y}, {"loss", Tensor::full({}, g.loss, DType::f64)}};
    double norm2 = 0.0;
    for (const auto& [name, t] : g.grads) {
      out.emplace_back("grad." + name, t);
      norm2 += prim::sum_all(prim::unary(prim::Unary::square, t));
    }
    const std::string source = fmt::format("{} {} images {}..{}, normalized", f.data, f.split, f.offset,
                                           f.offset + f.batch_size - 1);
    crate::write_safetensors(f.out, out,
                             {{"format", "pt"},
                              {"whitebox.config", crate::to_json(c).dump()},
                              {"checkpoint", f.checkpoint},
                              {"source", source},
                              {"loss", fmt::format("{:.17g}", g.loss)},
                              {"label_smoothing", fmt::format("{}", f.label_smoothing)},
                              {"srr_weight", fmt::format("{}", f.srr_weight)},
                              {"mode", "eval (no dropout)"}});
    fmt::print("{}: loss {:.6f} on {} ({}), {} gradients, total norm {:.6g}\n", f.out, g.loss, source,
               dtype_name(c.dtype), g.grads.size(), std::sqrt(norm2));
  });
}

}  // namespace wb::cli
