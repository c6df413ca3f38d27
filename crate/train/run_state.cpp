#include "crate/train/run_state.hpp"

#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/safetensors.hpp"

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json generator_to_json(const Generator& g) {
  const auto st = g.state();
  return {{"s", st.s}, {"has_spare", st.has_spare}, {"spare", st.spare}};
}

void generator_from_json(Generator& g, const json& j) {
  Generator::State st;
  j.at("s").get_to(st.s);
  j.at("has_spare").get_to(st.has_spare);
  j.at("spare").get_to(st.spare);
  g.set_state(st);
}

// The JSON half of load_checkpoint (throws nlohmann::json::exception on a missing or mistyped field).
void read_state(const json& j, const RunPaths& paths, const SafeTensors& weights, const TrainOptions& o, Position& pos,
                std::vector<EpochRecord>& history, Task& task) {
  if (j.at("options") != trajectory_fields(o))
    throw std::invalid_argument(fmt::format(
        "train --resume: the options differ from the checkpoint's in {} (a resumed run must keep every option that "
        "shapes training)",
        paths.dir));
  pos.epoch = j.at("epoch");
  pos.batch = j.at("batch");
  pos.step = j.at("step");
  // The weights are written before the state: a run killed between the two has weights one
  // checkpoint ahead of its optimizer state, which must not be combined.
  const auto wstep = weights.metadata.find("whitebox.step");
  if (wstep == weights.metadata.end() || wstep->second != std::to_string(pos.step))
    throw std::runtime_error(fmt::format(
        "train --resume: {} is at step {} but {} at step {} (the run stopped while writing its checkpoint); "
        "start it again in a new --out",
        paths.model, wstep == weights.metadata.end() ? std::string("?") : wstep->second, paths.state, pos.step));
  pos.loss_sum = j.at("loss_sum");
  pos.sums = j.at("sums").get<Metrics>();
  pos.seen = j.at("seen");
  pos.seconds = j.at("seconds");
  for (const auto& [name, g] : task.generators()) generator_from_json(*g, j.at(name));
  for (const auto& e : j.at("history")) history.push_back(epoch_from_json(e));
}

}  // namespace

RunPaths::RunPaths(const std::string& out_dir)
    : dir(out_dir),
      model((fs::path(out_dir) / "model.safetensors").string()),
      state((fs::path(out_dir) / "train_state.safetensors").string()),
      options((fs::path(out_dir) / "options.json").string()),
      metrics((fs::path(out_dir) / "metrics.jsonl").string()),
      measurements((fs::path(out_dir) / "measurements.jsonl").string()) {}

void save_checkpoint(const RunPaths& paths, const TrainOptions& o, const Position& p,
                     const std::vector<EpochRecord>& history, Task& task, optim::Optimizer& opt) {
  task.save_weights(paths.model, {{"whitebox.step", std::to_string(p.step)}});
  json j = {{"options", trajectory_fields(o)}, {"epoch", p.epoch},     {"batch", p.batch},
            {"step", p.step},                  {"loss_sum", p.loss_sum}, {"sums", p.sums},
            {"seen", p.seen},                  {"seconds", p.seconds}};
  for (const auto& [name, g] : task.generators()) j[name] = generator_to_json(*g);
  json h = json::array();
  for (const auto& e : history) h.push_back(to_json(e));
  j["history"] = h;
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : opt.state_tensors()) tensors.emplace_back("optim." + name, t);
  write_safetensors(paths.state, tensors, {{"whitebox.train_state", j.dump()}});
}

void load_checkpoint(const RunPaths& paths, const TrainOptions& o, Position& pos, std::vector<EpochRecord>& history,
                     Task& task, optim::Optimizer& opt) {
  if (!fs::exists(paths.model) || !fs::exists(paths.state))
    throw std::invalid_argument(fmt::format("train --resume: {} has no checkpoint (model.safetensors and "
                                            "train_state.safetensors)",
                                            paths.dir));
  const SafeTensors weights = read_safetensors(paths.model);
  task.load_weights(weights, paths.model, LoadMode::strict);
  const SafeTensors st = read_safetensors(paths.state);
  const auto meta = st.metadata.find("whitebox.train_state");
  if (meta == st.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.train_state' metadata", paths.state));
  try {
    read_state(json::parse(meta->second), paths, weights, o, pos, history, task);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: malformed 'whitebox.train_state' ({}); the run was written by another "
                                         "whitebox version or the file is damaged: start it again in a new --out",
                                         paths.state, e.what()));
  }
  NamedTensors opt_state;
  for (const auto& [name, t] : st.tensors)
    if (name.rfind("optim.", 0) == 0) opt_state.emplace_back(name.substr(6), t);
  opt.load_state_tensors(opt_state);
}

}  // namespace wb::crate
