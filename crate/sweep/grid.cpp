// Ablation grids: the grid file's schema (every key checked, with a "did you mean" for misspellings),
// parsing into runs, and loading from a file. Running the runs is in ablate.cpp; summaries, tables
// and plots in ablate_results.cpp.
#include "crate/sweep/ablate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "crate/models/registry.hpp"
#include "crate/report/suggest.hpp"
#include "datasets/registry.hpp"
#include "crate/train/loop.hpp"

namespace wb::crate {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---------------------------------------------------------------- grid keys

// The CrateConfig fields a grid may set, with their defaults (which give the expected JSON types).
const json& model_fields() {
  static const json f = [] {
    json j = to_json(CrateConfig{});
    j.erase("name");  // the variant's name is the model's name
    j.erase("seed");  // from the grid's seeds
    return j;
  }();
  return f;
}

// The TrainOptions fields a grid may set.
const json& train_fields() {
  static const json f = [] {
    const TrainOptions o;
    json j = to_json(o);
    for (const char* k : {"model", "out_dir", "seed"}) j.erase(k);
    j["log_every"] = o.log_every;
    j["checkpoint_every"] = o.checkpoint_every;
    j["plot"] = o.plot;
    return j;
  }();
  return f;
}

// "unknown key 'x' (did you mean 'y'? known: ...)" for the keys of `fields` plus `extra`.
std::string unknown_key(const std::string& key, const json& fields, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> keys = extra;
  for (const auto& [k, v] : fields.items()) keys.push_back(k);
  std::string list;
  for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
  const std::string best = nearest_name(key, keys, 2);  // suggest only close misspellings
  return fmt::format("unknown key '{}' ({}known: {})", key,
                     best.empty() ? "" : fmt::format("did you mean '{}'? ", best), list);
}

std::string json_type(const json& v) {
  if (v.is_boolean()) return "true or false";
  if (v.is_string()) return "a string";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_object()) return "an object";
  if (v.is_array()) return "an array";
  return "null";
}

// Checks that `v` has the type of the default `def`; `where` names the place for the message.
void check_type(const json& def, const json& v, const std::string& where, const std::string& key) {
  bool ok = false;
  if (def.is_boolean())
    ok = v.is_boolean();
  else if (def.is_string())
    ok = v.is_string();
  else if (def.is_number_integer())
    ok = v.is_number_integer();
  else if (def.is_number())
    ok = v.is_number();
  if (!ok)
    throw std::invalid_argument(fmt::format("{}: '{}' must be {}, got {}", where, key, json_type(def), v.dump()));
  if (def.is_number_unsigned() && v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)
    throw std::invalid_argument(fmt::format("{}: '{}' must be >= 0, got {}", where, key, v.dump()));
}

struct Section {
  json model = json::object();  // {"config": ..., fields...}
  json train = json::object();
  std::string changes;  // "key=value, ..." of this section's own keys
};

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Splits a base or variant section into model and train keys, checking names and types.
Section read_section(const json& s, const std::string& where, bool is_base) {
  if (!s.is_object()) throw std::invalid_argument(fmt::format("{}: must be an object, got {}", where, json_type(s)));
  Section out;
  std::vector<std::string> changes, train_changes;  // model keys first
  for (const auto& [key, v] : s.items()) {
    if (key == "name" || key == "description") {
      if (is_base) throw std::invalid_argument(fmt::format("{}: '{}' belongs to a variant, not the base", where, key));
      if (!v.is_string())
        throw std::invalid_argument(fmt::format("{}: '{}' must be a string, got {}", where, key, v.dump()));
      continue;
    }
    if (key == "model") {
      const std::string mw = where + ": model";
      if (v.is_string()) {
        out.model["config"] = v;
        changes.push_back("config=" + v.get<std::string>());
        continue;
      }
      if (!v.is_object())
        throw std::invalid_argument(
            fmt::format("{}: must be a named configuration or an object, got {}", mw, v.dump()));
      for (const auto& [mk, mv] : v.items()) {
        if (mk == "config") {
          if (!mv.is_string())
            throw std::invalid_argument(fmt::format("{}: 'config' must be a string, got {}", mw, mv.dump()));
        } else if (mk == "name" || mk == "seed") {
          throw std::invalid_argument(fmt::format(
              "{}: '{}' cannot be set (the model is named after the variant; seeds come from the grid's \"seeds\")", mw,
              mk));
        } else if (!model_fields().contains(mk)) {
          throw std::invalid_argument(fmt::format("{}: {}", mw, unknown_key(mk, model_fields(), {"config"})));
        } else {
          check_type(model_fields().at(mk), mv, mw, mk);
        }
        out.model[mk] = mv;
        changes.push_back(mk + "=" + value_text(mv));
      }
      continue;
    }
    if (key == "seed" || key == "out_dir" || key == "resume" || key == "stop_after_epochs" || key == "progress")
      throw std::invalid_argument(
          fmt::format("{}: '{}' cannot be set per run (seeds come from the grid's \"seeds\", run directories are "
                      "<out>/<variant>/seed<k>, finished runs are skipped and interrupted ones resumed automatically)",
                      where, key));
    if (!train_fields().contains(key))
      throw std::invalid_argument(
          fmt::format("{}: {}", where,
                      unknown_key(key, train_fields(),
                                  is_base ? std::vector<std::string>{"model"}
                                          : std::vector<std::string>{"name", "description", "model"})));
    check_type(train_fields().at(key), v, where, key);
    out.train[key] = v;
    train_changes.push_back(key + "=" + value_text(v));
  }
  changes.insert(changes.end(), train_changes.begin(), train_changes.end());
  for (const auto& c : changes) out.changes += (out.changes.empty() ? "" : ", ") + c;
  return out;
}

// The checks crate::train makes at its start, made here for every variant before anything runs.
void check_options(const TrainOptions& o, const std::string& where) {
  auto bad = [&](const std::string& m) { throw std::invalid_argument(fmt::format("{}: {}", where, m)); };
  if (o.epochs <= 0) bad(fmt::format("'epochs' must be positive, got {}", o.epochs));
  if (o.batch_size <= 0) bad(fmt::format("'batch_size' must be positive, got {}", o.batch_size));
  if (!(o.lr > 0)) bad(fmt::format("'lr' must be positive, got {}", o.lr));
  if (o.weight_decay < 0 || o.min_lr < 0 || o.clip_grad < 0 || o.srr_weight < 0)
    bad("'weight_decay', 'min_lr', 'clip_grad' and 'srr_weight' must be >= 0");
  if (o.label_smoothing < 0 || o.label_smoothing >= 1)
    bad(fmt::format("'label_smoothing' must be in [0, 1), got {}", o.label_smoothing));
  if (o.warmup_epochs < 0 || o.warmup_epochs > o.epochs)
    bad(fmt::format("'warmup_epochs' must be in [0, epochs = {}], got {}", o.epochs, o.warmup_epochs));
  if (o.optimizer != "adamw" && o.optimizer != "lion" && o.optimizer != "sgd")
    bad(fmt::format("'optimizer' must be adamw, lion or sgd, got '{}'", o.optimizer));
  if (o.train_limit < 0 || o.test_limit < 0 || o.threads < 0 || o.log_every < 0 || o.checkpoint_every < 0 ||
      o.measure_every < 0 || o.measure_limit <= 0)
    bad("'train_limit', 'test_limit', 'threads', 'log_every', 'checkpoint_every' and 'measure_every' must be >= 0, "
        "'measure_limit' positive");
  const data::DatasetInfo* d = nullptr;
  try {
    d = &data::dataset_info(o.data);
  } catch (const std::invalid_argument& e) {
    bad(fmt::format("'data': {}", e.what()));
  }
  const CrateConfig& c = o.model;
  if (c.channels != d->channels || c.image_size != d->image_size || c.num_classes != d->num_classes)
    bad(fmt::format("model expects {}x{}x{} images and {} classes; '{}' has {}x{}x{} and {}", c.channels, c.image_size,
                    c.image_size, c.num_classes, o.data, d->channels, d->image_size, d->image_size, d->num_classes));
}

TrainOptions resolve_options(const Section& base, const Section* variant, const std::string& name,
                             const std::string& where) {
  json model = base.model, train = base.train;
  if (variant) {
    for (const auto& [k, v] : variant->model.items()) model[k] = v;
    for (const auto& [k, v] : variant->train.items()) train[k] = v;
  }
  if (!model.contains("config"))
    throw std::invalid_argument(
        fmt::format("{}: no model configuration: the base needs \"model\": \"crate-mini-28\" "
                    "(or an object with \"config\")",
                    where));
  TrainOptions o;
  try {
    json cj = to_json(named_config(model.at("config").get<std::string>()));
    for (const auto& [k, v] : model.items())
      if (k != "config") cj[k] = v;
    if ((model.contains("dim") || model.contains("heads")) && !model.contains("dim_head"))
      cj["dim_head"] = cj.at("dim").get<std::int64_t>() / std::max<std::int64_t>(1, cj.at("heads").get<std::int64_t>());
    cj["name"] = name;
    o = train_options_from_json(train);
    o.model = config_from_json(cj);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", where, e.what()));
  } catch (const json::exception& e) {
    throw std::invalid_argument(fmt::format("{}: {}", where, e.what()));
  }
  if (train.contains("log_every")) o.log_every = train.at("log_every").get<std::int64_t>();
  if (train.contains("checkpoint_every")) o.checkpoint_every = train.at("checkpoint_every").get<std::int64_t>();
  if (train.contains("plot")) o.plot = train.at("plot").get<bool>();
  check_options(o, where);
  return o;
}

bool path_safe(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '+';
  });
}

}  // namespace

// ---------------------------------------------------------------- grid

const AblationRun& AblationGrid::run(const std::string& id) const {
  for (const auto& r : runs)
    if (r.id == id) return r;
  std::string known;
  for (const auto& r : runs) known += (known.empty() ? "" : ", ") + r.id;
  throw std::invalid_argument(fmt::format("{}: no run '{}' (runs: {})", source, id, known));
}

AblationGrid parse_grid(const json& j, const std::string& source, const std::string& out) {
  AblationGrid g;
  g.source = source;
  auto fail = [&](const std::string& m) { throw std::invalid_argument(fmt::format("{}: {}", source, m)); };
  if (!j.is_object()) fail(fmt::format("the grid must be a JSON object, got {}", json_type(j)));
  static const std::set<std::string> top{"description", "out", "seeds", "jobs", "measure_images", "base", "variants"};
  for (const auto& [k, v] : j.items())
    if (!top.count(k))
      fail(fmt::format("unknown key '{}' (known: description, out, seeds, jobs, measure_images, base, variants)", k));
  for (const char* k : {"out", "seeds", "base", "variants"})
    if (!j.contains(k)) fail(fmt::format("missing key '{}'", k));
  if (j.contains("description")) {
    if (!j.at("description").is_string()) fail("'description' must be a string");
    g.description = j.at("description").get<std::string>();
  }
  if (!j.at("out").is_string() || j.at("out").get<std::string>().empty()) fail("'out' must be a non-empty string");
  g.out = out.empty() ? j.at("out").get<std::string>() : out;
  const json& seeds = j.at("seeds");
  if (!seeds.is_array() || seeds.empty())
    fail(fmt::format("'seeds' must be a non-empty array of integers >= 0, got {}", seeds.dump()));
  for (const auto& s : seeds) {
    if (!s.is_number_integer() || s.get<std::int64_t>() < 0)
      fail(fmt::format("'seeds' must hold integers >= 0, got {}", s.dump()));
    const auto v = s.get<std::uint64_t>();
    if (std::find(g.seeds.begin(), g.seeds.end(), v) != g.seeds.end()) fail(fmt::format("seed {} is listed twice", v));
    g.seeds.push_back(v);
  }
  if (j.contains("jobs")) {
    const json& v = j.at("jobs");
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 256)
      fail(fmt::format("'jobs' must be an integer in [1, 256], got {}", v.dump()));
    g.jobs = v.get<int>();
  }
  if (j.contains("measure_images")) {
    const json& v = j.at("measure_images");
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1)
      fail(fmt::format("'measure_images' must be a positive integer, got {}", v.dump()));
    g.measure_images = v.get<std::int64_t>();
  }
  const Section base = read_section(j.at("base"), fmt::format("{}: base", source), true);
  g.base =
      resolve_options(base, nullptr, base.model.value("config", std::string("base")), fmt::format("{}: base", source));
  const json& variants = j.at("variants");
  if (!variants.is_array() || variants.empty()) fail("'variants' must be a non-empty array of objects");
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const json& vj = variants[i];
    const std::string at = fmt::format("{}: variants[{}]", source, i);
    if (!vj.is_object() || !vj.contains("name") || !vj.at("name").is_string())
      throw std::invalid_argument(fmt::format("{}: needs a \"name\" (a string)", at));
    AblationVariant v;
    v.name = vj.at("name").get<std::string>();
    const std::string where = fmt::format("{} ('{}')", at, v.name);
    if (!path_safe(v.name))
      throw std::invalid_argument(
          fmt::format("{}: the name must use only letters, digits and - _ . + (it names a directory)", where));
    for (const auto& other : g.variants)
      if (other.name == v.name)
        throw std::invalid_argument(fmt::format("{}: the name '{}' is used twice", where, v.name));
    v.description = vj.value("description", std::string());
    const Section sec = read_section(vj, where, false);
    v.changes = sec.changes;
    const TrainOptions o = resolve_options(base, &sec, v.name, where);
    v.config = o.model;
    for (const auto seed : g.seeds) {
      AblationRun r;
      r.variant = v.name;
      r.seed = seed;
      r.id = fmt::format("{}/seed{}", v.name, seed);
      r.options = o;
      r.options.seed = seed;
      r.options.model.seed = seed;  // crate::train does the same
      r.options.out_dir = (fs::path(g.out) / v.name / fmt::format("seed{}", seed)).string();
      g.runs.push_back(r);
    }
    g.variants.push_back(v);
  }
  return g;
}

AblationGrid load_grid(const std::string& path, const std::string& out) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument(fmt::format("{}: cannot read the grid file", path));
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw std::invalid_argument(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  return parse_grid(j, path, out);
}

}  // namespace wb::crate
