// The run's logs, as a researcher plots them: metrics.jsonl (one JSON object per line:
// {"kind":"step",...} every log_every steps and {"kind":"epoch",...} after each epoch),
// measurements.jsonl (one measurement per line) and curves.png (loss and each metric per epoch).
// A resumed run first cuts each log back to the checkpoint it resumes from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/train/records.hpp"

namespace wb::crate {

// Appends one JSON line to `path` (created when missing); throws std::runtime_error naming the file.
void append_jsonl(const std::string& path, const nlohmann::json& record);
// Rewrites a JSONL log keeping the records whose `key` is <= `limit` (a resumed run redoes the rest).
void keep_records_upto(const std::string& path, const char* key, std::int64_t limit);

// Loss (train and the evaluation split, labelled `eval_split`) and each metric against the epoch, one
// panel each.
void plot_curves(const std::string& path, const std::vector<EpochRecord>& history, const std::vector<MetricSpec>& metrics,
                 double label_smoothing, const std::string& eval_split = "test");

}  // namespace wb::crate
