#include "crate/io/atomic_file.hpp"
#include "crate/train/loop.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/engine.hpp"
#include "autograd/grad_mode.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/instruments/measure.hpp"
#include "crate/report/plot.hpp"
#include "crate/report/progress.hpp"
#include "datasets/registry.hpp"
#include "ops/ops.hpp"
#include "ops/optim/optim.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- data

EvalResult evaluate(const CrateModel& model_in, data::Loader& loader, double label_smoothing) {
  auto& model = const_cast<CrateModel&>(model_in);  // evaluation mode is switched and restored
  const bool was_training = model.training();
  model.train(false);
  autograd::NoGradGuard ng;
  EvalResult r;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  loader.start(0, 0);
  while (auto b = loader.next()) {
    const Tensor logits = model.forward(b->x);
    const std::int64_t n = b->y.numel();
    loss_sum += ops::cross_entropy(logits, b->y, -100, label_smoothing).item() * static_cast<double>(n);
    const auto pred = ops::argmax(logits, 1).to_vector<std::int64_t>();
    const auto y = b->y.to_vector<std::int64_t>();
    for (std::size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
    r.count += n;
  }
  model.train(was_training);
  if (r.count > 0) {
    r.loss = loss_sum / static_cast<double>(r.count);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  }
  return r;
}

// ---------------------------------------------------------------- options

json to_json(const TrainOptions& o) {
  return {{"model", to_json(o.model)},
          {"data", o.data},
          {"data_dir", o.data_dir},
          {"epochs", o.epochs},
          {"batch_size", o.batch_size},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"min_lr", o.min_lr},
          {"warmup_epochs", o.warmup_epochs},
          {"label_smoothing", o.label_smoothing},
          {"clip_grad", o.clip_grad},
          {"momentum", o.momentum},
          {"augment", o.augment},
          {"crop_padding", o.crop_padding},
          {"flip", o.flip},
          {"seed", o.seed},
          {"threads", o.threads},
          {"train_limit", o.train_limit},
          {"test_limit", o.test_limit},
          {"out_dir", o.out_dir},
          {"measure_every", o.measure_every},
          {"measure_limit", o.measure_limit},
          {"srr_weight", o.srr_weight}};
}

TrainOptions train_options_from_json(const json& j) {
  TrainOptions o;
  auto get = [&](const char* key, auto& field) {
    if (j.contains(key)) j.at(key).get_to(field);
  };
  if (j.contains("model")) o.model = config_from_json(j.at("model"));
  get("data", o.data);
  get("data_dir", o.data_dir);
  get("epochs", o.epochs);
  get("batch_size", o.batch_size);
  get("optimizer", o.optimizer);
  get("lr", o.lr);
  get("weight_decay", o.weight_decay);
  get("min_lr", o.min_lr);
  get("warmup_epochs", o.warmup_epochs);
  get("label_smoothing", o.label_smoothing);
  get("clip_grad", o.clip_grad);
  get("momentum", o.momentum);
  get("augment", o.augment);
  get("crop_padding", o.crop_padding);
  get("flip", o.flip);
  get("seed", o.seed);
  get("threads", o.threads);
  get("train_limit", o.train_limit);
  get("test_limit", o.test_limit);
  get("out_dir", o.out_dir);
  get("measure_every", o.measure_every);
  get("measure_limit", o.measure_limit);
  get("srr_weight", o.srr_weight);
  return o;
}

json to_json(const EpochRecord& e) {
  return {{"epoch", e.epoch},           {"train_loss", e.train_loss}, {"train_accuracy", e.train_accuracy},
          {"test_loss", e.test_loss},   {"test_accuracy", e.test_accuracy}, {"lr", e.lr},
          {"seconds", e.seconds},       {"images_per_second", e.images_per_second}};
}

EpochRecord epoch_from_json(const json& j) {
  EpochRecord e;
  j.at("epoch").get_to(e.epoch);
  j.at("train_loss").get_to(e.train_loss);
  j.at("train_accuracy").get_to(e.train_accuracy);
  j.at("test_loss").get_to(e.test_loss);
  j.at("test_accuracy").get_to(e.test_accuracy);
  j.at("lr").get_to(e.lr);
  j.at("seconds").get_to(e.seconds);
  j.at("images_per_second").get_to(e.images_per_second);
  return e;
}

namespace {

void validate(const TrainOptions& o) {
  auto bad = [](const std::string& m) { throw std::invalid_argument("train: " + m); };
  if (o.epochs <= 0) bad(fmt::format("--epochs must be positive, got {}", o.epochs));
  if (o.batch_size <= 0) bad(fmt::format("--batch-size must be positive, got {}", o.batch_size));
  if (!(o.lr > 0)) bad(fmt::format("--lr must be positive, got {}", o.lr));
  if (o.weight_decay < 0) bad(fmt::format("--weight-decay must be >= 0, got {}", o.weight_decay));
  if (o.label_smoothing < 0 || o.label_smoothing >= 1) bad(fmt::format("--label-smoothing must be in [0, 1), got {}", o.label_smoothing));
  if (o.clip_grad < 0) bad(fmt::format("--clip-grad must be >= 0, got {}", o.clip_grad));
  if (o.warmup_epochs < 0 || o.warmup_epochs > o.epochs) bad(fmt::format("--warmup-epochs must be in [0, epochs], got {}", o.warmup_epochs));
  if (o.optimizer != "adamw" && o.optimizer != "lion" && o.optimizer != "sgd")
    bad(fmt::format("--optimizer must be adamw, lion or sgd, got '{}'", o.optimizer));
  if (o.out_dir.empty()) bad("--out must name a directory");
  if (o.measure_every < 0 || o.measure_limit <= 0) bad("--measure-every must be >= 0 and --measure-limit positive");
  if (!(o.srr_weight >= 0)) bad(fmt::format("--srr-weight must be >= 0, got {}", o.srr_weight));
  o.model.validate();
}

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainOptions& o, const CrateModel& model) {
  auto groups = optim::split_decay(model.named_parameters(), o.lr, o.weight_decay);
  if (o.optimizer == "lion") return std::make_unique<optim::Lion>(std::move(groups));
  if (o.optimizer == "sgd") {
    optim::SGDOptions so;
    so.momentum = o.momentum;
    return std::make_unique<optim::SGD>(std::move(groups), so);
  }
  return std::make_unique<optim::AdamW>(std::move(groups));
}

// The fields that must not change across a resume (everything that shapes the trajectory).
json trajectory_fields(const TrainOptions& o) {
  json j = to_json(o);
  j.erase("out_dir");
  j.erase("threads");
  j.erase("data_dir");
  j.erase("measure_every");
  j.erase("measure_limit");
  return j;
}

json generator_to_json(const Generator& g) {
  const auto st = g.state();
  return {{"s", st.s}, {"has_spare", st.has_spare}, {"spare", st.spare}};
}

void generator_from_json(Generator& g, const json& j) {
  Generator::State st;
  j.at("s").get_to(st.s);
  j.at("has_spare").get_to(st.has_spare);
  j.at("spare").get_to(st.spare);
  g.set_state(st);
}

// Where the loop stands, saved beside the weights.
struct Position {
  std::int64_t epoch = 0;  // epoch to run next (0-based)
  std::int64_t batch = 0;  // its first batch
  std::int64_t step = 0;   // optimizer steps so far
  double loss_sum = 0.0;   // running sums of a partly done epoch
  std::int64_t correct = 0, seen = 0;
  double seconds = 0.0;
};

std::atomic<bool> g_interrupt{false};
extern "C" void on_sigint(int) { g_interrupt.store(true); }

// Rewrites a JSONL log keeping the records whose `key` is <= `limit` (a resumed run redoes the rest).
void keep_records_upto(const std::string& path, const char* key, std::int64_t limit) {
  std::ifstream in(path);
  std::string kept, line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value(key, std::int64_t{0}) <= limit) kept += line + "\n";
  }
  write_file_atomic(path, kept);
}

class MetricsLog {
 public:
  explicit MetricsLog(std::string path) : path_(std::move(path)) {}
  // Keeps only the lines up to (and including) optimizer step `step`, for a resumed run.
  void truncate_after(std::int64_t step) { keep_records_upto(path_, "step", step); }
  void append(const json& j) {
    std::ofstream out(path_, std::ios::app);
    out << j.dump() << "\n";
    out.flush();
    if (!out) throw std::runtime_error(fmt::format("{}: cannot append metrics", path_));
  }

 private:
  std::string path_;
};

void plot_curves(const std::string& path, const std::vector<EpochRecord>& hist, double label_smoothing) {
  const std::string train_label = label_smoothing > 0 ? fmt::format("train (label smoothing {})", label_smoothing) : "train";
  Series tl{train_label, {}, {}, {}}, vl{"test", {}, {}, {}}, ta{"train", {}, {}, {}}, va{"test", {}, {}, {}};
  for (const auto& e : hist) {
    const auto x = static_cast<double>(e.epoch);
    tl.x.push_back(x), tl.y.push_back(e.train_loss);
    vl.x.push_back(x), vl.y.push_back(e.test_loss);
    ta.x.push_back(x), ta.y.push_back(100 * e.train_accuracy);
    va.x.push_back(x), va.y.push_back(100 * e.test_accuracy);
  }
  plot_png(path, {Panel{"loss", "epoch", "cross-entropy", {tl, vl}, false},
                  Panel{"accuracy", "epoch", "accuracy (%)", {ta, va}, false}});
}

// Measures the model, appends the result to the log, and rewrites measure.{csv,json,png} from the
// whole log (one curve per measured epoch).
void record_measurement(const CrateModel& model, data::Loader& loader, std::int64_t epoch, const std::string& log,
                        const TrainOptions& o) {
  const Measurement m = measure(const_cast<CrateModel&>(model), loader, epoch == 0 ? "init" : fmt::format("epoch {}", epoch));  // record_measurement should take CrateModel&
  json line = to_json(m);
  line["epoch"] = epoch;
  {
    std::ofstream out(log, std::ios::app);
    out << line.dump() << "\n";
    if (!out) throw std::runtime_error(fmt::format("{}: cannot append the measurement", log));
  }
  write_measurements((fs::path(o.out_dir) / "measure").string(), read_measurement_log(log),
                     o.plot && gnuplot_available());
  if (o.progress) fmt::print(stderr, "{}", format_table(m));
}

// The training state beside the weights (train_state.safetensors): where the loop stands, the
// history, the dropout RNG and the optimizer's tensors. The weights are written first, tagged with
// the step, so a run killed between the two files is detected on resume.
void save_checkpoint(const std::string& model_path, const std::string& state_path, const TrainOptions& o,
                     const Position& p, const std::vector<EpochRecord>& history, const CrateModel& model,
                     optim::Optimizer& opt) {
  save_model(model_path, model, {{"whitebox.step", std::to_string(p.step)}});
  json j = {{"options", trajectory_fields(o)}, {"epoch", p.epoch},     {"batch", p.batch},
            {"step", p.step},                  {"loss_sum", p.loss_sum}, {"correct", p.correct},
            {"seen", p.seen},                  {"seconds", p.seconds},  {"dropout_rng", generator_to_json(model.dropout_generator())}};
  json h = json::array();
  for (const auto& e : history) h.push_back(to_json(e));
  j["history"] = h;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : opt.state_tensors()) tensors.emplace_back("optim." + name, t);
  write_safetensors(state_path, tensors, {{"whitebox.train_state", j.dump()}});
}

// The inverse of save_checkpoint: loads the weights and state of `o.out_dir` into model, optimizer,
// position and history, refusing a checkpoint whose options or step do not match.
void load_checkpoint(const std::string& model_path, const std::string& state_path, const TrainOptions& o,
                     Position& pos, std::vector<EpochRecord>& history, CrateModel& model, optim::Optimizer& opt) {
  if (!fs::exists(model_path) || !fs::exists(state_path))
    throw std::invalid_argument(fmt::format("train --resume: {} has no checkpoint (model.safetensors and "
                                            "train_state.safetensors)",
                                            o.out_dir));
  const SafeTensors weights = read_safetensors(model_path);
  load_weights(model, weights, model_path);
  const SafeTensors st = read_safetensors(state_path);
  const auto meta = st.metadata.find("whitebox.train_state");
  if (meta == st.metadata.end()) throw std::runtime_error(fmt::format("{}: no 'whitebox.train_state' metadata", state_path));
  const json j = json::parse(meta->second);
  if (j.at("options") != trajectory_fields(o))
    throw std::invalid_argument(fmt::format(
        "train --resume: the options differ from the checkpoint's in {} (a resumed run must keep every option that "
        "shapes training)",
        o.out_dir));
  pos.epoch = j.at("epoch");
  pos.batch = j.at("batch");
  pos.step = j.at("step");
  // The weights are written before the state: a run killed between the two has weights one
  // checkpoint ahead of its optimizer state, which must not be combined.
  const auto wstep = weights.metadata.find("whitebox.step");
  if (wstep == weights.metadata.end() || wstep->second != std::to_string(pos.step))
    throw std::runtime_error(fmt::format(
        "train --resume: {} is at step {} but {} at step {} (the run stopped while writing its checkpoint); "
        "start it again in a new --out",
        model_path, wstep == weights.metadata.end() ? std::string("?") : wstep->second, state_path, pos.step));
  pos.loss_sum = j.at("loss_sum");
  pos.correct = j.at("correct");
  pos.seen = j.at("seen");
  pos.seconds = j.at("seconds");
  generator_from_json(model.dropout_generator(), j.at("dropout_rng"));
  for (const auto& e : j.at("history")) history.push_back(epoch_from_json(e));
  NamedTensors opt_state;
  for (const auto& [name, t] : st.tensors)
    if (name.rfind("optim.", 0) == 0) opt_state.emplace_back(name.substr(6), t);
  opt.load_state_tensors(opt_state);
}

// One optimizer step on a batch: forward (with the per-layer trace when the sparse rate reduction
// is part of the loss), the loss, backward, clipping, the update.
struct StepResult {
  double loss = 0.0, srr = 0.0, grad_norm = 0.0;
  std::int64_t correct = 0, n = 0;
};

StepResult train_step(const CrateModel& model, optim::Optimizer& opt, const std::vector<Tensor>& params,
                      const data::Batch& b, const TrainOptions& o, std::int64_t epoch, std::int64_t step) {
  StepResult r;
  opt.zero_grad();
  std::vector<LayerTrace> trace;
  const Tensor logits = model.forward(b.x, o.srr_weight > 0 ? &trace : nullptr);
  Tensor loss = ops::cross_entropy(logits, b.y, -100, o.label_smoothing);
  if (o.srr_weight > 0) {
    const Tensor s = srr_objective(model, trace);
    r.srr = s.item();
    loss = ops::add(loss, ops::mul_scalar(s, o.srr_weight));
  }
  r.loss = loss.item();
  optim::check_finite(r.loss, fmt::format("loss at epoch {} step {} (lower --lr or raise --clip-grad?)", epoch + 1, step));
  autograd::backward(loss);
  r.grad_norm = o.clip_grad > 0 ? optim::clip_grad_norm_(params, o.clip_grad) : optim::grad_norm(params);
  optim::check_finite(r.grad_norm, fmt::format("gradient norm at epoch {} step {}", epoch + 1, step));
  opt.step();
  const auto pred = ops::argmax(logits.detach(), 1).to_vector<std::int64_t>();
  const auto y = b.y.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < y.size(); ++i) r.correct += pred[i] == y[i];
  r.n = static_cast<std::int64_t>(y.size());
  return r;
}

// The datasets and loaders of a run. Loaders own prefetch threads, so they are held by pointer.
struct RunData {
  std::unique_ptr<data::Loader> train, test, measure;  // measure: only with --measure-every
};

// Loads the named datasets (limited to train_limit / test_limit), checks them against the model's
// input shape and class count, and builds the loaders.
RunData open_data(const TrainOptions& o) {
  auto train_set = std::make_shared<data::Dataset>(data::load_dataset(o.data, o.data_dir, data::Split::train));
  auto test_set = std::make_shared<data::Dataset>(data::load_dataset(o.data, o.data_dir, data::Split::test));
  if (o.train_limit > 0 && o.train_limit < train_set->size()) *train_set = train_set->subset(0, o.train_limit);
  if (o.test_limit > 0 && o.test_limit < test_set->size()) *test_set = test_set->subset(0, o.test_limit);
  const CrateConfig& mc = o.model;
  if (train_set->channels != mc.channels || train_set->height != mc.image_size || train_set->width != mc.image_size ||
      train_set->num_classes != mc.num_classes)
    throw std::invalid_argument(fmt::format(
        "train: model '{}' expects {}x{}x{} images and {} classes; dataset '{}' has {}x{}x{} and {} classes", mc.name,
        mc.channels, mc.image_size, mc.image_size, mc.num_classes, o.data, train_set->channels, train_set->height,
        train_set->width, train_set->num_classes));
  data::LoaderOptions lo;
  lo.batch_size = o.batch_size;
  lo.seed = o.seed;
  lo.normalization = data::dataset_info(o.data).normalization;
  lo.crop_padding = !o.augment ? 0 : o.crop_padding >= 0 ? o.crop_padding : (mc.image_size <= 28 ? 0 : 4);
  lo.horizontal_flip = o.augment && o.flip;
  RunData d;
  d.train = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(train_set), lo);
  d.test = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(test_set), data::eval_options(lo));
  if (o.measure_every > 0) {
    auto subset = std::make_shared<data::Dataset>(test_set->subset(0, std::min(o.measure_limit, test_set->size())));
    d.measure = std::make_unique<data::Loader>(std::shared_ptr<const data::Dataset>(subset), data::eval_options(lo));
  }
  return d;
}

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

// The record of a finished epoch from its running sums and the test evaluation.
EpochRecord epoch_record(std::int64_t epoch, const Position& pos, const EvalResult& ev, double lr, double seconds) {
  EpochRecord rec;
  rec.epoch = epoch + 1;
  rec.train_loss = pos.loss_sum / std::max<double>(1.0, static_cast<double>(pos.seen));
  rec.train_accuracy = static_cast<double>(pos.correct) / std::max<double>(1.0, static_cast<double>(pos.seen));
  rec.test_loss = ev.loss;
  rec.test_accuracy = ev.accuracy;
  rec.lr = lr;
  rec.seconds = seconds;
  rec.images_per_second = seconds > 0 ? static_cast<double>(pos.seen) / seconds : 0.0;
  return rec;
}

}  // namespace

TrainResult train(const TrainOptions& options) {
  TrainOptions o = options;
  validate(o);
  o.model.seed = o.seed;
  struct ThreadsGuard {  // the thread count of this run, restored for the caller afterwards
    int saved = num_threads();
    ~ThreadsGuard() { set_num_threads(saved); }
  } threads_guard;
  if (o.threads > 0) set_num_threads(o.threads);
  const auto wall_start = std::chrono::steady_clock::now();

  fs::create_directories(o.out_dir);
  const std::string model_path = (fs::path(o.out_dir) / "model.safetensors").string();
  const std::string state_path = (fs::path(o.out_dir) / "train_state.safetensors").string();
  const std::string options_path = (fs::path(o.out_dir) / "options.json").string();
  const std::string measure_log = (fs::path(o.out_dir) / "measurements.jsonl").string();
  MetricsLog metrics((fs::path(o.out_dir) / "metrics.jsonl").string());
  if (!o.resume && fs::exists(model_path))
    throw std::invalid_argument(fmt::format("train: {} already holds a run (model.safetensors); pass --resume to continue "
                                            "it or choose another --out",
                                            o.out_dir));
  RunData data = open_data(o);
  data::Loader& train_loader = *data.train;

  // Model, optimizer, schedule.
  CrateModel model(o.model);
  auto opt = make_optimizer(o, model);
  const std::int64_t steps_per_epoch = train_loader.batches_per_epoch();
  optim::ScheduleConfig sc;
  sc.base_lr = o.lr;
  sc.warmup = o.warmup_epochs * steps_per_epoch;
  sc.total = std::max<std::int64_t>(1, o.epochs * steps_per_epoch);
  sc.min_lr = std::min(o.min_lr, o.lr);
  const optim::Schedule schedule(sc);
  const std::vector<Tensor> params = model.parameters();

  Position pos;
  std::vector<EpochRecord> history;
  if (o.resume) {
    load_checkpoint(model_path, state_path, o, pos, history, model, *opt);
    metrics.truncate_after(pos.step);
    if (o.measure_every > 0) keep_records_upto(measure_log, "epoch", pos.epoch);  // re-measures what follows
    if (o.progress) fmt::print(stderr, "resuming {} at epoch {} batch {} (step {})\n", o.out_dir, pos.epoch + 1, pos.batch, pos.step);
  } else {
    metrics.truncate_after(-1);
    write_file_atomic(options_path, to_json(o).dump(2) + "\n");
    if (o.measure_every > 0) {
      write_file_atomic(measure_log, "");
      record_measurement(model, *data.measure, 0, measure_log, o);
    }
  }

  auto save = [&](const Position& p) { save_checkpoint(model_path, state_path, o, p, history, model, *opt); };

  const SigintGuard sigint;
  TrainResult result;
  result.model_path = model_path;
  const std::int64_t last_epoch = o.stop_after_epochs > 0 ? std::min(o.epochs, pos.epoch + o.stop_after_epochs) : o.epochs;
  for (std::int64_t epoch = pos.epoch; epoch < last_epoch && !result.interrupted; ++epoch) {
    model.train(true);
    train_loader.start(epoch, pos.batch);
    Progress bar(fmt::format("epoch {}/{}", epoch + 1, o.epochs), steps_per_epoch, "img");
    const auto epoch_start = std::chrono::steady_clock::now();
    double lr_now = 0.0;
    std::int64_t batch_index = pos.batch;
    while (auto b = train_loader.next()) {
      lr_now = schedule.apply(*opt, pos.step);
      const StepResult r = train_step(model, *opt, params, *b, o, epoch, pos.step);
      const std::int64_t n = r.n;
      pos.loss_sum += r.loss * static_cast<double>(n);
      pos.correct += r.correct;
      pos.seen += n;
      pos.step += 1;
      batch_index += 1;
      if (o.log_every > 0 && pos.step % o.log_every == 0)
        metrics.append({{"kind", "step"}, {"epoch", epoch + 1}, {"step", pos.step}, {"loss", r.loss},
                        {"accuracy", static_cast<double>(r.correct) / static_cast<double>(n)}, {"lr", lr_now},
                        {"grad_norm", r.grad_norm}, {"images_per_second", bar.rate()}, {"srr", r.srr}});
      if (!o.progress) bar.count(n);
      else
        bar.update(batch_index, n, fmt::format("loss {:.4f} acc {:5.1f}%", pos.loss_sum / static_cast<double>(pos.seen),
                                               100.0 * static_cast<double>(pos.correct) / static_cast<double>(pos.seen)));
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
    const EpochRecord rec = epoch_record(epoch, pos, evaluate(model, *data.test, 0.0), lr_now, seconds);
    history.push_back(rec);
    json line = to_json(rec);
    line["kind"] = "epoch";
    line["step"] = pos.step;
    metrics.append(line);
    if (o.progress)
      fmt::print(stderr, "epoch {}/{}: train loss {:.4f} acc {:.2f}% | test loss {:.4f} acc {:.2f}% | {:.0f} img/s\n",
                 rec.epoch, o.epochs, rec.train_loss, 100 * rec.train_accuracy, rec.test_loss, 100 * rec.test_accuracy,
                 rec.images_per_second);
    pos = Position{.epoch = epoch + 1, .step = pos.step};  // the next epoch starts with fresh running sums
    if (o.measure_every > 0 && (rec.epoch % o.measure_every == 0 || rec.epoch == o.epochs))
      record_measurement(model, *data.measure, rec.epoch, measure_log, o);
    save(pos);
    if (o.plot && gnuplot_available()) plot_curves((fs::path(o.out_dir) / "curves.png").string(), history, o.label_smoothing);
  }
  result.epochs = history;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return result;
}

}  // namespace wb::crate
