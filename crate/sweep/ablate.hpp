// Ablation grids: every variant x seed of a grid file trained as its own run directory, then one
// table and two comparison plots. The engine behind `whitebox ablate`.
//
// The grid file (JSON; experiments/ablation_small.json is an example):
//   {
//     "description": "...",                 optional, copied into results.md
//     "out": "runs/ablation_small",          results and run directories (relative to the working dir)
//     "seeds": [0, 1],                       one run per variant and seed (initialization, data order)
//     "jobs": 2,                             optional (1): runs at once; > 1 starts child processes
//     "measure_images": 256,                 optional (256): test images of the final measurement
//     "base": { "model": ..., <train keys> },
//     "variants": [ { "name": "crate", "description": "...", "model": ..., <train keys> }, ... ]
//   }
// "model" is a named configuration ("crate-mini-28") or an object {"config": "crate-mini-28",
// <CrateConfig fields>}: "attention", "mlp", "ista_residual", "learnable_ista", "output_map",
// "dictionary", "dim", ... (every key of crate::to_json(CrateConfig) except "name" and "seed"). A
// variant's model starts from the base's: its "config" replaces the named configuration, its fields
// are applied after the base's. When "dim" or "heads" is set and "dim_head" is not, dim_head becomes
// dim / heads (as `whitebox train --dim` does). <train keys> are TrainOptions fields: data, data_dir,
// epochs, batch_size, optimizer, lr, weight_decay, min_lr, warmup_epochs, label_smoothing,
// clip_grad, momentum, augment, threads, train_limit, test_limit, measure_every, measure_limit,
// srr_weight, log_every, checkpoint_every, plot; a variant's replace the base's. Unknown keys, wrong
// types and invalid values are errors naming the file, the variant and the key.
//
// Each run is a normal training run directory <out>/<variant>/seed<k>/ (crate/train.hpp), so every
// run resumes on its own: rerunning a grid skips finished runs (final epoch checkpointed, options
// unchanged), resumes interrupted ones bit for bit, and starts missing ones. A finished run is then
// measured once (crate/measure.hpp) on the first `measure_images` test images:
//   <run>/final_measure.json   per-layer rc_in and nonzero of the final weights (and the other quantities)
// and the grid's results are written from the run directories:
//   <out>/results.md    markdown table, one row per variant: mean +- std over seeds (n - 1 denominator)
//                       of the final test accuracy and loss, train images/s (mean over each run's
//                       epochs), last-layer R^c (rc_in) and non-zero fraction; parameters; seeds done
//   <out>/results.json  the same with full precision, plus every run's values
//   <out>/results.csv   one row per variant
//   <out>/accuracy.png  test accuracy and train loss against epoch, one curve per variant (mean over
//                       seeds, error bars = std over seeds)
//   <out>/layers.png    R^c and non-zero fraction against layer, one curve per variant
// All files are written atomically. Two ablations on the same `out` refuse to run at once (a lock
// file), and so do two processes on the same run.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "crate/instruments/measure.hpp"
#include "crate/train/loop.hpp"

namespace wb::crate {

struct AblationRun {
  std::string variant;  // variant name
  std::uint64_t seed = 0;
  std::string id;        // "<variant>/seed<k>"
  TrainOptions options;  // resolved: model, out_dir = <out>/<variant>/seed<k>, seed
};

struct AblationVariant {
  std::string name, description;
  std::string changes;  // the variant's own keys, "mlp=mlp, lr=0.0005" ("" for none)
  CrateConfig config;   // resolved, as trained
};

struct AblationGrid {
  std::string source;  // the grid file, for messages
  std::string description;
  std::string out;
  std::vector<std::uint64_t> seeds;
  int jobs = 1;
  std::int64_t measure_images = 256;
  TrainOptions base;  // the base section alone (model and training options), for the table header
  std::vector<AblationVariant> variants;
  std::vector<AblationRun> runs;                        // variant-major, then seed
  const AblationRun& run(const std::string& id) const;  // throws naming the known ids
};

// Parses and validates a grid; `source` names it in messages. `out` (when not empty) replaces the
// file's "out". Throws std::invalid_argument: "grid.json: variants[2] ('mlp'): model: unknown key ...".
AblationGrid parse_grid(const nlohmann::json& j, const std::string& source, const std::string& out = "");
AblationGrid load_grid(const std::string& path, const std::string& out = "");

// Where a run directory stands.
struct RunStatus {
  enum Kind { fresh, partial, finished } kind = fresh;
  std::int64_t epochs_done = 0;  // completed epochs in the last checkpoint
  std::int64_t batch = 0;        // batches of the next epoch done (a mid-epoch checkpoint or Ctrl-C)
  std::int64_t step = 0;         // optimizer steps of the last checkpoint
  bool measured = false;         // final_measure.json of this checkpoint exists
  std::string note;              // why a directory with files counts as fresh (torn checkpoint)
};
// Throws std::invalid_argument when the directory holds a run trained with other options (naming
// the first differing option), since skipping or resuming it would mix two experiments.
RunStatus inspect_run(const AblationRun& run);
std::string describe(const RunStatus& s, std::int64_t epochs);  // "finished", "epoch 2/5 done", ...

// Trains the run (from scratch, or resumed), then measures it; does only what is missing. Returns
// what it did: "skipped" (finished and measured), "measured", "resumed", "trained", or "interrupted"
// (Ctrl-C during training: the checkpoint is written, rerun to continue). `threads` > 0 replaces the
// options' thread count.
std::string execute_run(const AblationRun& run, const AblationGrid& grid, int threads, bool progress);

// Child processes: each argv run with stdin from /dev/null and stdout and stderr appended to its log
// file (its directory is created), at most `jobs` at once, in order. on_exit(i, status) is called as command i ends
// (status: the exit code, or 128 + signal). When `stop` becomes true (e.g. Ctrl-C), no new command starts and the
// running ones get SIGINT. Returns every command's status (-1: not started).
struct ChildCommand {
  std::vector<std::string> argv;  // argv[0]: the program's path
  std::string log;
};
std::vector<int> run_processes(const std::vector<ChildCommand>& commands, int jobs,
                               const std::function<void(std::size_t, int)>& on_exit,
                               const std::atomic<bool>* stop = nullptr);

struct AblateOptions {
  int jobs = 0;     // 0: the grid's
  int threads = 0;  // threads per run; 0: the options' (with jobs > 1: cores / jobs)
  bool progress = true;
  bool plot = true;  // results plots (when gnuplot is installed)
  // For jobs > 1: the command that executes one run in a child process (normally
  // `whitebox ablate <grid> --only <id> --threads <t>`). Required when jobs > 1.
  std::function<std::vector<std::string>(const AblationRun&, int threads)> child_command;
};

struct RunSummary {
  std::string id, variant;
  std::uint64_t seed = 0;
  std::vector<EpochRecord> epochs;  // from metrics.jsonl, one per epoch
  double test_accuracy = 0, test_loss = 0, images_per_second = 0, seconds = 0;
  std::vector<double> rc_in, nonzero;  // per layer, mean over the measured images
};
struct MeanStd {
  double mean = 0, std = 0;  // std over seeds with the n - 1 denominator (0 for one seed)
  std::int64_t n = 0;
};
struct VariantSummary {
  AblationVariant variant;
  std::int64_t parameters = 0;
  std::vector<RunSummary> runs;  // finished and measured runs only
  MeanStd test_accuracy, test_loss, images_per_second, rc_last, nonzero_last;
  std::vector<MeanStd> test_accuracy_by_epoch, train_loss_by_epoch, rc_by_layer, nonzero_by_layer;
};
MeanStd mean_std(const std::vector<double>& values);
// A table cell: "85.31 ± 0.42" (scale * mean, scale * std, `decimals` digits); one seed: "85.31"; none: "—".
std::string format_cell(const MeanStd& m, int decimals, double scale = 1.0);

// Reads every finished and measured run of the grid from its directory (metrics.jsonl and
// final_measure.json) and reduces over seeds.
std::vector<VariantSummary> summarize(const AblationGrid& grid);
// Writes results.{md,json,csv} (and accuracy.png, layers.png when `plot`) into grid.out.
void write_results(const AblationGrid& grid, const std::vector<VariantSummary>& summary, bool plot);
std::string results_markdown(const AblationGrid& grid, const std::vector<VariantSummary>& summary);

struct AblationReport {
  std::map<std::string, std::string> actions;  // run id -> execute_run's answer, or "failed: ..."
  std::vector<std::string> failed;             // ids
  bool interrupted = false;
  double seconds = 0;
  std::vector<VariantSummary> summary;
};
// Runs every run of the grid (in this process when jobs == 1, else as child processes), then writes
// the results from what finished. Failed runs do not stop the others; they are listed in the report.
AblationReport run_ablation(const AblationGrid& grid, const AblateOptions& options);

}  // namespace wb::crate
