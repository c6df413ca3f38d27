// Ablation grids: the state of each run directory, running the runs (in this process or as child
// processes). Parsing the grid file is in ablate_grid.cpp; summaries, tables and plots in
// ablate_results.cpp.
#include "datasets/registry.hpp"
#include "crate/io/atomic_file.hpp"
#include "crate/sweep/ablate.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
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
#include <stdexcept>
#include <thread>

#include "crate/io/checkpoint.hpp"
#include "crate/io/file_lock.hpp"
#include "crate/report/plot.hpp"
#include "crate/report/progress.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/train/run_state.hpp"
#include "tensor/parallel.hpp"

extern char** environ;

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- signals

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

// ---------------------------------------------------------------- run directories

RunStatus inspect_run(const AblationRun& run) {
  const fs::path dir(run.options.out_dir);
  RunStatus s;
  // Only complete checkpoints count (run_state.hpp): a run killed before its first one starts afresh.
  const std::optional<CheckpointRef> ckpt = latest_checkpoint(dir.string());
  if (!ckpt) return s;
  const json j = read_train_state(*ckpt);
  json expected = to_json(run.options);
  const std::string diff = first_difference(j.at("options"), expected);
  if (!diff.empty())
    throw std::invalid_argument(fmt::format(
        "ablate: {} holds a run trained with other options ({}); delete that directory to retrain it with the "
        "grid's options, or give the grid another \"out\"",
        dir.string(), diff));
  s.step = j.at("step").get<std::int64_t>();
  // Both halves of a checkpoint are of one step, unless the folder is damaged or of an older whitebox
  // (which wrote the weights before the state, so that a kill between the two left them apart).
  const std::string model_step = state_step(read_safetensors(ckpt->model));
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
  auto test = std::make_shared<data::Dataset>(data::load_dataset(o.data, o.data_dir, data::Split::test));
  if (grid.measure_images < test->size()) *test = test->subset(0, grid.measure_images);
  data::LoaderOptions lo;
  lo.batch_size = 128;
  lo.normalization = data::dataset_info(o.data).normalization;
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
      if (const auto ckpt = latest_checkpoint(dir.string()); ckpt && ckpt->number > 0) fs::remove_all(ckpt->dir);
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
  remove_temporaries(grid.out);  // of results files a killed ablation was writing (each run tidies its own folder)
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
