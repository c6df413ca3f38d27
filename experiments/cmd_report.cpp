// `whitebox report RUN_DIR`: one self-contained offline HTML page of a run (configuration, metrics,
// per-layer measurements, every figure inlined), or of a sweep (results table, links to each run's
// page, which it writes too); crate/report/run_page.hpp.
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "crate/io/atomic_file.hpp"
#include "crate/report/run_page.hpp"
#include "experiments/cli_common.hpp"
#include "experiments/commands.hpp"

namespace wb::cli {

std::string write_run_report(const std::string& dir, const std::string& out_path) {
  const std::string out = out_path.empty() ? (std::filesystem::path(dir) / "report.html").string() : out_path;
  if (crate::is_sweep_folder(dir)) {
    const auto runs = crate::sweep_run_folders(dir);
    for (const auto& r : runs) {
      const auto run_dir = std::filesystem::path(dir) / r;
      crate::write_file_atomic((run_dir / "report.html").string(), crate::run_page_html(run_dir.string()));
    }
    crate::write_file_atomic(out, crate::sweep_page_html(dir, runs));
    fmt::print("wrote {} (a sweep of {} runs, each with its report.html)\n", out, runs.size());
  } else {
    crate::write_file_atomic(out, crate::run_page_html(dir));
    fmt::print("wrote {}\n", out);
  }
  return out;
}

void add_report_command(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("report", "one self-contained HTML page of a run or a sweep folder (works offline)");
  cmd->add_option("RUN_DIR", *dir, "a run folder (train --out) or a sweep folder (ablate's out)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", *out, "the page (default RUN_DIR/report.html)");
  cmd->callback([dir, out] { (void)write_run_report(*dir, *out); });
}

}  // namespace wb::cli
