// Checkpoints of the causal language models (crate/models/text/): the official state-dict names, plus
// the TextConfig as JSON in the metadata entry "whitebox.text_config".
//
// Files written by the official PyTorch code (CRATE-GPT's PR #13, nanoGPT) also hold the causal-mask
// buffers `transformer.h.{i}.attn.bias` (1, 1, T, T) and the tied `lm_head.weight`: the load skips the
// buffers (they are not weights), and accepts lm_head.weight only when it equals transformer.wte.weight
// (the tie); everything else is io/checkpoint.hpp's strict or partial load.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "crate/io/checkpoint.hpp"
#include "crate/models/text/text_model.hpp"

namespace wb::crate {

std::string text_config_json(const TextConfig& c);
// Throws std::runtime_error naming `where` and the field for a malformed or inconsistent config.
TextConfig parse_text_config_json(const std::string& json, const std::string& where);

void save_text_model(const std::string& path, const TextModel& model, std::map<std::string, std::string> metadata = {});
LoadReport load_text_weights(TextModel& model, const SafeTensors& file, const std::string& path,
                             LoadMode mode = LoadMode::strict);
// Reads a text model file (its config from the metadata) into a new model.
std::unique_ptr<TextModel> load_text_model(const std::string& path);

}  // namespace wb::crate
