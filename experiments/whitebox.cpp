// whitebox: the command-line front end. Every subcommand (experiments/cmd_*.cpp) is a thin layer
// over the library; `whitebox <command> --help` documents its flags.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "experiments/commands.hpp"

namespace {

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

// The first argument when it is meant as a command but names none: refused with the nearest name.
bool refuse_unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  const std::string given = argv[1];
  std::string nearest;
  std::size_t best = std::string::npos;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(given)) return false;
    const std::size_t d = edit_distance(given, sub->get_name());
    if (d < best) best = d, nearest = sub->get_name();
  }
  if (best <= std::max<std::size_t>(2, given.size() / 3))
    fmt::print(stderr, "whitebox: error: unknown command '{}'; did you mean '{}'?\n", given, nearest);
  else
    fmt::print(stderr, "whitebox: error: unknown command '{}'; `whitebox --help` lists the commands\n", given);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"whitebox: CRATE white-box transformers and sparse rate reduction, from scratch in C++"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "whitebox 0.1.0");
  wb::cli::add_train_command(app);
  wb::cli::add_eval_command(app);
  wb::cli::add_params_command(app);
  wb::cli::add_measure_command(app);
  wb::cli::add_ablate_command(app);
  wb::cli::add_verify_command(app);
  wb::cli::add_optimize_command(app);
  wb::cli::add_logits_command(app);
  wb::cli::add_grads_command(app);
  if (refuse_unknown_command(app, argc, argv)) return 2;
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "whitebox: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
