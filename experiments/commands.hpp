// The `whitebox` subcommands. Each file cmd_<name>.cpp adds one subcommand to the app; its callback
// parses nothing itself (CLI11 did) and calls into the library. Errors are exceptions: main() prints
// them as "whitebox: error: ..." and exits 1.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace wb::cli {

void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_params_command(CLI::App& app);
void add_measure_command(CLI::App& app);
void add_ablate_command(CLI::App& app);
void add_verify_command(CLI::App& app);
void add_optimize_command(CLI::App& app);
void add_logits_command(CLI::App& app);
void add_grads_command(CLI::App& app);
void add_corpus_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_mae_grads_command(CLI::App& app);
void add_mae_measure_command(CLI::App& app);
void add_rate_command(CLI::App& app);
void add_report_command(CLI::App& app);
// Writes the report page of a run or sweep folder (out_path empty: DIR/report.html); returns its path.
std::string write_run_report(const std::string& dir, const std::string& out_path);

}  // namespace wb::cli
