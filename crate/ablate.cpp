// Ablation grids: parsing, the state of each run directory, running the runs (in this process or as
// child processes). Summaries, tables and plots are in ablate_results.cpp.
#include "crate/ablate.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "crate/checkpoint.hpp"
#include "crate/plot.hpp"
#include "crate/progress.hpp"
#include "crate/safetensors.hpp"
#include "tensor/parallel.hpp"

extern char** environ;

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- grid keys

// The CrateConfig fields a grid may set, with their defaults (which give the expected JSON types).
const json& model_fields() {
  static const json f = [] {
    json j = to_json(CrateConfig{});
    j.erase("name");  // the variant's name is the model's name
    j.erase("seed");  // from the grid's seeds
    return j;
  }();
  return f;
}

// The TrainOptions fields a grid may set.
const json& train_fields() {
  static const json f = [] {
    const TrainOptions o;
    json j = to_json(o);
    for (const char* k : {"model", "out_dir", "seed"}) j.erase(k);
    j["log_every"] = o.log_every;
    j["checkpoint_every"] = o.checkpoint_every;
    j["plot"] = o.plot;
    return j;
  }();
  return f;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "unknown key 'x' (did you mean 'y'? known: ...)" for the keys of `fields` plus `extra`.
std::string unknown_key(const std::string& key, const json& fields, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> keys = extra;
  for (const auto& [k, v] : fields.items()) keys.push_back(k);
  std::string list, best;
  std::size_t best_distance = 3;  // suggest only close misspellings
  for (const auto& k : keys) {
    list += (list.empty() ? "" : ", ") + k;
    const std::size_t d = edit_distance(key, k);
    if (d < best_distance) best_distance = d, best = k;
  }
  return fmt::format("unknown key '{}' ({}known: {})", key,
                     best.empty() ? "" : fmt::format("did you mean '{}'? ", best), list);
}

std::string json_type(const json& v) {
  if (v.is_boolean()) return "true or false";
  if (v.is_string()) return "a string";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return "null";
}

// Checks that `v` has the type of the default `def`; `where` names the place for the message.
void check_type(const json& def, const json& v, const std::string& where, const std::string& key) {
  bool ok = false;
  if (def.is_boolean())
    ok = v.is_boolean();
  else if (def.is_string())
    ok = v.is_string();
  else if (def.is_number_integer())
    ok = v.is_number_integer();
  else if (def.is_number())
    ok = v.is_number();
  if (!ok)
    throw std::invalid_argument(fmt::format("{}: '{}' must be {}, got {}", where, key, json_type(def), v.dump()));
  if (def.is_number_unsigned() && v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)
    throw std::invalid_argument(fmt::format("{}: '{}' must be >= 0, got {}", where, key, v.dump()));
}

struct Section {
  json model = json::object();  // {"config": ..., fields...}
  json train = json::object();
  std::string changes;  // "key=value, ..." of this section's own keys
};

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Splits a base or variant section into model and train keys, checking names and types.
Section read_section(const json& s, const std::string& where, bool is_base) {
  if (!s.is_object()) throw std::invalid_argument(fmt::format("{}: must be an object, got {}", where, json_type(s)));
  Section out;
  std::vector<std::string> changes, train_changes;  // model keys first
  for (const auto& [key, v] : s.items()) {
    if (key == "name" || key == "description") {
      if (is_base) throw std::invalid_argument(fmt::format("{}: '{}' belongs to a variant, not the base", where, key));
      if (!v.is_string())
        throw std::invalid_argument(fmt::format("{}: '{}' must be a string, got {}", where, key, v.dump()));
      continue;
    }
    if (key == "model") {
      const std::string mw = where + ": model";
      if (v.is_string()) {
        out.model["config"] = v;
        changes.push_back("config=" + v.get<std::string>());
        continue;
      }
      if (!v.is_object())
        throw std::invalid_argument(
            fmt::format("{}: must be a named configuration or an object, got {}", mw, v.dump()));
      for (const auto& [mk, mv] : v.items()) {
        if (mk == "config") {
          if (!mv.is_string())
            throw std::invalid_argument(fmt::format("{}: 'config' must be a string, got {}", mw, mv.dump()));
        } else if (mk == "name" || mk == "seed") {
          throw std::invalid_argument(fmt::format(
              "{}: '{}' cannot be set (the model is named after the variant; seeds come from the grid's \"seeds\")", mw,
              mk));
        } else if (!model_fields().contains(mk)) {
          throw std::invalid_argument(fmt::format("{}: {}", mw, unknown_key(mk, model_fields(), {"config"})));
        } else {
          check_type(model_fields().at(mk), mv, mw, mk);
        }
        out.model[mk] = mv;
        changes.push_back(mk + "=" + value_text(mv));
      }
      continue;
    }
    if (key == "seed" || key == "out_dir" || key == "resume" || key == "stop_after_epochs" || key == "progress")
      throw std::invalid_argument(
          fmt::format("{}: '{}' cannot be set per run (seeds come from the grid's \"seeds\", run directories are "
                      "<out>/<variant>/seed<k>, finished runs are skipped and interrupted ones resumed automatically)",
                      where, key));
    if (!train_fields().contains(key))
      throw std::invalid_argument(
          fmt::format("{}: {}", where,
                      unknown_key(key, train_fields(),
                                  is_base ? std::vector<std::string>{"model"}
                                          : std::vector<std::string>{"name", "description", "model"})));
    check_type(train_fields().at(key), v, where, key);
    out.train[key] = v;
    train_changes.push_back(key + "=" + value_text(v));
  }
  changes.insert(changes.end(), train_changes.begin(), train_changes.end());
  for (const auto& c : changes) out.changes += (out.changes.empty() ? "" : ", ") + c;
  return out;
}

// Image shape and classes of the named datasets, to refuse a mismatched model before any run starts.
struct DataShape {
  std::int64_t channels, size, classes;
};
DataShape data_shape(const std::string& name) {
  if (name == "fashion-mnist" || name == "mnist") return {1, 28, 10};
  if (name == "cifar10") return {3, 32, 10};
  throw std::invalid_argument(fmt::format("'data' must be fashion-mnist, mnist or cifar10, got '{}'", name));
}

// The checks crate::train makes at its start, made here for every variant before anything runs.
void check_options(const TrainOptions& o, const std::string& where) {
  auto bad = [&](const std::string& m) { throw std::invalid_argument(fmt::format("{}: {}", where, m)); };
  if (o.epochs <= 0) bad(fmt::format("'epochs' must be positive, got {}", o.epochs));
  if (o.batch_size <= 0) bad(fmt::format("'batch_size' must be positive, got {}", o.batch_size));
  if (!(o.lr > 0)) bad(fmt::format("'lr' must be positive, got {}", o.lr));
  if (o.weight_decay < 0 || o.min_lr < 0 || o.clip_grad < 0 || o.srr_weight < 0)
    bad("'weight_decay', 'min_lr', 'clip_grad' and 'srr_weight' must be >= 0");
  if (o.label_smoothing < 0 || o.label_smoothing >= 1)
    bad(fmt::format("'label_smoothing' must be in [0, 1), got {}", o.label_smoothing));
  if (o.warmup_epochs < 0 || o.warmup_epochs > o.epochs)
    bad(fmt::format("'warmup_epochs' must be in [0, epochs = {}], got {}", o.epochs, o.warmup_epochs));
  if (o.optimizer != "adamw" && o.optimizer != "lion" && o.optimizer != "sgd")
    bad(fmt::format("'optimizer' must be adamw, lion or sgd, got '{}'", o.optimizer));
  if (o.train_limit < 0 || o.test_limit < 0 || o.threads < 0 || o.log_every < 0 || o.checkpoint_every < 0 ||
      o.measure_every < 0 || o.measure_limit <= 0)
    bad("'train_limit', 'test_limit', 'threads', 'log_every', 'checkpoint_every' and 'measure_every' must be >= 0, "
        "'measure_limit' positive");
  const DataShape d = [&] {
    try {
      return data_shape(o.data);
    } catch (const std::invalid_argument& e) {
      bad(e.what());
      return DataShape{};
    }
  }();
  const CrateConfig& c = o.model;
  if (c.channels != d.channels || c.image_size != d.size || c.num_classes != d.classes)
    bad(fmt::format("model expects {}x{}x{} images and {} classes; '{}' has {}x{}x{} and {}", c.channels, c.image_size,
                    c.image_size, c.num_classes, o.data, d.channels, d.size, d.size, d.classes));
}

TrainOptions resolve_options(const Section& base, const Section* variant, const std::string& name,
                             const std::string& where) {
  json model = base.model, train = base.train;
  if (variant) {
    for (const auto& [k, v] : variant->model.items()) model[k] = v;
    for (const auto& [k, v] : variant->train.items()) train[k] = v;
  }
  if (!model.contains("config"))
    throw std::invalid_argument(
        fmt::format("{}: no model configuration: the base needs \"model\": \"crate-mini-28\" "
                    "(or an object with \"config\")",
                    where));
  TrainOptions o;
  try {
    json cj = to_json(named_config(model.at("config").get<std::string>()));
    for (const auto& [k, v] : model.items())
      if (k != "config") cj[k] = v;
    if ((model.contains("dim") || model.contains("heads")) && !model.contains("dim_head"))
      cj["dim_head"] = cj.at("dim").get<std::int64_t>() / std::max<std::int64_t>(1, cj.at("heads").get<std::int64_t>());
    cj["name"] = name;
    o = train_options_from_json(train);
    o.model = config_from_json(cj);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", where, e.what()));
  } catch (const json::exception& e) {
    throw std::invalid_argument(fmt::format("{}: {}", where, e.what()));
  }
  if (train.contains("log_every")) o.log_every = train.at("log_every").get<std::int64_t>();
  if (train.contains("checkpoint_every")) o.checkpoint_every = train.at("checkpoint_every").get<std::int64_t>();
  if (train.contains("plot")) o.plot = train.at("plot").get<bool>();
  check_options(o, where);
  return o;
}

bool path_safe(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+';
  });
}

// ---------------------------------------------------------------- locks and signals

// An exclusive flock on `path` for this object's lifetime (released by the kernel if the process dies).
class FileLock {
 public:
  FileLock(const std::string& path, const std::string& what) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw std::runtime_error(fmt::format("{}: cannot open the lock file: {}", path, std::strerror(errno)));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd_);
      throw std::runtime_error(
          fmt::format("{} is in use by another whitebox process (lock {}); wait for it to end", what, path));
    }
  }
  ~FileLock() { ::close(fd_); }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

// Installs the Ctrl-C handler of the grid loop and restores the previous one.
class StopHandler {
 public:
  StopHandler() {
    g_stop.store(false);
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, &prev_);
  }
  ~StopHandler() { ::sigaction(SIGINT, &prev_, nullptr); }

 private:
  struct sigaction prev_ {};
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string log_tail(const std::string& path, int lines) {
  const std::string text = read_text(path);
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  for (int i = 0; i < lines && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

std::string state_step(const SafeTensors& model) {
  const auto it = model.metadata.find("whitebox.step");
  return it == model.metadata.end() ? "?" : it->second;
}

// First differing key between what a run was trained with and what the grid asks for ("" if none).
std::string first_difference(const json& stored, const json& expected, const std::string& prefix = "") {
  for (const auto& [k, v] : stored.items()) {
    const std::string name = prefix.empty() ? k : prefix + "." + k;
    if (!expected.contains(k)) return fmt::format("{} ({} in the run, absent from the grid)", name, v.dump());
    const json& e = expected.at(k);
    if (v.is_object() && e.is_object()) {
      const std::string d = first_difference(v, e, name);
      if (!d.empty()) return d;
    } else if (v != e) {
      return fmt::format("{}: {} in the run, {} in the grid", name, v.dump(), e.dump());
    }
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- grid

const AblationRun& AblationGrid::run(const std::string& id) const {
  for (const auto& r : runs)
    if (r.id == id) return r;
  std::string known;
  for (const auto& r : runs) known += (known.empty() ? "" : ", ") + r.id;
  throw std::invalid_argument(fmt::format("{}: no run '{}' (runs: {})", source, id, known));
}

AblationGrid parse_grid(const json& j, const std::string& source, const std::string& out) {
  AblationGrid g;
  g.source = source;
  auto fail = [&](const std::string& m) { throw std::invalid_argument(fmt::format("{}: {}", source, m)); };
  if (!j.is_object()) fail(fmt::format("the grid must be a JSON object, got {}", json_type(j)));
  static const std::set<std::string> top{"description", "out", "seeds", "jobs", "measure_images", "base", "variants"};
  for (const auto& [k, v] : j.items())
    if (!top.count(k))
      fail(fmt::format("unknown key '{}' (known: description, out, seeds, jobs, measure_images, base, variants)", k));
  for (const char* k : {"out", "seeds", "base", "variants"})
    if (!j.contains(k)) fail(fmt::format("missing key '{}'", k));
  if (j.contains("description")) {
    if (!j.at("description").is_string()) fail("'description' must be a string");
    g.description = j.at("description").get<std::string>();
  }
  if (!j.at("out").is_string() || j.at("out").get<std::string>().empty()) fail("'out' must be a non-empty string");
  g.out = out.empty() ? j.at("out").get<std::string>() : out;
  const json& seeds = j.at("seeds");
  if (!seeds.is_array() || seeds.empty())
    fail(fmt::format("'seeds' must be a non-empty array of integers >= 0, got {}", seeds.dump()));
  for (const auto& s : seeds) {
    if (!s.is_number_integer() || s.get<std::int64_t>() < 0)
      fail(fmt::format("'seeds' must hold integers >= 0, got {}", s.dump()));
    const auto v = s.get<std::uint64_t>();
    if (std::find(g.seeds.begin(), g.seeds.end(), v) != g.seeds.end()) fail(fmt::format("seed {} is listed twice", v));
    g.seeds.push_back(v);
  }
  if (j.contains("jobs")) {
    const json& v = j.at("jobs");
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 256)
      fail(fmt::format("'jobs' must be an integer in [1, 256], got {}", v.dump()));
    g.jobs = v.get<int>();
  }
  if (j.contains("measure_images")) {
    const json& v = j.at("measure_images");
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
      fail(fmt::format("'measure_images' must be a positive integer, got {}", v.dump()));
    g.measure_images = v.get<std::int64_t>();
  }
  const Section base = read_section(j.at("base"), fmt::format("{}: base", source), true);
  g.base =
      resolve_options(base, nullptr, base.model.value("config", std::string("base")), fmt::format("{}: base", source));
  const json& variants = j.at("variants");
  if (!variants.is_array() || variants.empty()) fail("'variants' must be a non-empty array of objects");
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const json& vj = variants[i];
    const std::string at = fmt::format("{}: variants[{}]", source, i);
    if (!vj.is_object() || !vj.contains("name") || !vj.at("name").is_string())
      throw std::invalid_argument(fmt::format("{}: needs a \"name\" (a string)", at));
    AblationVariant v;
    v.name = vj.at("name").get<std::string>();
    const std::string where = fmt::format("{} ('{}')", at, v.name);
    if (!path_safe(v.name))
      throw std::invalid_argument(
          fmt::format("{}: the name must use only letters, digits and - _ . + (it names a directory)", where));
    for (const auto& other : g.variants)
      if (other.name == v.name)
        throw std::invalid_argument(fmt::format("{}: the name '{}' is used twice", where, v.name));
    v.description = vj.value("description", std::string());
    const Section sec = read_section(vj, where, false);
    v.changes = sec.changes;
    const TrainOptions o = resolve_options(base, &sec, v.name, where);
    v.config = o.model;
    for (const auto seed : g.seeds) {
      AblationRun r;
      r.variant = v.name;
      r.seed = seed;
      r.id = fmt::format("{}/seed{}", v.name, seed);
      r.options = o;
      r.options.seed = seed;
      r.options.model.seed = seed;  // crate::train does the same
      r.options.out_dir = (fs::path(g.out) / v.name / fmt::format("seed{}", seed)).string();
      g.runs.push_back(r);
    }
    g.variants.push_back(v);
  }
  return g;
}

AblationGrid load_grid(const std::string& path, const std::string& out) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("{}: cannot read the grid file", path));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  return parse_grid(j, path, out);
}

// ---------------------------------------------------------------- run directories

RunStatus inspect_run(const AblationRun& run) {
  const fs::path dir(run.options.out_dir);
  const fs::path model_path = dir / "model.safetensors", state_path = dir / "train_state.safetensors";
  RunStatus s;
  const bool has_model = fs::exists(model_path), has_state = fs::exists(state_path);
  if (!has_model && !has_state) return s;
  if (has_model != has_state) {
    s.note = fmt::format("{} has {} but not {} (a checkpoint cut short); the run restarts", dir.string(),
                         has_model ? "model.safetensors" : "train_state.safetensors",
                         has_model ? "train_state.safetensors" : "model.safetensors");
    return s;
  }
  const SafeTensors state = read_safetensors(state_path.string());
  const auto meta = state.metadata.find("whitebox.train_state");
  if (meta == state.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.train_state' metadata", state_path.string()));
  const json j = json::parse(meta->second);
  json expected = to_json(run.options);
  const std::string diff = first_difference(j.at("options"), expected);
  if (!diff.empty())
    throw std::invalid_argument(fmt::format(
        "ablate: {} holds a run trained with other options ({}); delete that directory to retrain it with the "
        "grid's options, or give the grid another \"out\"",
        dir.string(), diff));
  s.step = j.at("step").get<std::int64_t>();
  // The weights are saved just before the train state; a process killed between the two leaves weights
  // of a later step than the state, which cannot be resumed consistently.
  const std::string model_step = state_step(read_safetensors(model_path.string()));
  if (model_step != std::to_string(s.step)) {
    s.note = fmt::format(
        "{}: the weights are of step {} but the train state of step {} (a checkpoint cut short); "
        "the run restarts",
        dir.string(), model_step, s.step);
    s.step = 0;
    return s;
  }
  s.epochs_done = j.at("epoch").get<std::int64_t>();
  s.batch = j.at("batch").get<std::int64_t>();
  s.kind = s.epochs_done >= run.options.epochs && s.batch == 0 ? RunStatus::finished : RunStatus::partial;
  const fs::path measure_path = dir / "final_measure.json";
  if (s.kind == RunStatus::finished && fs::exists(measure_path)) {
    const json m = json::parse(read_text(measure_path), nullptr, false);
    s.measured = !m.is_discarded() && m.value("step", std::int64_t{-1}) == s.step;
  }
  return s;
}

std::string describe(const RunStatus& s, std::int64_t epochs) {
  switch (s.kind) {
    case RunStatus::finished:
      return s.measured ? "finished" : "finished, not measured";
    case RunStatus::partial:
      return s.batch > 0 ? fmt::format("interrupted in epoch {}/{} after batch {} (step {})", s.epochs_done + 1, epochs,
                                       s.batch, s.step)
                         : fmt::format("interrupted after epoch {}/{} (step {})", s.epochs_done, epochs, s.step);
    case RunStatus::fresh:
      break;
  }
  return s.note.empty() ? "to start" : "to restart (checkpoint cut short)";
}

namespace {

void measure_final(const AblationRun& run, const AblationGrid& grid, std::int64_t step) {
  const TrainOptions& o = run.options;
  const fs::path dir(o.out_dir);
  auto test = std::make_shared<data::Dataset>(load_named_dataset(o.data, o.data_dir, data::Split::test));
  if (grid.measure_images < test->size()) *test = test->subset(0, grid.measure_images);
  data::LoaderOptions lo;
  lo.batch_size = 128;
  lo.normalization = named_normalization(o.data);
  data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
  const auto model = load_model((dir / "model.safetensors").string());
  json j = to_json(measure(*model, loader, run.id));
  j["step"] = step;
  j["data"] = o.data;
  write_file_atomic((dir / "final_measure.json").string(), j.dump(2) + "\n");
}

}  // namespace

std::string execute_run(const AblationRun& run, const AblationGrid& grid, int threads, bool progress) {
  const fs::path dir(run.options.out_dir);
  fs::create_directories(dir);
  const FileLock lock((dir / ".lock").string(), fmt::format("run {} ({})", run.id, dir.string()));
  RunStatus s = inspect_run(run);
  std::string action;
  if (s.kind != RunStatus::finished) {
    TrainOptions o = run.options;
    if (threads > 0) o.threads = threads;
    o.progress = progress;
    if (!s.note.empty()) {
      fmt::print(stderr, "{}\n", s.note);
      fs::remove(dir / "model.safetensors");
      fs::remove(dir / "train_state.safetensors");
    }
    o.resume = s.kind == RunStatus::partial;
    fs::remove(dir / "final_measure.json");  // belongs to the weights about to change
    const TrainResult r = train(o);
    if (r.interrupted) return "interrupted";
    action = o.resume ? "resumed" : "trained";
    s = inspect_run(run);
    if (s.kind != RunStatus::finished)
      throw std::logic_error(fmt::format("ablate: {} is not finished after training", dir.string()));
  } else if (threads > 0) {
    set_num_threads(threads);
  }
  if (!s.measured) {
    measure_final(run, grid, s.step);
    if (action.empty()) action = "measured";
  }
  return action.empty() ? "skipped" : action;
}

// ---------------------------------------------------------------- child processes

std::vector<int> run_processes(const std::vector<ChildCommand>& commands, int jobs,
                               const std::function<void(std::size_t, int)>& on_exit, const std::atomic<bool>* stop) {
  if (jobs < 1) throw std::invalid_argument(fmt::format("run_processes: jobs must be >= 1, got {}", jobs));
  std::vector<int> status(commands.size(), -1);
  std::vector<std::pair<pid_t, std::size_t>> running;
  std::size_t next = 0;
  bool stopping = false;
  auto spawn = [&](std::size_t i) {
    const ChildCommand& c = commands[i];
    if (c.argv.empty()) throw std::invalid_argument(fmt::format("run_processes: command {} is empty", i));
    const fs::path log_dir = fs::path(c.log).parent_path();
    if (!log_dir.empty()) fs::create_directories(log_dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, c.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> argv;
    for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
      throw std::runtime_error(fmt::format("cannot start {} (log {}): {}", c.argv[0], c.log, std::strerror(rc)));
    running.emplace_back(pid, i);
  };
  try {
    while (next < commands.size() || !running.empty()) {
      if (stop && stop->load() && !stopping) {
        stopping = true;
        for (const auto& [pid, i] : running) ::kill(pid, SIGINT);
      }
      while (!stopping && running.size() < static_cast<std::size_t>(jobs) && next < commands.size()) spawn(next++);
      if (running.empty()) break;
      int st = 0;
      const pid_t p = ::waitpid(-1, &st, WNOHANG);
      if (p == 0 || (p < 0 && errno == EINTR)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        continue;
      }
      if (p < 0) throw std::runtime_error(fmt::format("run_processes: waitpid: {}", std::strerror(errno)));
      const auto it = std::find_if(running.begin(), running.end(), [&](const auto& r) { return r.first == p; });
      if (it == running.end()) continue;  // not one of ours
      const std::size_t i = it->second;
      running.erase(it);
      status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
      if (on_exit) on_exit(i, status[i]);
    }
  } catch (...) {
    for (const auto& [pid, i] : running) {  // do not leave children behind
      ::kill(pid, SIGINT);
      int st = 0;
      ::waitpid(pid, &st, 0);
    }
    throw;
  }
  return status;
}

// ---------------------------------------------------------------- the grid loop

AblationReport run_ablation(const AblationGrid& grid, const AblateOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int jobs = options.jobs > 0 ? options.jobs : grid.jobs;
  fs::create_directories(grid.out);
  const FileLock lock((fs::path(grid.out) / ".ablate.lock").string(), fmt::format("ablation {}", grid.out));
  // Every run's state first: a directory trained with other options stops the grid before any work.
  std::vector<RunStatus> before;
  std::int64_t finished = 0, partial = 0;
  for (const auto& r : grid.runs) {
    before.push_back(inspect_run(r));
    finished += before.back().kind == RunStatus::finished;
    partial += before.back().kind == RunStatus::partial;
  }
  if (options.progress)
    fmt::print(stderr,
               "ablate {}: {} runs ({} variants x {} seeds): {} finished, {} interrupted, {} to start; {} at once\n",
               grid.source, grid.runs.size(), grid.variants.size(), grid.seeds.size(), finished, partial,
               static_cast<std::int64_t>(grid.runs.size()) - finished - partial, jobs);
  AblationReport report;
  const StopHandler stop_handler;
  auto finish_line = [&](const std::string& id, const std::string& what) {
    if (!options.progress) return;
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(stderr, "[{} / {} done, {}] {}: {}\n", report.actions.size(), grid.runs.size(), format_duration(t), id,
               what);
  };
  auto fail = [&](const AblationRun& r, const std::string& why) {
    report.actions[r.id] = "failed: " + why;
    report.failed.push_back(r.id);
    fmt::print(stderr, "ablate: run {} failed: {}\n", r.id, why);
  };
  if (jobs == 1) {
    for (const auto& r : grid.runs) {
      if (g_stop.load()) {
        report.interrupted = true;
        break;
      }
      try {
        const std::string a = execute_run(r, grid, options.threads, options.progress);
        if (a == "interrupted") {
          report.interrupted = true;
          break;
        }
        report.actions[r.id] = a;
        finish_line(r.id, a);
      } catch (const std::exception& e) {
        fail(r, e.what());
      }
    }
  } else {
    if (!options.child_command)
      throw std::invalid_argument("ablate: jobs > 1 needs a child command (the whitebox executable)");
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::vector<ChildCommand> commands;
    std::vector<std::size_t> run_of;
    for (std::size_t i = 0; i < grid.runs.size(); ++i) {
      const AblationRun& r = grid.runs[i];
      if (before[i].kind == RunStatus::finished && before[i].measured) {
        report.actions[r.id] = "skipped";
        continue;
      }
      const int threads = options.threads > 0     ? options.threads
                          : r.options.threads > 0 ? r.options.threads
                                                  : std::max(1, static_cast<int>(cores) / jobs);
      commands.push_back({options.child_command(r, threads), (fs::path(r.options.out_dir) / "ablate.log").string()});
      run_of.push_back(i);
    }
    if (options.progress && !report.actions.empty())
      fmt::print(stderr, "{} runs finished before: skipped\n", report.actions.size());
    run_processes(
        commands, jobs,
        [&](std::size_t c, int status) {
          const std::size_t i = run_of[c];
          const AblationRun& r = grid.runs[i];
          if (status == 0) {
            const auto k = before[i].kind;
            report.actions[r.id] = k == RunStatus::finished  ? "measured"
                                   : k == RunStatus::partial ? "resumed"
                                                             : "trained";
            finish_line(r.id, report.actions[r.id] + " (log " + commands[c].log + ")");
          } else if (status == 130 || g_stop.load()) {
            report.interrupted = true;
          } else {
            fail(r, fmt::format("exit status {}; the end of {}:\n{}", status, commands[c].log,
                                log_tail(commands[c].log, 8)));
          }
        },
        &g_stop);
    if (g_stop.load()) report.interrupted = true;
  }
  report.summary = summarize(grid);
  write_results(grid, report.summary, options.plot && gnuplot_available());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress)
    fmt::print(stderr, "ablate: wrote {}/results.md{} in {}{}\n", grid.out,
               options.plot && gnuplot_available() ? ", accuracy.png, layers.png" : "", format_duration(report.seconds),
               report.interrupted ? "; interrupted: rerun the same command to continue" : "");
  return report;
}

}  // namespace wb::crate
