// Parameter counts of the named configurations against crate-spec §1.5, and the state_dict layout
// against spec Appendix B.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "crate/models/registry.hpp"
#include "crate/models/vision/classifier.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(imagenet_parameter_counts_equal_the_paper) {
  // crate-spec §1.5 (recomputed from the official code, equal to the papers' table).
  BOOST_TEST(count_parameters(named_config("crate-tiny")) == 6090856);
  BOOST_TEST(count_parameters(named_config("crate-small")) == 13116328);
  BOOST_TEST(count_parameters(named_config("crate-base")) == 22796008);
  BOOST_TEST(count_parameters(named_config("crate-large")) == 77641192);
  // ViT baselines of the same harness: 5.72 M and 22.05 M in the paper's table.
  BOOST_TEST(count_parameters(named_config("vit-tiny")) == 5719336);
  BOOST_TEST(count_parameters(named_config("vit-small")) == 22052968);
}

BOOST_AUTO_TEST_CASE(tost_parameter_counts) {
  // crate-mini-28's 176,682 = 7,914 outside the layers + 6 x 28,128. A ToST layer at d 96, K 4, p 24:
  // LNs 384; TSSA U 9,216 + bias 96 + temp 4 + W_o 9,216 + b_o 96 = 18,628; MLP 96 x 384 + 384 + 384 x 96
  // + 96 = 74,208; LayerScale 2 x 96 = 192: 93,412, so 7,914 + 6 x 93,412 = 568,386. CRATE with TSSA
  // (ISTA kept): 384 + 18,628 + 9,216 = 28,228 per layer, 177,282 in all.
  BOOST_TEST(count_parameters(named_config("crate-mini-28")) == 176682);
  BOOST_TEST(count_parameters(named_config("tost-mini-28")) == 568386);
  CrateConfig c = named_config("crate-mini-28");
  c.attention = AttentionKind::tssa;
  BOOST_TEST(count_parameters(c) == 177282);
  for (const CrateConfig& built : {named_config("tost-mini-28"), named_config("tost-mini-32"), c}) {
    const CrateModel m(built);
    BOOST_TEST(m.parameter_count() == count_parameters(built), built.name);
  }
  // LayerScale needs a residual around the second block
  CrateConfig bad = named_config("crate-mini-28");
  bad.layer_scale = 1.0;
  BOOST_CHECK_THROW(bad.validate(), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(built_models_have_the_closed_form_count) {
  // Building crate-tiny allocates 6.09 M floats: small enough for a test, and it checks that the
  // module tree registers exactly what the closed form counts.
  for (const char* name : {"crate-tiny", "crate-mini-28", "crate-mini-32", "vit-mini-28"}) {
    const CrateModel m(named_config(name));
    BOOST_TEST(m.parameter_count() == count_parameters(m.config()), name);
  }
  CrateConfig v = named_config("crate-mini-28");
  for (auto set : std::vector<std::function<void(CrateConfig&)>>{
           [](CrateConfig& c) { c.output_map = OutputMap::paper; },
           [](CrateConfig& c) { c.learnable_ista = true; },
           [](CrateConfig& c) { c.dictionary = Dictionary::overcomplete; },
           [](CrateConfig& c) { c.attention = AttentionKind::standard; },
           [](CrateConfig& c) { c.mlp = MlpKind::mlp; },
           [](CrateConfig& c) { c.mlp = MlpKind::none; },  // attention only: one LayerNorm, no ISTA
           [](CrateConfig& c) { c.output_map = OutputMap::transposed; },  // no W_o, b_o
           [](CrateConfig& c) { c.mssa_sign = MssaSign::minus; },
           [](CrateConfig& c) {  // one head as wide as the model: no output projection (nn.Identity)
             c.heads = 1;
             c.dim_head = c.dim;
           }}) {
    CrateConfig c = v;
    set(c);
    const CrateModel m(c);
    BOOST_TEST(m.parameter_count() == count_parameters(c));
  }
}

BOOST_AUTO_TEST_CASE(state_dict_names_and_shapes_follow_the_official_layout) {
  CrateConfig c = named_config("crate-mini-28");
  c.depth = 2;
  const CrateModel m(c);
  std::map<std::string, Shape> got;
  for (auto& [name, t] : m.named_parameters()) got[name] = t.shape();
  const std::int64_t d = 96, dp = 16, n = 50;
  std::map<std::string, Shape> want{
      {"pos_embedding", {1, n, d}},
      {"cls_token", {1, 1, d}},
      {"to_patch_embedding.1.weight", {dp}},
      {"to_patch_embedding.1.bias", {dp}},
      {"to_patch_embedding.2.weight", {d, dp}},
      {"to_patch_embedding.2.bias", {d}},
      {"to_patch_embedding.3.weight", {d}},
      {"to_patch_embedding.3.bias", {d}},
      {"mlp_head.0.weight", {d}},
      {"mlp_head.0.bias", {d}},
      {"mlp_head.1.weight", {10, d}},
      {"mlp_head.1.bias", {10}},
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = "transformer.layers." + std::to_string(l);
    want[p + ".0.norm.weight"] = {d};
    want[p + ".0.norm.bias"] = {d};
    want[p + ".0.fn.qkv.weight"] = {d, d};
    want[p + ".0.fn.to_out.0.weight"] = {d, d};
    want[p + ".0.fn.to_out.0.bias"] = {d};
    want[p + ".1.norm.weight"] = {d};
    want[p + ".1.norm.bias"] = {d};
    want[p + ".1.fn.weight"] = {d, d};
  }
  BOOST_TEST(got.size() == want.size());
  for (auto& [name, shape] : want) {
    BOOST_TEST(got.count(name) == 1, "missing " << name);
    if (got.count(name)) BOOST_TEST((got[name] == shape), name);
  }
}

BOOST_AUTO_TEST_CASE(bad_configs_are_refused_with_the_field_named) {
  CrateConfig c = named_config("crate-mini-28");
  c.patch_size = 5;
  try {
    c.validate();
    BOOST_FAIL("patch 5 on 28x28 must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("patch_size") != std::string::npos, e.what());
  }
  BOOST_CHECK_THROW(named_config("crate-huge"), std::invalid_argument);
  nlohmann::json j = to_json(named_config("crate-mini-28"));
  j["pool"] = "max";
  try {
    (void)config_from_json(j);
    BOOST_FAIL("pool 'max' must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("pool must be 'cls' or 'mean', got 'max'") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(json_round_trip) {
  CrateConfig c = named_config("crate-mini-32");
  c.eta = 0.2;
  c.learnable_ista = true;
  const CrateConfig r = config_from_json(to_json(c));
  BOOST_TEST(to_json(r).dump() == to_json(c).dump());
  CrateConfig t = named_config("tost-mini-28");
  t.tssa_form = ops::TssaForm::paper;
  t.layer_scale = 0.25;
  const nlohmann::json tj = to_json(t);
  BOOST_TEST(tj.at("attention") == "tssa");
  BOOST_TEST(tj.at("tssa_form") == "paper");
  BOOST_TEST(to_json(config_from_json(tj)).dump() == tj.dump());
  nlohmann::json bad = tj;
  bad["tssa_form"] = "exact";
  BOOST_CHECK_THROW(config_from_json(bad), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
