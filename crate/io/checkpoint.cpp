#include "crate/io/checkpoint.hpp"

#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

void save_model(const std::string& path, const CrateModel& model, std::map<std::string, std::string> metadata) {
  metadata["format"] = "pt";  // what safetensors.torch writes; PyTorch loaders check it
  metadata["whitebox.config"] = to_json(model.config()).dump();
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back(name, t.detach());
  write_safetensors(path, tensors, metadata);
}

void load_weights(CrateModel& model, const SafeTensors& file, const std::string& path) {
  std::map<std::string, const Tensor*> have;
  for (const auto& [name, t] : file.tensors) have[name] = &t;
  std::vector<std::string> problems;
  const auto params = model.named_parameters();
  for (const auto& [name, p] : params) {
    auto it = have.find(name);
    if (it == have.end()) {
      problems.push_back(fmt::format("missing '{}' {}", name, shape_str(p.shape())));
      continue;
    }
    if (it->second->shape() != p.shape())
      problems.push_back(fmt::format("'{}' is {} in the file, the model needs {}", name, shape_str(it->second->shape()),
                                     shape_str(p.shape())));
    have.erase(it);
  }
  for (const auto& [name, t] : have) problems.push_back(fmt::format("unexpected '{}' {}", name, shape_str(t->shape())));
  if (!problems.empty()) {
    std::string msg = fmt::format("{}: does not match model '{}' ({} problem{}):", path, model.config().name,
                                  problems.size(), problems.size() == 1 ? "" : "s");
    for (std::size_t i = 0; i < problems.size() && i < 12; ++i) msg += "\n  " + problems[i];
    if (problems.size() > 12) msg += fmt::format("\n  ... and {} more", problems.size() - 12);
    throw std::runtime_error(msg);
  }
  autograd::NoGradGuard ng;
  for (const auto& [name, p] : params) prim::copy_(p, *file.find(name));
}

std::unique_ptr<CrateModel> load_model(const std::string& path, const std::optional<CrateConfig>& config) {
  const SafeTensors file = read_safetensors(path);
  CrateConfig c;
  if (config) {
    c = *config;
  } else {
    auto it = file.metadata.find("whitebox.config");
    if (it == file.metadata.end())
      throw std::runtime_error(fmt::format("{}: no 'whitebox.config' metadata; name the model configuration "
                                           "(e.g. --model crate-small) to load weights saved by another program",
                                           path));
    try {
      c = config_from_json(nlohmann::json::parse(it->second));
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{}: bad 'whitebox.config' metadata: {}", path, e.what()));
    }
  }
  auto model = std::make_unique<CrateModel>(c);
  load_weights(*model, file, path);
  return model;
}

}  // namespace wb::crate
