// The ablation runner (crate/sweep/ablate.hpp): every variant of the shipped grid has correct gradients at a
// tiny size, grid files are validated with the bad key named, an interrupted grid resumes without
// redoing finished runs, the results table equals what the runs logged, and child processes run at
// most `jobs` at once.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "datasets/registry.hpp"
#include "crate/sweep/ablate.hpp"
#include "crate/train/run_state.hpp"
#include "crate/io/checkpoint.hpp"
#include "datasets/idx.hpp"
#include "ops/ops.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/crate/module_check.hpp"
#include "tests/support/check.hpp"
#include "tests/support/datasets.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::read_bytes;
using wbtest::TempDir;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {


json read_json(const fs::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

// A grid small enough for a unit test: 16-wide, 2-layer models with 7x7 patches, 64 training images,
// 2 epochs, two variants x two seeds.
json tiny_grid(const std::string& out) {
  return json::parse(R"({
    "out": ")" + out +
                     R"(",
    "seeds": [0, 1],
    "measure_images": 24,
    "base": {"model": {"config": "crate-mini-28", "dim": 16, "depth": 2, "heads": 2, "patch_size": 7},
             "epochs": 2, "batch_size": 32, "train_limit": 64, "test_limit": 48, "lr": 0.002,
             "log_every": 1, "plot": false},
    "variants": [{"name": "crate"},
                 {"name": "vit", "model": "vit-mini-28", "lr": 0.001}]
  })");
}

AblateOptions quiet() {
  AblateOptions o;
  o.jobs = 1;
  o.progress = false;
  o.plot = false;
  return o;
}

// Contents and modification time of every file of a run directory.
std::map<std::string, std::pair<std::string, fs::file_time_type>> snapshot(const fs::path& dir) {
  std::map<std::string, std::pair<std::string, fs::file_time_type>> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != ".lock")
      out[e.path().filename().string()] = {read_bytes(e.path()), fs::last_write_time(e.path())};
  return out;
}

// The epoch records of a metrics.jsonl, parsed here independently of crate/ablate.
std::vector<json> logged_epochs(const fs::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) {
      json j = json::parse(line);
      if (j["kind"] == "epoch") out.push_back(j);
    }
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
double sample_std(const std::vector<double>& v) {
  if (v.size() < 2) return 0.0;
  const double m = mean(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(v.size() - 1));
}
bool close(double a, double b, double rtol = 1e-12) { return std::abs(a - b) <= rtol * std::max(1.0, std::abs(b)); }

// One cell of the markdown row of `variant`: 0 name, 1 changes, 2 parameters, 3 seeds, 4 accuracy,
// 5 loss, 6 images/s, 7 R^c, 8 non-zero.
std::string md_cell(const std::string& md, const std::string& variant, std::size_t column) {
  std::istringstream in(md);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| " + variant + " |", 0) != 0) continue;
    std::vector<std::string> cells;
    std::size_t pos = 1;
    while (pos < line.size()) {
      const std::size_t next = line.find('|', pos);
      std::string c = line.substr(pos, next - pos);
      c.erase(0, c.find_first_not_of(' '));
      c.erase(c.find_last_not_of(' ') + 1);
      cells.push_back(c);
      pos = next + 1;
    }
    return column < cells.size() ? cells[column] : "";
  }
  return "(no row)";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(ablate)

BOOST_AUTO_TEST_CASE(every_variant_of_the_shipped_grid_has_correct_gradients) {
  // Each variant of experiments/ablation_small.json, shrunk to 8x8 images, d = 8, 2 layers, in f64:
  // a directional gradcheck of the loss over every parameter and the input, and an elementwise
  // gradcheck of the logits with respect to the input image.
  const AblationGrid g = load_grid("experiments/ablation_small.json", "/tmp/unused");
  std::map<std::string, std::set<std::string>> seen;
  for (const auto& v : g.variants) {
    const CrateConfig c = wbtest::small_variant(v.config);
    seen["attention"].insert(name_of(c.attention));
    seen["mlp"].insert(name_of(c.mlp));
    seen["ista_residual"].insert(c.ista_residual ? "true" : "false");
    seen["learnable_ista"].insert(c.learnable_ista ? "true" : "false");
    seen["output_map"].insert(name_of(c.output_map));
    seen["dictionary"].insert(name_of(c.dictionary));
    BOOST_TEST_CONTEXT("variant " << v.name) {
      CrateModel m(c);
      const Tensor x = wbtest::param(wbtest::randn({2, 2, 8, 8}, 3));
      const Tensor y = Tensor::from_vector(std::vector<std::int64_t>{0, 2}, {2});
      check_module_direction(m, {x}, [&] { return ops::cross_entropy(m.forward(x), y, -100, 0.1); });
      wbtest::check_grad([&](const std::vector<Tensor>& in) { return m.forward(in[0]); },
                         {wbtest::param(wbtest::randn({1, 2, 8, 8}, 4))});
    }
  }
  // The grid exercises both values of every switch.
  for (const auto& [k, values] : seen) BOOST_TEST(values.size() == 2u, k << " takes only one value in the grid");
  BOOST_TEST(g.seeds.size() >= 2u);
}

BOOST_AUTO_TEST_CASE(grid_is_expanded_with_base_and_variant_overrides) {
  const AblationGrid g = parse_grid(tiny_grid("/tmp/x"), "tiny.json");
  BOOST_TEST(g.runs.size() == 4u);
  BOOST_TEST(g.runs[1].id == "crate/seed1");
  BOOST_TEST(g.runs[1].options.out_dir == "/tmp/x/crate/seed1");
  BOOST_TEST(g.runs[1].options.seed == 1u);
  BOOST_TEST(g.runs[1].options.model.seed == 1u);
  const TrainOptions& vit = g.runs[2].options;
  BOOST_TEST((vit.model.attention == AttentionKind::standard));  // the named config of the variant ...
  BOOST_TEST(vit.model.dim == 16);                // ... with the base's overrides
  BOOST_TEST(vit.model.dim_head == 8);            // dim / heads, as --dim does
  BOOST_TEST(vit.model.patch_size == 7);
  BOOST_TEST(vit.lr == 0.001);
  BOOST_TEST(g.runs[0].options.lr == 0.002);
  BOOST_TEST(vit.train_limit == 64);
  BOOST_TEST(g.variants[1].changes == "config=vit-mini-28, lr=0.001");
  BOOST_TEST(g.variants[0].changes == "");
  BOOST_CHECK_THROW(g.run("crate/seed7"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(bad_grids_are_refused_with_the_key_named) {
  struct Case {
    std::function<void(json&)> edit;
    std::string expected;
  };
  const std::vector<Case> cases{
      {[](json& j) { j["seed"] = 1; }, "tiny.json: unknown key 'seed'"},
      {[](json& j) { j.erase("seeds"); }, "missing key 'seeds'"},
      {[](json& j) {
         j["seeds"] = {0, 0};
       },
       "seed 0 is listed twice"},
      {[](json& j) { j["seeds"] = {-1}; }, "'seeds' must hold integers >= 0"},
      {[](json& j) { j["jobs"] = 0; }, "'jobs' must be an integer in [1, 256]"},
      {[](json& j) { j["base"]["epochs"] = "3"; }, "tiny.json: base: 'epochs' must be an integer, got \"3\""},
      {[](json& j) { j["base"]["lr"] = -1; }, "base: 'lr' must be positive"},
      {[](json& j) { j["base"]["model"]["dim"] = 16.5; }, "'dim' must be an integer"},
      {[](json& j) { j["base"]["model"] = 3; }, "must be a named configuration or an object"},
      {[](json& j) { j["base"]["model"]["config"] = "crate-huge"; }, "unknown model config 'crate-huge'"},
      {[](json& j) { j["base"]["model"] = "crate-mini-32"; },
       "model expects 3x32x32 images and 10 classes; 'fashion-mnist' has 1x28x28"},
      {[](json& j) {
         j["variants"][1]["model"] = {{"atention", "standard"}};
       },
       "variants[1] ('vit'): model: unknown key 'atention' (did you mean 'attention'?"},
      {[](json& j) {
         j["variants"][1]["model"] = {{"attention", "softmax"}};
       },
       "attention must be 'mssa', 'standard' or 'tssa', got 'softmax'"},
      {[](json& j) {
         j["variants"][1]["model"] = {{"ista_residual", 1}};
       },
       "'ista_residual' must be true or false, got 1"},
      {[](json& j) {
         j["variants"][1]["model"] = {{"seed", 1}};
       },
       "'seed' cannot be set"},
      {[](json& j) {
         j["variants"][1]["model"] = {{"dictionary", "overcomplete"}, {"mlp", "mlp"}};
       },
       "overcomplete dictionary is an ISTA variant"},
      {[](json& j) { j["variants"][0]["lrr"] = 0.1; }, "variants[0] ('crate'): unknown key 'lrr' (did you mean 'lr'?"},
      {[](json& j) { j["base"]["epoch"] = 3; }, "base: unknown key 'epoch' (did you mean 'epochs'? known: model, "},
      {[](json& j) { j["variants"][0]["zzzzzz"] = 3; }, "unknown key 'zzzzzz' (known: name, description, model, "},
      {[](json& j) { j["variants"][0]["seed"] = 3; }, "'seed' cannot be set per run"},
      {[](json& j) { j["variants"][0]["stop_after_epochs"] = 1; }, "'stop_after_epochs' cannot be set per run"},
      {[](json& j) { j["variants"][0]["warmup_epochs"] = 5; }, "'warmup_epochs' must be in [0, epochs = 2], got 5"},
      {[](json& j) { j["variants"][1]["name"] = "crate"; }, "the name 'crate' is used twice"},
      {[](json& j) { j["variants"][1]["name"] = "a/b"; }, "only letters, digits"},
      {[](json& j) { j["variants"][1].erase("name"); }, "variants[1]: needs a \"name\""},
      {[](json& j) { j["variants"] = json::array(); }, "'variants' must be a non-empty array"},
      {[](json& j) { j["base"]["name"] = "x"; }, "base: 'name' belongs to a variant"},
      {[](json& j) { j["base"]["data"] = "imagenet"; }, "'data': unknown dataset 'imagenet' (known: fashion-mnist, mnist, cifar10)"},
  };
  for (const auto& c : cases) {
    json j = tiny_grid("/tmp/x");
    c.edit(j);
    try {
      (void)parse_grid(j, "tiny.json");
      BOOST_ERROR("accepted a grid that should fail with: " << c.expected);
    } catch (const std::invalid_argument& e) {
      BOOST_TEST(std::string(e.what()).find(c.expected) != std::string::npos,
                 "expected '" << c.expected << "' in: " << e.what());
    }
  }
}

BOOST_AUTO_TEST_CASE(interrupted_grid_resumes_without_redoing_finished_runs, *wbtest::require_dataset("fashion-mnist")) {
  TempDir tmp;
  const AblationGrid g = parse_grid(tiny_grid(tmp / "grid"), "tiny.json");
  const AblationReport first = run_ablation(g, quiet());
  BOOST_TEST(first.failed.empty());
  for (const auto& r : g.runs) BOOST_TEST(first.actions.at(r.id) == "trained", r.id);
  std::map<std::string, std::map<std::string, std::pair<std::string, fs::file_time_type>>> before;
  for (const auto& r : g.runs) before[r.id] = snapshot(r.options.out_dir);
  const json results_before = read_json(tmp / "grid/results.json");

  // One run lost entirely, one interrupted after its first epoch (as Ctrl-C or a kill would leave it).
  fs::remove_all(g.run("crate/seed1").options.out_dir);
  TrainOptions cut = g.run("vit/seed0").options;
  fs::remove_all(cut.out_dir);
  cut.stop_after_epochs = 1;
  cut.progress = false;
  train(cut);
  BOOST_TEST(inspect_run(g.run("vit/seed0")).kind == RunStatus::partial);
  BOOST_TEST(inspect_run(g.run("vit/seed0")).epochs_done == 1);
  BOOST_TEST(inspect_run(g.run("crate/seed1")).kind == RunStatus::fresh);

  const AblationReport second = run_ablation(g, quiet());
  BOOST_TEST(second.actions.at("crate/seed0") == "skipped");
  BOOST_TEST(second.actions.at("vit/seed1") == "skipped");
  BOOST_TEST(second.actions.at("crate/seed1") == "trained");
  BOOST_TEST(second.actions.at("vit/seed0") == "resumed");
  for (const char* id : {"crate/seed0", "vit/seed1"}) {
    const auto now = snapshot(g.run(id).options.out_dir);
    BOOST_TEST(now.size() == before[id].size(), id);
    for (const auto& [name, content] : before[id]) {
      BOOST_TEST(now.count(name) == 1u, id << "/" << name);
      if (!now.count(name)) continue;
      BOOST_TEST((now.at(name).first == content.first), id << "/" << name << " was rewritten");
      BOOST_TEST((now.at(name).second == content.second), id << "/" << name << " was touched");
    }
  }
  // The redone and the resumed runs end with the very weights of the first pass (deterministic
  // training, bit-for-bit resume), so the table is unchanged except for the measured speed.
  for (const char* id : {"crate/seed1", "vit/seed0"}) {
    const fs::path dir = g.run(id).options.out_dir;
    BOOST_TEST((read_bytes(dir / "model.safetensors") == before[id]["model.safetensors"].first), id);
    BOOST_TEST((read_bytes(dir / "final_measure.json") == before[id]["final_measure.json"].first), id);
  }
  const json res = read_json(tmp / "grid/results.json");
  for (std::size_t i = 0; i < 2; ++i) {
    BOOST_TEST(res["variants"][i]["seeds_done"] == 2);
    for (const char* key : {"test_accuracy", "test_loss", "rc_last", "nonzero_last"})
      BOOST_TEST(res["variants"][i][key] == results_before["variants"][i][key], key);
  }

  // A third pass does nothing.
  const AblationReport third = run_ablation(g, quiet());
  for (const auto& r : g.runs) BOOST_TEST(third.actions.at(r.id) == "skipped", r.id);

  // A checkpoint whose two files are of different steps (weights of step 4, train state of step 2: a
  // damaged folder, or an older whitebox's killed between its two files) cannot be resumed
  // consistently: the run restarts and ends where it ended before.
  TrainOptions early = g.run("crate/seed0").options;
  early.out_dir = tmp / "early";
  early.stop_after_epochs = 1;
  early.progress = false;
  train(early);
  const fs::path torn = g.run("crate/seed0").options.out_dir;
  fs::copy_file(latest_checkpoint(tmp / "early")->state, latest_checkpoint(torn.string())->state,
                fs::copy_options::overwrite_existing);
  const RunStatus torn_status = inspect_run(g.run("crate/seed0"));
  BOOST_TEST(torn_status.kind == RunStatus::fresh);
  BOOST_TEST(torn_status.note.find("cut short") != std::string::npos, torn_status.note);
  const AblationReport fourth = run_ablation(g, quiet());
  BOOST_TEST(fourth.actions.at("crate/seed0") == "trained");
  BOOST_TEST(fourth.actions.at("crate/seed1") == "skipped");
  BOOST_TEST((read_bytes(torn / "model.safetensors") == before["crate/seed0"]["model.safetensors"].first));

  // Changing an option that shapes training is refused instead of mixing two experiments.
  json changed = tiny_grid(tmp / "grid");
  changed["base"]["lr"] = 0.003;
  try {
    run_ablation(parse_grid(changed, "tiny.json"), quiet());
    BOOST_FAIL("a grid whose finished runs used another lr must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("lr: 0.002 in the run, 0.003 in the grid") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(results_equal_the_runs_logs, *wbtest::require_dataset("fashion-mnist")) {
  TempDir tmp;
  json gj = tiny_grid(tmp / "grid");
  gj["seeds"] = {3, 4, 5};
  gj["variants"] = json::parse(R"([{"name": "crate"}])");
  const AblationGrid g = parse_grid(gj, "tiny.json");
  const AblationReport rep = run_ablation(g, quiet());
  BOOST_TEST(rep.failed.empty());
  const json res = read_json(tmp / "grid/results.json");
  const std::string md = read_bytes(tmp / "grid/results.md");
  const std::string csv = read_bytes(tmp / "grid/results.csv");
  const auto& v = res["variants"][0];
  BOOST_TEST(v["name"] == "crate");

  // Recomputed from each run's metrics.jsonl and final weights.
  std::vector<double> acc, loss, speed, rc, nonzero;
  for (const auto& r : g.runs) {
    const fs::path dir = r.options.out_dir;
    const auto epochs = logged_epochs(dir / "metrics.jsonl");
    BOOST_TEST(epochs.size() == 2u);
    acc.push_back(epochs.back()["test_accuracy"].get<double>());
    loss.push_back(epochs.back()["test_loss"].get<double>());
    speed.push_back(mean({epochs[0]["images_per_second"].get<double>(), epochs[1]["images_per_second"].get<double>()}));
    // The last layer's compression and sparsity, measured again from model.safetensors.
    auto test = std::make_shared<data::Dataset>(data::load_dataset("fashion-mnist", "", data::Split::test));
    *test = test->subset(0, 24);
    data::LoaderOptions lo;
    lo.batch_size = 128;
    lo.normalization = data::dataset_info("fashion-mnist").normalization;
    data::Loader loader(std::shared_ptr<const data::Dataset>(test), data::eval_options(lo));
    const Measurement m = measure(*load_model((dir / "model.safetensors").string()), loader, "again");
    BOOST_TEST(m.images == 24);
    rc.push_back(m.layers.back().values.at("rc_in").mean);
    nonzero.push_back(m.layers.back().values.at("nonzero").mean);
  }
  auto check = [&](const char* key, const std::vector<double>& x) {
    BOOST_TEST(close(v[key]["mean"].get<double>(), mean(x)), key << " mean " << v[key]["mean"] << " vs " << mean(x));
    BOOST_TEST(close(v[key]["std"].get<double>(), sample_std(x)),
               key << " std " << v[key]["std"] << " vs " << sample_std(x));
    BOOST_TEST(v[key]["n"] == 3);
  };
  check("test_accuracy", acc);
  check("test_loss", loss);
  check("images_per_second", speed);
  check("rc_last", rc);
  check("nonzero_last", nonzero);
  BOOST_TEST(sample_std(acc) >= 0.0);
  // The table shows the same numbers, rounded.
  auto ms = [](const std::vector<double>& x) {
    return MeanStd{mean(x), sample_std(x), static_cast<std::int64_t>(x.size())};
  };
  BOOST_TEST(md_cell(md, "crate", 3) == "3/3");
  BOOST_TEST(md_cell(md, "crate", 4) == format_cell(ms(acc), 2, 100.0));
  BOOST_TEST(md_cell(md, "crate", 5) == format_cell(ms(loss), 4));
  BOOST_TEST(md_cell(md, "crate", 6) == format_cell(ms(speed), 0));
  BOOST_TEST(md_cell(md, "crate", 7) == format_cell(ms(rc), 2));
  BOOST_TEST(md_cell(md, "crate", 8) == format_cell(ms(nonzero), 4));
  BOOST_TEST(format_cell(MeanStd{0.85312, 0.0042, 2}, 2, 100.0) == "85.31 ± 0.42");
  // Parameters: the model actually built, not only the closed form.
  const CrateModel built(g.variants[0].config);
  BOOST_TEST(v["parameters"] == built.parameter_count());
  const std::string digits = std::to_string(built.parameter_count());
  std::string count;  // thousands separated by commas
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) count.push_back(',');
    count.push_back(digits[i]);
  }
  BOOST_TEST(md_cell(md, "crate", 2) == count);
  // The CSV row: 8 significant digits.
  const std::string row = csv.substr(csv.find("\ncrate,") + 1);
  std::vector<double> fields;
  std::stringstream rs(row.substr(0, row.find('\n')));
  std::string field;
  std::getline(rs, field, ',');
  while (std::getline(rs, field, ',')) fields.push_back(std::stod(field));
  BOOST_TEST(fields.size() == 12u);
  BOOST_TEST(close(fields[2], mean(acc), 1e-7));
  BOOST_TEST(close(fields[3], sample_std(acc), 1e-7));
  BOOST_TEST(close(fields[8], mean(rc), 1e-7));
  // Per-epoch curve of the accuracy plot.
  for (std::size_t e = 0; e < 2; ++e) {
    std::vector<double> at_e;
    for (const auto& r : g.runs)
      at_e.push_back(logged_epochs(fs::path(r.options.out_dir) / "metrics.jsonl")[e]["test_accuracy"].get<double>());
    BOOST_TEST(close(v["test_accuracy_by_epoch"][e]["mean"].get<double>(), mean(at_e)));
  }
}

BOOST_AUTO_TEST_CASE(child_processes_run_at_most_jobs_at_once) {
  TempDir tmp;
  const std::string d = tmp.path().string();
  std::vector<ChildCommand> cmds;
  for (int i = 0; i < 5; ++i)
    cmds.push_back({{"/bin/sh", "-c",
                     fmt::format("mkdir {0}/running.{1}; ls {0} | grep -c running > {0}/count.{1}; sleep 0.4; "
                                 "rmdir {0}/running.{1}; echo out{1}; exit {2}",
                                 d, i, i % 3)},
                    tmp / fmt::format("log.{}", i)});
  std::vector<std::size_t> order;
  const auto status = run_processes(cmds, 2, [&](std::size_t i, int) { order.push_back(i); });
  BOOST_TEST((status == std::vector<int>{0, 1, 2, 0, 1}));
  BOOST_TEST(order.size() == 5u);
  int most = 0;
  for (int i = 0; i < 5; ++i) {
    BOOST_TEST(read_bytes(tmp / fmt::format("log.{}", i)) == fmt::format("out{}\n", i));
    most = std::max(most, std::stoi(read_bytes(tmp / fmt::format("count.{}", i))));
  }
  BOOST_TEST(most == 2);  // two at once, never three

  // A stop request: nothing new starts, the running commands get SIGINT.
  std::atomic<bool> stop{false};
  const auto t0 = std::chrono::steady_clock::now();
  const auto stopped = run_processes(
      {{{"/bin/sh", "-c", "exit 0"}, tmp / "s0"},
       {{"/bin/sh", "-c", "exec sleep 20"}, tmp / "s1"},
       {{"/bin/sh", "-c", "echo never"}, tmp / "s2"}},
      2, [&](std::size_t, int) { stop = true; }, &stop);
  BOOST_TEST((stopped == std::vector<int>{0, 130, -1}));
  BOOST_TEST(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 10.0);
  BOOST_TEST(!fs::exists(tmp / "s2"));
  BOOST_CHECK_THROW(run_processes({{{"/nonexistent/program"}, tmp / "x"}}, 1, nullptr), std::runtime_error);
}

BOOST_AUTO_TEST_SUITE_END()
