#include "crate/io/text_checkpoint.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tensor/prim.hpp"

namespace wb::crate {

std::string text_config_json(const TextConfig& c) {
  nlohmann::json j = {{"family", name_of(c.family)}, {"vocab_size", c.vocab_size}, {"block_size", c.block_size},
                      {"dim", c.dim},               {"depth", c.depth},           {"heads", c.heads},
                      {"dict_ratio", c.dict_ratio}, {"ista_steps", c.ista_steps}, {"eta", c.eta},
                      {"lambda", c.lambda},         {"bias", c.bias},             {"ln_eps", c.ln_eps},
                      {"attention", name_of(c.attention_kind())}};
  return j.dump();
}

TextConfig parse_text_config_json(const std::string& text, const std::string& where) {
  TextConfig c;
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    c.family = parse_text_family(j.at("family").get<std::string>());
    c.vocab_size = j.at("vocab_size").get<std::int64_t>();
    c.block_size = j.at("block_size").get<std::int64_t>();
    c.dim = j.at("dim").get<std::int64_t>();
    c.depth = j.at("depth").get<std::int64_t>();
    c.heads = j.at("heads").get<std::int64_t>();
    c.dict_ratio = j.value("dict_ratio", c.dict_ratio);
    c.ista_steps = j.value("ista_steps", c.ista_steps);
    c.eta = j.value("eta", c.eta);
    c.lambda = j.value("lambda", c.lambda);
    c.bias = j.value("bias", c.bias);
    c.ln_eps = j.value("ln_eps", c.ln_eps);
    // absent in files written before TSSA: the family's own attention
    if (j.contains("attention")) c.attention = enum_from_name<AttentionKind>(j.at("attention").get<std::string>(), "attention");
    c.validate();
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: bad text model config ({})", where, e.what()));
  }
  return c;
}

void save_text_model(const std::string& path, const TextModel& model, std::map<std::string, std::string> metadata) {
  metadata["whitebox.text_config"] = text_config_json(model.config());
  write_safetensors(path, model.named_parameters(), metadata);
}

LoadReport load_text_weights(TextModel& model, const SafeTensors& file, const std::string& path, LoadMode mode) {
  SafeTensors weights;
  weights.metadata = file.metadata;
  const Tensor* wte = file.find("transformer.wte.weight");
  for (const auto& [name, t] : file.tensors) {
    if (name.starts_with("transformer.h.") && name.ends_with(".attn.bias")) continue;  // the causal-mask buffer
    if (name == "lm_head.weight") {
      const bool tied = wte != nullptr && wte->shape() == t.shape() &&
                        prim::cast(*wte, DType::f64).to_vector<double>() == prim::cast(t, DType::f64).to_vector<double>();
      if (!tied)
        throw std::runtime_error(fmt::format(
            "{}: lm_head.weight differs from transformer.wte.weight, but the model ties them (an untied head is not supported)",
            path));
      continue;
    }
    weights.tensors.emplace_back(name, t);
  }
  return load_weights(model, name_of(model.config().family), weights, path, mode);
}

std::unique_ptr<TextModel> load_text_model(const std::string& path) {
  const SafeTensors file = read_safetensors(path);
  const auto it = file.metadata.find("whitebox.text_config");
  if (it == file.metadata.end())
    throw std::runtime_error(fmt::format("{}: no whitebox.text_config metadata (not a whitebox text model file)", path));
  TextConfig c = parse_text_config_json(it->second, path);
  Generator gen(0);
  auto model = make_text_model(c, gen);
  load_text_weights(*model, file, path, LoadMode::strict);
  return model;
}

}  // namespace wb::crate
