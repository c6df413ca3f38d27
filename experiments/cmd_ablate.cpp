// `whitebox ablate`: trains every variant x seed of a grid file (crate/sweep/ablate.hpp documents the file
// and what it writes), one after another or as several child processes, resuming an interrupted
// grid, then writes the results table and comparison plots.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <thread>

#include "crate/sweep/ablate.hpp"
#include "crate/report/plot.hpp"
#include "crate/report/progress.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {
namespace {
struct AblateFlags {
  std::string grid, out, only;
  int jobs = 0, threads = 0;
  bool dry_run = false, results_only = false, plot = true, progress = true;
};

void print_plan(const crate::AblationGrid& g, int jobs) {
  fmt::print("{}: {} variants x {} seeds = {} runs, {} at once, into {}\n", g.source, g.variants.size(), g.seeds.size(),
             g.runs.size(), jobs, g.out);
  fmt::print("{:<28} {:>10}  {:<44} {}\n", "run", "parameters", "changes from base", "state");
  for (const auto& r : g.runs) {
    const auto& v =
        *std::find_if(g.variants.begin(), g.variants.end(), [&](const auto& x) { return x.name == r.variant; });
    std::string state;
    try {
      state = crate::describe(crate::inspect_run(r), r.options.epochs);
    } catch (const std::exception& e) {
      state = fmt::format("error: {}", e.what());
    }
    fmt::print("{:<28} {:>10}  {:<44} {}\n", r.id, crate::count_parameters(r.options.model),
               v.changes.empty() ? "-" : v.changes, state);
  }
}
}  // namespace

void add_ablate_command(CLI::App& app) {
  auto flags = std::make_shared<AblateFlags>();
  AblateFlags& f = *flags;
  auto* cmd =
      app.add_subcommand("ablate", "train every variant x seed of a grid file; writes a results table and plots");
  cmd->add_option("grid", f.grid, "grid file (JSON; e.g. experiments/ablation_small.json)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--jobs", f.jobs,
                  "runs at once as child processes (default: the grid's \"jobs\"; 1: in this process)")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--threads", f.threads, "threads per run (default: the grid's, else cores / jobs)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--out", f.out, "results directory (default: the grid's \"out\")");
  cmd->add_option("--only", f.only,
                  "run only this run, e.g. crate/seed0 (what the child processes do); no results table");
  cmd->add_flag("--dry-run", f.dry_run, "print the runs and their state, run nothing");
  cmd->add_flag("--results-only", f.results_only, "write the results from the finished runs, train nothing");
  cmd->add_flag("!--no-plot", f.plot, "do not write accuracy.png and layers.png");
  cmd->add_flag("!--quiet", f.progress, "no progress output");
  cmd->callback([flags] {
    AblateFlags& f = *flags;
    const crate::AblationGrid g = crate::load_grid(f.grid, f.out);
    const int jobs = f.jobs > 0 ? f.jobs : g.jobs;
    if (f.dry_run) {
      print_plan(g, jobs);
      return;
    }
    if (!f.only.empty()) {
      const std::string what = crate::execute_run(g.run(f.only), g, f.threads, f.progress);
      fmt::print("{}: {}\n", f.only, what);
      if (what == "interrupted") throw CLI::RuntimeError(130);
      return;
    }
    if (f.results_only) {
      const auto summary = crate::summarize(g);
      crate::write_results(g, summary, f.plot && crate::gnuplot_available());
      fmt::print("{}", crate::results_markdown(g, summary));
      return;
    }
    crate::AblateOptions o;
    o.jobs = jobs;
    o.threads = f.threads;
    o.progress = f.progress;
    o.plot = f.plot;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    o.child_command = [self, f](const crate::AblationRun& r, int threads) {
      std::vector<std::string> argv{self, "ablate", f.grid, "--only", r.id, "--threads", std::to_string(threads)};
      if (!f.out.empty()) argv.insert(argv.end(), {"--out", f.out});
      return argv;
    };
    const crate::AblationReport report = crate::run_ablation(g, o);
    fmt::print("{}", crate::results_markdown(g, report.summary));
    fmt::print("\nwall time {}; results in {}/results.md\n", crate::format_duration(report.seconds), g.out);
    if (!report.failed.empty()) {
      std::string ids;
      for (const auto& id : report.failed) ids += (ids.empty() ? "" : ", ") + id;
      throw std::runtime_error(fmt::format(
          "ablate: {} run(s) failed: {} (see each run's ablate.log or the messages above)", report.failed.size(), ids));
    }
    if (report.interrupted) {
      fmt::print(stderr, "interrupted; rerun the same command to continue\n");
      throw CLI::RuntimeError(130);
    }
  });
}

}  // namespace wb::cli
