// One self-contained HTML page per run folder or sweep folder (`whitebox report`, `train --report`):
// no network fetch, no script, no external style sheet; every figure is inlined as a data: URI, so the
// page works offline and can be mailed as one file.
//
// A run page holds, from whatever the folder has:
//   the configuration (options.json, nested keys flattened as model.dim), the metrics table (the epoch
//   records of metrics.jsonl), the per-layer measurements (the last record of measurements.jsonl,
//   final_measure.json, and the tables of measure/rate CSV files: *.csv with a "layer" column), every
//   PNG figure of the folder and of its sub-folders one level down (curves, per-layer measurements,
//   reconstructions, attention maps, ...; checkpoint-* folders skipped), and generated text (*.txt,
//   the first 64 KiB each).
// A sweep page (a folder with results.csv, as `whitebox ablate` writes) holds the results table
// (results.md's content as a table, from results.csv), the sweep's figures, and a link to each run's
// page (the run folders below it, relative links to <run>/report.html).
//
// Files that cannot be parsed are listed on the page as unreadable, not fatal: a report of a run that
// was killed mid-write still renders. Figures larger than 16 MiB are listed, not inlined.
#pragma once

#include <string>
#include <vector>

namespace wb::crate {

// True when `dir` looks like a sweep (results.csv) rather than a single run.
bool is_sweep_folder(const std::string& dir);
// The HTML of one run's page. Throws std::runtime_error when dir is not a readable folder or holds
// nothing a run writes (no options.json, metrics.jsonl or figure).
std::string run_page_html(const std::string& dir);
// The run folders below a sweep folder (those with options.json or metrics.jsonl, up to three levels
// down), relative to it, sorted.
std::vector<std::string> sweep_run_folders(const std::string& dir);
// The HTML of a sweep's page, with links to <run>/report.html for each of `runs` (relative paths).
std::string sweep_page_html(const std::string& dir, const std::vector<std::string>& runs);
// RFC 4648 base64 (used for the data: URIs).
std::string base64_encode(const std::string& bytes);
std::string html_escape(const std::string& text);

}  // namespace wb::crate
