// whitebox: the command-line front end. Every subcommand (experiments/cmd_*.cpp) is a thin layer
// over the library; `whitebox <command> --help` documents its flags.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "experiments/commands.hpp"

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
