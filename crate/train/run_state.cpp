#include "crate/train/run_state.hpp"

#include <algorithm>
#include <filesystem>
#include <regex>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/atomic_file.hpp"
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
void read_state(const json& j, const CheckpointRef& ref, const SafeTensors& weights, const TrainOptions& o, Position& pos,
                std::vector<EpochRecord>& history, Task& task) {
  if (j.at("options") != trajectory_fields(o))
    throw std::invalid_argument(fmt::format(
        "train --resume: the options differ from the checkpoint's in {} (a resumed run must keep every option that "
        "shapes training)",
        ref.dir));
  pos.epoch = j.at("epoch");
  pos.batch = j.at("batch");
  pos.step = j.at("step");
  // Both halves of a checkpoint are of one step (a check against damage, and against an older
  // whitebox's layout, whose weights were written before the state and could run one step ahead).
  const auto wstep = weights.metadata.find("whitebox.step");
  if (wstep == weights.metadata.end() || wstep->second != std::to_string(pos.step))
    throw std::runtime_error(fmt::format(
        "train --resume: {} is at step {} but {} at step {} (the run stopped while writing its checkpoint); "
        "start it again in a new --out",
        ref.model, wstep == weights.metadata.end() ? std::string("?") : wstep->second, ref.state, pos.step));
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
      options((fs::path(out_dir) / "options.json").string()),
      metrics((fs::path(out_dir) / "metrics.jsonl").string()),
      measurements((fs::path(out_dir) / "measurements.jsonl").string()) {}

namespace {

// The numbers of the committed checkpoint directories of a run folder, ascending.
std::vector<std::int64_t> checkpoint_numbers(const std::string& out_dir) {
  static const std::regex name(R"(checkpoint-([0-9]{1,18}))");
  std::vector<std::int64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(out_dir, ec)) {
    std::smatch m;
    const std::string n = entry.path().filename().string();
    if (std::regex_match(n, m, name) && entry.is_directory()) out.push_back(std::stoll(m[1].str()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string checkpoint_name(std::int64_t number) { return fmt::format("checkpoint-{:06d}", number); }

CheckpointRef checkpoint_ref(const std::string& out_dir, std::int64_t number) {
  const fs::path d = fs::path(out_dir) / checkpoint_name(number);
  return {d.string(), (d / "model.safetensors").string(), (d / "train_state.safetensors").string(), number};
}

fs::path legacy_state(const std::string& out_dir) { return fs::path(out_dir) / "train_state.safetensors"; }

}  // namespace

std::optional<CheckpointRef> latest_checkpoint(const std::string& out_dir) {
  const auto numbers = checkpoint_numbers(out_dir);
  if (!numbers.empty()) return checkpoint_ref(out_dir, numbers.back());
  const fs::path model = fs::path(out_dir) / "model.safetensors";
  if (fs::exists(legacy_state(out_dir)) && fs::exists(model))
    return CheckpointRef{out_dir, model.string(), legacy_state(out_dir).string(), 0};
  return std::nullopt;
}

json read_train_state(const CheckpointRef& ref) {
  const SafeTensors st = read_safetensors(ref.state);
  const auto meta = st.metadata.find("whitebox.train_state");
  if (meta == st.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.train_state' metadata", ref.state));
  try {
    return json::parse(meta->second);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: malformed 'whitebox.train_state' ({})", ref.state, e.what()));
  }
}

std::vector<std::string> tidy_run_folder(const RunPaths& paths) {
  std::vector<std::string> notes;
  const auto removed = remove_temporaries(paths.dir);
  if (!removed.empty()) {
    std::string names;
    for (std::size_t i = 0; i < removed.size() && i < 4; ++i) names += (i ? ", " : "") + removed[i];
    notes.push_back(fmt::format("{}: removed {} temporary file{} left by an interrupted write ({}{})", paths.dir,
                                removed.size(), removed.size() == 1 ? "" : "s", names, removed.size() > 4 ? ", ..." : ""));
  }
  const auto numbers = checkpoint_numbers(paths.dir);
  if (numbers.empty()) return notes;
  for (std::size_t i = 0; i + 1 < numbers.size(); ++i) fs::remove_all(checkpoint_ref(paths.dir, numbers[i]).dir);
  std::error_code rec;
  fs::remove(legacy_state(paths.dir), rec);  // an older layout's state, superseded by the checkpoint
  const CheckpointRef latest = checkpoint_ref(paths.dir, numbers.back());
  std::error_code ec;
  if (!fs::equivalent(latest.model, paths.model, ec)) {
    link_file_atomic(latest.model, paths.model);
    notes.push_back(fmt::format("{}: model.safetensors now holds the weights of the latest complete checkpoint ({})",
                                paths.dir, fs::path(latest.dir).filename().string()));
  }
  return notes;
}

void save_checkpoint(const RunPaths& paths, const TrainOptions& o, const Position& p,
                     const std::vector<EpochRecord>& history, Task& task, optim::Optimizer& opt) {
  const auto numbers = checkpoint_numbers(paths.dir);
  const std::int64_t number = numbers.empty() ? 1 : numbers.back() + 1;
  const CheckpointRef ref = checkpoint_ref(paths.dir, number);
  {
    StagedDir staged(paths.dir, checkpoint_name(number));
    const fs::path d(staged.path());
    task.save_weights((d / "model.safetensors").string(), {{"whitebox.step", std::to_string(p.step)}});
    json j = {{"options", trajectory_fields(o)}, {"epoch", p.epoch},     {"batch", p.batch},
              {"step", p.step},                  {"loss_sum", p.loss_sum}, {"sums", p.sums},
              {"seen", p.seen},                  {"seconds", p.seconds}};
    for (const auto& [name, g] : task.generators()) j[name] = generator_to_json(*g);
    json h = json::array();
    for (const auto& e : history) h.push_back(to_json(e));
    j["history"] = h;
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (auto& [name, t] : opt.state_tensors()) tensors.emplace_back("optim." + name, t);
    write_safetensors((d / "train_state.safetensors").string(), tensors, {{"whitebox.train_state", j.dump()}});
    staged.commit();
  }
  // The checkpoint is committed; what follows only tidies, and tidy_run_folder redoes it after a kill.
  link_file_atomic(ref.model, paths.model);
  for (const std::int64_t n : numbers) fs::remove_all(checkpoint_ref(paths.dir, n).dir);
  std::error_code ec;
  fs::remove(legacy_state(paths.dir), ec);
}

void load_checkpoint(const CheckpointRef& ref, const TrainOptions& o, Position& pos, std::vector<EpochRecord>& history,
                     Task& task, optim::Optimizer& opt) {
  const SafeTensors weights = read_safetensors(ref.model);
  task.load_weights(weights, ref.model, LoadMode::strict);
  const SafeTensors st = read_safetensors(ref.state);
  const auto meta = st.metadata.find("whitebox.train_state");
  if (meta == st.metadata.end())
    throw std::runtime_error(fmt::format("{}: no 'whitebox.train_state' metadata", ref.state));
  try {
    read_state(json::parse(meta->second), ref, weights, o, pos, history, task);
  } catch (const json::exception& e) {
    throw std::runtime_error(fmt::format("{}: malformed 'whitebox.train_state' ({}); the run was written by another "
                                         "whitebox version or the file is damaged: start it again in a new --out",
                                         ref.state, e.what()));
  }
  NamedTensors opt_state;
  for (const auto& [name, t] : st.tensors)
    if (name.rfind("optim.", 0) == 0) opt_state.emplace_back(name.substr(6), t);
  opt.load_state_tensors(opt_state);
}

}  // namespace wb::crate
