#include "crate/train/loop.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/io/atomic_file.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/io/file_lock.hpp"
#include "crate/report/plot.hpp"
#include "crate/report/progress.hpp"
#include "crate/train/evaluate.hpp"
#include "crate/train/objectives/classification.hpp"
#include "crate/train/objectives/language_modeling.hpp"
#include "crate/train/objectives/mae_classify.hpp"
#include "crate/train/objectives/masked_autoencoding.hpp"
#include "crate/train/objectives/sparse_rate_reduction.hpp"
#include "crate/train/run_log.hpp"
#include "crate/train/run_state.hpp"
#include "ops/ops.hpp"
#include "ops/optim/optim.hpp"
#include "tensor/parallel.hpp"

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

std::vector<std::string> match_parameters(const NamedTensors& params, const std::vector<std::string>& patterns) {
  std::set<std::string> hit;
  for (const auto& pattern : patterns) {
    bool any = false;
    for (const auto& [name, t] : params)
      if (::fnmatch(pattern.c_str(), name.c_str(), 0) == 0) hit.insert(name), any = true;
    if (!any) {
      std::string names;
      for (std::size_t i = 0; i < params.size() && i < 6; ++i) names += (i ? ", " : "") + params[i].first;
      throw std::invalid_argument(fmt::format("train --freeze '{}': no parameter matches (the model's {} parameters: {}{})",
                                              pattern, params.size(), names, params.size() > 6 ? ", ..." : ""));
    }
  }
  std::vector<std::string> out;
  for (const auto& [name, t] : params)
    if (hit.count(name)) out.push_back(name);
  return out;
}

namespace {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainOptions& o, const NamedTensors& trainable) {
  auto groups = optim::split_decay(trainable, o.lr, o.weight_decay);
  if (o.optimizer == "lion") return std::make_unique<optim::Lion>(std::move(groups));
  if (o.optimizer == "sgd") {
    optim::SGDOptions so;
    so.momentum = o.momentum;
    return std::make_unique<optim::SGD>(std::move(groups), so);
  }
  optim::AdamWOptions ao;
  ao.beta2 = o.adam_beta2;
  return std::make_unique<optim::AdamW>(std::move(groups), ao);
}

// --init-from and --freeze: the starting weights, then the parameters the optimizer may move.
NamedTensors prepare_parameters(Task& task, const TrainOptions& o, bool resuming) {
  if (!o.init_from.empty() && !resuming) {
    const LoadReport r = task.load_weights(read_safetensors(o.init_from), o.init_from,
                                           o.init_partial ? LoadMode::partial : LoadMode::strict);
    if (o.progress) {
      fmt::print(stderr, "initialized {} of {}'s tensors from {}\n", r.loaded, task.name(), o.init_from);
      for (const auto& s : r.skipped) fmt::print(stderr, "  not loaded: {}\n", s);
    }
  }
  const NamedTensors all = task.model().named_parameters();
  const auto frozen = match_parameters(all, o.freeze);
  const std::set<std::string> frozen_set(frozen.begin(), frozen.end());
  NamedTensors trainable;
  for (auto [name, t] : all) {
    if (frozen_set.count(name)) t.requires_grad_(false);
    else trainable.emplace_back(name, t);
  }
  if (trainable.empty()) throw std::invalid_argument("train --freeze: every parameter is frozen; nothing to train");
  if (o.progress && !frozen.empty())
    fmt::print(stderr, "frozen: {} of {} parameter tensors (--freeze)\n", frozen.size(), all.size());
  return trainable;
}

std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) { g_interrupt.store(true); }

// SIGINT sets g_interrupt while a run is in progress; the previous handler comes back on any exit.
class SigintGuard {
 public:
  SigintGuard() {
    g_interrupt.store(false);
    prev_ = std::signal(SIGINT, on_sigint);
  }
  ~SigintGuard() { std::signal(SIGINT, prev_); }
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;

 private:
  void (*prev_)(int) = SIG_DFL;
};

// Measures the model, appends the result to the log, and rewrites measure.{csv,json,png} from the
// whole log (one curve per measured epoch).
void record_measurement(Task& task, data::Loader& loader, std::int64_t epoch, const RunPaths& paths,
                        const TrainOptions& o) {
  const Measurement m = task.measure(loader, epoch == 0 ? "init" : fmt::format("epoch {}", epoch));
  json line = to_json(m);
  line["epoch"] = epoch;
  append_jsonl(paths.measurements, line);
  write_measurements((fs::path(o.out_dir) / "measure").string(), read_measurement_log(paths.measurements),
                     o.plot && gnuplot_available());
  if (o.progress) fmt::print(stderr, "{}", format_table(m));
}

// Whether every weight is finite, reduced on the weights' device (one scalar back per tensor, no copy
// of the weights): sum(0 * w) is 0 exactly when w holds no NaN or infinity (0 * inf is NaN), and
// cannot overflow. The rare failure is then named by describe_nonfinite.
bool all_finite(const NamedTensors& weights) {
  autograd::NoGradGuard ng;
  double total = 0.0;
  for (const auto& [name, w] : weights) total += ops::sum(ops::mul_scalar(w, 0.0)).item();
  return total == 0.0;
}

// The end of every divergence message: what is left on disk.
std::string kept_note(const TrainOptions& o) {
  const auto ckpt = latest_checkpoint(o.out_dir);
  return ckpt ? fmt::format("; the last checkpoint, all finite, is kept ({})", ckpt->dir)
              : fmt::format("; no checkpoint was written to {}", o.out_dir);
}

// One optimizer step on a batch: the task's loss plus the loop's objectives, backward, clipping, the
// update.
struct StepResult {
  double loss = 0.0, srr = 0.0, grad_norm = 0.0;
  Metrics sums;
  std::int64_t n = 0;
};

StepResult train_step(Task& task, optim::Optimizer& opt, const std::vector<Tensor>& params,
                      const NamedTensors& trainable, const data::Batch& b, const TrainOptions& o, std::int64_t epoch,
                      std::int64_t step) {
  StepResult r;
  opt.zero_grad();
  std::vector<LayerTrace> traces;
  TaskStep s = task.step(b, Phase::train, o.srr_weight > 0 ? &traces : nullptr);
  Tensor loss = s.loss;
  if (o.srr_weight > 0) {
    const Tensor srr = sparse_rate_reduction_objective(task.layers(), traces);
    r.srr = srr.item();
    loss = ops::add(loss, ops::mul_scalar(srr, o.srr_weight));
  }
  r.loss = loss.item();
  // (The messages are built only on failure: kept_note lists the run folder.)
  if (!std::isfinite(r.loss))
    optim::check_finite(r.loss, fmt::format("loss at epoch {} step {} (lower --lr or raise --clip-grad?){}", epoch + 1,
                                            step, kept_note(o)));
  autograd::backward(loss);
  r.grad_norm = o.clip_grad > 0 ? optim::clip_grad_norm_(params, o.clip_grad) : optim::grad_norm(params);
  if (!std::isfinite(r.grad_norm))
    optim::check_finite(r.grad_norm, fmt::format("gradient norm at epoch {} step {} (lower --lr or raise --clip-grad?){}",
                                                 epoch + 1, step, kept_note(o)));
  opt.step();
  const std::string bad = all_finite(trainable) ? std::string() : describe_nonfinite(trainable);
  if (!bad.empty())
    throw std::runtime_error(fmt::format("non-finite weight after epoch {} step {}: {} (lower --lr or raise "
                                         "--clip-grad?){}",
                                         epoch + 1, step, bad, kept_note(o)));
  r.sums = std::move(s.sums);
  r.n = s.count;
  return r;
}

// Every number of a metrics line must be finite (JSON has no NaN: nlohmann would write null, which
// breaks every reader and --resume); a non-finite one is a divergence, named with its step.
void require_finite_line(const json& line, const std::string& where, const TrainOptions& o) {
  for (const auto& [key, v] : line.items()) {
    if (v.is_object()) require_finite_line(v, where, o);
    else if (v.is_number_float() && !std::isfinite(v.get<double>()))
      throw std::runtime_error(fmt::format("non-finite {} ({}) {} (lower --lr or raise --clip-grad?){}", key,
                                           v.get<double>(), where, kept_note(o)));
  }
}

// The record of a finished epoch from its running sums and the test evaluation.
EpochRecord epoch_record(std::int64_t epoch, const Position& pos, const EvalResult& ev, double lr, double seconds) {
  EpochRecord rec;
  rec.epoch = epoch + 1;
  const double seen = std::max<double>(1.0, static_cast<double>(pos.seen));
  rec.train_loss = pos.loss_sum / seen;
  for (const auto& [name, v] : pos.sums) rec.train[name] = v / seen;
  rec.test_loss = ev.loss;
  rec.test = ev.metrics;
  rec.lr = lr;
  rec.seconds = seconds;
  rec.samples_per_second = seconds > 0 ? static_cast<double>(pos.seen) / seconds : 0.0;
  return rec;
}

}  // namespace

TrainResult train(const TrainOptions& options) {
  TrainOptions o = options;
  validate(o);
  if (o.task == "lm") {
    LmTask task(o);
    return train(task, o);
  }
  if (o.task == "mae" || o.task == "mae-classify") {
    o.mae.seed = o.seed;
    if (o.task == "mae-classify") {
      MaeClassifyTask task(o);
      return train(task, o);
    }
    MaeTask task(o);
    return train(task, o);
  }
  o.model.seed = o.seed;
  ClassificationTask task(o);
  return train(task, o);
}

TrainResult train(Task& task, const TrainOptions& o) {
  validate(o);
  struct ThreadsGuard {  // the thread count of this run, restored for the caller afterwards
    int saved = num_threads();
    ~ThreadsGuard() { set_num_threads(saved); }
  } threads_guard;
  if (o.threads > 0) set_num_threads(o.threads);
  const auto wall_start = std::chrono::steady_clock::now();

  fs::create_directories(o.out_dir);
  const FileLock lock((fs::path(o.out_dir) / ".lock").string(), fmt::format("train: run folder {}", o.out_dir));
  const RunPaths paths(o.out_dir);
  for (const auto& note : tidy_run_folder(paths))
    if (o.progress) fmt::print(stderr, "{}\n", note);
  const std::optional<CheckpointRef> checkpoint = latest_checkpoint(o.out_dir);
  if (!o.resume && checkpoint)
    throw std::invalid_argument(fmt::format("train: {} already holds a run ({}); pass --resume to continue it or choose "
                                            "another --out",
                                            o.out_dir,
                                            checkpoint->number > 0 ? fs::path(checkpoint->dir).filename().string()
                                                                   : "model.safetensors and train_state.safetensors"));
  const bool resuming = o.resume && checkpoint.has_value();
  if (!checkpoint && (o.resume || fs::exists(paths.options) || fs::exists(paths.model))) {
    // A run that stopped before its first complete checkpoint (or weights without their state).
    fmt::print(stderr, "{}: {} holds no complete checkpoint (a run there stopped before its first one); {}\n",
               o.resume ? "train --resume" : "train", o.out_dir,
               o.resume ? "resuming from scratch (step 0)" : "starting afresh");
    std::error_code ec;
    fs::remove(paths.model, ec);
  }
  TaskData data = task.open_data(o);
  data::Loader& train_loader = *data.train;

  // Parameters, optimizer, schedule.
  const NamedTensors trainable = prepare_parameters(task, o, resuming);
  auto opt = make_optimizer(o, trainable);
  const std::int64_t steps_per_epoch = train_loader.batches_per_epoch();
  optim::ScheduleConfig sc;
  sc.base_lr = o.lr;
  sc.warmup = o.warmup_steps >= 0 ? o.warmup_steps : o.warmup_epochs * steps_per_epoch;
  sc.total = std::max<std::int64_t>(1, o.epochs * steps_per_epoch);
  sc.min_lr = std::min(o.min_lr, o.lr);
  const optim::Schedule schedule(sc);
  std::vector<Tensor> params;
  for (const auto& [name, t] : trainable) params.push_back(t);
  const std::vector<MetricSpec> specs = task.metrics();

  Position pos;
  std::vector<EpochRecord> history;
  if (resuming) {
    load_checkpoint(*checkpoint, o, pos, history, task, *opt);
    keep_records_upto(paths.metrics, "step", pos.step);
    if (o.measure_every > 0) keep_records_upto(paths.measurements, "epoch", pos.epoch);  // re-measures what follows
    if (o.progress) fmt::print(stderr, "resuming {} at epoch {} batch {} (step {})\n", o.out_dir, pos.epoch + 1, pos.batch, pos.step);
  } else {
    keep_records_upto(paths.metrics, "step", -1);
    write_file_atomic(paths.options, to_json(o).dump(2) + "\n");
    if (o.measure_every > 0) {
      write_file_atomic(paths.measurements, "");
      record_measurement(task, *data.measure, 0, paths, o);
    }
  }

  auto save = [&](const Position& p) { save_checkpoint(paths, o, p, history, task, *opt); };

  const SigintGuard sigint;
  TrainResult result;
  result.model_path = paths.model;
  const std::int64_t last_epoch = o.stop_after_epochs > 0 ? std::min(o.epochs, pos.epoch + o.stop_after_epochs) : o.epochs;
  for (std::int64_t epoch = pos.epoch; epoch < last_epoch && !result.interrupted; ++epoch) {
    task.model().train(true);
    train_loader.start(epoch, pos.batch);
    Progress bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), steps_per_epoch, task.unit());
    const auto epoch_start = std::chrono::steady_clock::now();
    double lr_now = 0.0;
    std::int64_t batch_index = pos.batch;
    while (auto b = train_loader.next()) {
      lr_now = schedule.apply(*opt, pos.step);
      const StepResult r = train_step(task, *opt, params, trainable, *b, o, epoch, pos.step + 1);  // steps are named 1-based, as in metrics.jsonl
      const std::int64_t n = r.n;
      pos.loss_sum += r.loss * static_cast<double>(n);
      for (const auto& [name, v] : r.sums) pos.sums[name] += v;
      pos.seen += n;
      pos.step += 1;
      batch_index += 1;
      if (o.log_every > 0 && pos.step % o.log_every == 0) {
        json line = {{"kind", "step"}, {"epoch", epoch + 1}, {"step", pos.step}, {"loss", r.loss}, {"lr", lr_now},
                     {"grad_norm", r.grad_norm}, {per_second_key(task.unit()), bar.rate()}, {"srr", r.srr}};
        for (const auto& [name, v] : r.sums) line[name] = v / static_cast<double>(n);
        require_finite_line(line, fmt::format("at epoch {} step {}", epoch + 1, pos.step), o);
        append_jsonl(paths.metrics, line);
      }
      if (!o.progress) bar.count(n);
      else
        bar.update(batch_index, n,
                   format_metrics(pos.loss_sum / static_cast<double>(pos.seen), pos.sums,
                                  static_cast<double>(pos.seen), specs, 5, 1));
      const bool interrupted = g_interrupt.load();
      if (interrupted || (o.checkpoint_every > 0 && pos.step % o.checkpoint_every == 0 && batch_index < steps_per_epoch)) {
        Position p = pos;
        p.epoch = epoch;
        p.batch = batch_index;
        p.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
        save(p);
        if (interrupted) {
          fmt::print(stderr, "\ninterrupted: checkpoint at epoch {} batch {} written to {}; continue with --resume\n",
                     epoch + 1, batch_index, o.out_dir);
          result.interrupted = true;
          break;
        }
      }
    }
    if (result.interrupted) break;
    const double seconds = pos.seconds + std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (o.progress) bar.finish(fmt::format("loss {:.4f}", pos.loss_sum / std::max<double>(1.0, static_cast<double>(pos.seen))));
    EpochRecord rec = epoch_record(epoch, pos, evaluate(task, *data.test), lr_now, seconds);
    rec.unit = task.unit();
    task.derive_metrics(rec.train_loss, rec.train);
    task.derive_metrics(rec.test_loss, rec.test);
    history.push_back(rec);
    json line = to_json(rec);
    line["kind"] = "epoch";
    line["step"] = pos.step;
    // Before anything of this epoch is kept: a diverged evaluation keeps the last finite checkpoint.
    require_finite_line(line, fmt::format("in the evaluation after epoch {} (step {})", epoch + 1, pos.step), o);
    append_jsonl(paths.metrics, line);
    if (o.progress)
      fmt::print(stderr, "epoch {}/{}: train {} | {} {} | {:.0f} {}/s\n", rec.epoch, o.epochs,
                 format_metrics(rec.train_loss, rec.train, 1.0, specs, 0, 2), task.eval_split(),
                 format_metrics(rec.test_loss, rec.test, 1.0, specs, 0, 2), rec.samples_per_second, task.unit());
    const std::int64_t steps = pos.step;
    pos = Position{};  // the next epoch starts with fresh running sums
    pos.epoch = epoch + 1;
    pos.step = steps;
    if (o.measure_every > 0 && (rec.epoch % o.measure_every == 0 || rec.epoch == o.epochs))
      record_measurement(task, *data.measure, rec.epoch, paths, o);
    save(pos);
    task.end_of_epoch(rec.epoch, o);
    if (o.plot && gnuplot_available())
      plot_curves((fs::path(o.out_dir) / "curves.png").string(), history, specs, o.label_smoothing, task.eval_split());
  }
  result.epochs = history;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace wb::crate
