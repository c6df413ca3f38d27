// The one list of named image datasets: what `--data NAME` accepts in train, eval, logits, measure
// and ablate, with each dataset's image shape, class count, normalization and loader. A new dataset
// is one entry in registry.cpp; every command and the ablation grid pick it up from here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace wb::data {

struct DatasetInfo {
  std::string name;  // "fashion-mnist", as --data spells it
  std::int64_t channels = 1, image_size = 28, num_classes = 10;
  std::string dir_hint;       // what --data-dir must hold
  bool needs_dir = false;     // true: no default location, --data-dir is required
  Normalization normalization;
  // dir "" = the default location; first > 0: only the first `first` items (the rest is not read)
  Dataset (*load)(const std::string& dir, Split split, std::int64_t first) = nullptr;
};

const std::vector<DatasetInfo>& dataset_registry();
std::vector<std::string> dataset_names();
// The entry of `name`; throws std::invalid_argument "unknown dataset 'x' (known: a, b, c)".
const DatasetInfo& dataset_info(const std::string& name);
// Loads a split of a named dataset; dir "" = its default location (an error naming --data-dir for a
// dataset that has none). first > 0 loads only the first `first` items, without reading (or checking) the
// rest of the files: what a run with --train-limit / --test-limit uses.
Dataset load_dataset(const std::string& name, const std::string& dir, Split split, std::int64_t first = 0);

}  // namespace wb::data
