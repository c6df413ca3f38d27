// whitebox: the command-line front end. Every subcommand (experiments/cmd_*.cpp) is a thin layer
// over the library; `whitebox <command> --help` documents its flags.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "crate/report/suggest.hpp"
#include "experiments/commands.hpp"

namespace {

// The first argument when it is meant as a command but names none: refused with the nearest name.
bool refuse_unknown_command(const CLI::App& app, int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') return false;
  const std::string given = argv[1];
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(given)) return false;
    names.push_back(sub->get_name());
  }
  const std::string nearest = wb::crate::nearest_name(given, names, std::max<std::size_t>(2, given.size() / 3));
  if (!nearest.empty())
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
  wb::cli::add_corpus_command(app);
  wb::cli::add_generate_command(app);
  wb::cli::add_mae_grads_command(app);
  wb::cli::add_mae_measure_command(app);
  wb::cli::add_rate_command(app);
  wb::cli::add_report_command(app);
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
