#include "crate/io/checkpoint.hpp"

#include <cmath>
#include <map>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/models/registry.hpp"
#include "tensor/prim.hpp"

namespace wb::crate {

void save_model(const std::string& path, const CrateModel& model, std::map<std::string, std::string> metadata) {
  metadata["format"] = "pt";  // what safetensors.torch writes; PyTorch loaders check it
  metadata["whitebox.config"] = to_json(model.config()).dump();
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : model.named_parameters()) tensors.emplace_back(name, t.detach());
  write_safetensors(path, tensors, metadata);
}

namespace {
std::string problem_list(const std::string& head, const std::vector<std::string>& problems) {
  std::string msg = head;
  for (std::size_t i = 0; i < problems.size() && i < 12; ++i) msg += "\n  " + problems[i];
  if (problems.size() > 12) msg += fmt::format("\n  ... and {} more", problems.size() - 12);
  return msg;
}
}  // namespace

std::string describe_nonfinite(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) {
    if (t.dtype() != DType::f32 && t.dtype() != DType::f64) continue;
    const Tensor c = prim::contiguous(prim::to_device(t, Device::CPU));
    const std::int64_t n = c.numel();
    for (std::int64_t i = 0; i < n; ++i) {
      const double v = c.dtype() == DType::f32 ? static_cast<const float*>(c.raw_data())[i]
                                               : static_cast<const double*>(c.raw_data())[i];
      if (!std::isfinite(v)) return fmt::format("'{}' holds {} at index {} (of {})", name, v, i, n);
    }
  }
  return "";
}

LoadReport load_weights(Module& model, const std::string& what, const SafeTensors& file, const std::string& path,
                        LoadMode mode) {
  std::map<std::string, const Tensor*> have;
  for (const auto& [name, t] : file.tensors) have[name] = &t;
  std::vector<std::string> problems;
  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const auto& [name, p] : model.named_parameters()) {
    auto it = have.find(name);
    if (it == have.end()) {
      problems.push_back(fmt::format("missing '{}' {}", name, shape_str(p.shape())));
      continue;
    }
    if (it->second->shape() != p.shape())
      problems.push_back(fmt::format("'{}' is {} in the file, the model needs {}", name, shape_str(it->second->shape()),
                                     shape_str(p.shape())));
    else
      copies.emplace_back(p, it->second);
    have.erase(it);
  }
  for (const auto& [name, t] : have) problems.push_back(fmt::format("unexpected '{}' {}", name, shape_str(t->shape())));
  if (mode == LoadMode::strict && !problems.empty())
    throw std::runtime_error(problem_list(fmt::format("{}: does not match model '{}' ({} problem{}):", path, what,
                                                      problems.size(), problems.size() == 1 ? "" : "s"),
                                          problems));
  if (mode == LoadMode::partial && copies.empty())
    throw std::runtime_error(problem_list(
        fmt::format("{}: no tensor matches model '{}' by name and shape ({} problems):", path, what, problems.size()),
        problems));
  NamedTensors loaded;
  for (const auto& [name, t] : file.tensors)
    if (have.count(name) == 0) loaded.emplace_back(name, t);  // what is copied (have keeps the unexpected)
  const std::string bad = describe_nonfinite(loaded);
  if (!bad.empty())
    throw std::runtime_error(fmt::format("{}: tensor {}: the weights are not finite (the run that wrote them "
                                         "diverged); use an earlier checkpoint",
                                         path, bad));
  autograd::NoGradGuard ng;
  for (const auto& [p, src] : copies) prim::copy_(p, *src);
  return {static_cast<std::int64_t>(copies.size()), std::move(problems)};
}

LoadReport load_weights(CrateModel& model, const SafeTensors& file, const std::string& path, LoadMode mode) {
  return load_weights(model, model.config().name, file, path, mode);
}

namespace {
CrateConfig config_in(const SafeTensors& file, const std::string& path) {
  auto it = file.metadata.find("whitebox.config");
  if (it == file.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.config' metadata; name the model configuration "
                                         "(e.g. --model crate-small) to load weights saved by another program",
                                         path));
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: bad 'whitebox.config' metadata: {}", path, e.what()));
  }
  if (j.is_object() && j.contains("family"))  // another model family (e.g. "mae"): not a classifier
    throw std::runtime_error(fmt::format("{}: a checkpoint of the '{}' model family ({}), not a classifier", path,
                                         j.at("family").is_string() ? j.at("family").get<std::string>() : "?",
                                         j.value("name", std::string("?"))));
  try {
    return config_from_json(j);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: bad 'whitebox.config' metadata: {}", path, e.what()));
  }
}
}  // namespace

CrateConfig checkpoint_config(const std::string& path) { return config_in(read_safetensors(path), path); }

void check_config_fits_file(const CrateConfig& c, const SafeTensors& file, const std::string& path,
                            const std::string& source) {
  std::int64_t in_file = 0;  // the tensors tile the data section, so this is at most the file's size
  for (const auto& [name, t] : file.tensors) in_file += t.numel();
  std::string need;
  try {
    const std::int64_t n = count_parameters(c);
    if (n <= in_file) return;  // fits: a strict load then names any tensor that does not match
    need = fmt::format("{} parameters", n);
  } catch (const std::overflow_error&) {
    need = "more parameters than fit in 64 bits";
  }
  throw std::runtime_error(fmt::format(
      "{}: the configuration ({}) describes a model of {} (image_size {}, patch_size {}, channels {}, dim {}, depth {}, "
      "heads {}, dim_head {}, num_classes {}), but the file holds only {} values in {} tensors: the configuration does "
      "not match the tensors (checked before building the model)",
      path, source, need, c.image_size, c.patch_size, c.channels, c.dim, c.depth, c.heads, c.dim_head, c.num_classes,
      in_file, file.tensors.size()));
}

std::unique_ptr<CrateModel> load_model(const std::string& path, const std::optional<CrateConfig>& config,
                                       const std::string& config_source) {
  const SafeTensors file = read_safetensors(path);
  const CrateConfig c = config ? *config : config_in(file, path);
  // Building the model allocates what the configuration says: check it against the tensors first, so
  // a small file with forged metadata cannot make whitebox allocate without bound.
  check_config_fits_file(c, file, path,
                         !config                 ? std::string("its 'whitebox.config' metadata")
                         : config_source.empty() ? fmt::format("'{}', given by the caller", c.name)
                                                 : config_source);
  auto model = std::make_unique<CrateModel>(c);
  load_weights(*model, file, path);
  return model;
}

}  // namespace wb::crate
