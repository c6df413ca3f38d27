// Text model checkpoints: save and load round trip, and files in the official layout (with the
// attn.bias mask buffers and the tied lm_head.weight) load strictly; bad files are named. Models with
// attention tssa round trip, record it in their config, and do not load an MSSA file (or the reverse).
#include <boost/test/unit_test.hpp>

#include "crate/io/text_checkpoint.hpp"
#include "crate/models/registry.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

template <class F>
void expect_text_ckpt_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    BOOST_ERROR("expected an error containing '" << parts.front() << "'");
  } catch (const std::runtime_error& e) {
    for (const auto& p : parts) BOOST_TEST(std::string(e.what()).find(p) != std::string::npos, "'" << p << "' not in: " << e.what());
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(text_checkpoint)

BOOST_AUTO_TEST_CASE(round_trip_and_official_layout) {
  wbtest::TempDir dir;
  for (const char* name : {"crate-gpt-tiny", "crate-lm-tiny", "gpt2-tiny"}) {
    Generator g(3);
    const auto m = make_text_model(named_text_config(name), g);
    const std::string path = dir / (std::string(name) + ".safetensors");
    save_text_model(path, *m);
    const auto back = load_text_model(path);
    const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 5, 7, 2}, {1, 4});
    BOOST_TEST(wbtest::allclose(back->forward(ids), m->forward(ids), 0, 0), name);
  }
  // The official state dict: plus attn.bias buffers and lm_head.weight (= wte).
  Generator g(4);
  const TextConfig c = named_text_config("crate-gpt-tiny");
  const auto m = make_text_model(c, g);
  NamedTensors official = m->named_parameters();
  for (std::int64_t i = 0; i < c.depth; ++i)
    official.emplace_back(fmt::format("transformer.h.{}.attn.bias", i), Tensor::ones({1, 1, c.block_size, c.block_size}, DType::f32));
  official.emplace_back("lm_head.weight", prim::clone(official.front().second));
  write_safetensors(dir / "official.safetensors", official);
  Generator g2(5);
  auto fresh = make_text_model(c, g2);
  const LoadReport r = load_text_weights(*fresh, read_safetensors(dir / "official.safetensors"), "official.safetensors");
  BOOST_TEST(r.loaded == static_cast<std::int64_t>(m->named_parameters().size()));
  const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{3, 9}, {1, 2});
  BOOST_TEST(wbtest::allclose(fresh->forward(ids), m->forward(ids), 0, 0));
  // An untied head, an unexpected tensor, a missing one: named.
  NamedTensors untied = official;
  untied.back().second = prim::clone(untied.back().second);
  prim::fill_(untied.back().second, 0.5);
  write_safetensors(dir / "untied.safetensors", untied);
  expect_text_ckpt_error([&] { load_text_weights(*fresh, read_safetensors(dir / "untied.safetensors"), "untied.safetensors"); },
                         {"untied.safetensors", "lm_head.weight"});
  NamedTensors extra = official;
  extra.emplace_back("transformer.h.0.attn.extra", Tensor::ones({2}, DType::f32));
  write_safetensors(dir / "extra.safetensors", extra);
  expect_text_ckpt_error([&] { load_text_weights(*fresh, read_safetensors(dir / "extra.safetensors"), "extra.safetensors"); },
                         {"unexpected 'transformer.h.0.attn.extra'"});
  NamedTensors missing(official.begin() + 1, official.end() - 1);  // no wte and no head
  write_safetensors(dir / "missing.safetensors", missing);
  expect_text_ckpt_error([&] { load_text_weights(*fresh, read_safetensors(dir / "missing.safetensors"), "missing.safetensors"); },
                         {"missing 'transformer.wte.weight'"});
  // A vocabulary that disagrees with the model: wte's shape is named.
  TextConfig other = c;
  other.vocab_size = c.vocab_size + 1;
  Generator g3(6);
  auto wider = make_text_model(other, g3);
  expect_text_ckpt_error([&] { load_text_weights(*wider, read_safetensors(dir / "official.safetensors"), "official.safetensors"); },
                         {"transformer.wte.weight", "513"});
  expect_text_ckpt_error([&] { (void)load_text_model(dir / "official.safetensors"); }, {"no whitebox.text_config"});
}

BOOST_AUTO_TEST_CASE(tssa_round_trip_and_mismatches) {
  wbtest::TempDir dir;
  for (const char* name : {"crate-gpt-tiny", "crate-lm-tiny"}) {
    TextConfig c = named_text_config(name);
    c.attention = AttentionKind::tssa;
    Generator g(3);
    const auto m = make_text_model(c, g);
    // trained-looking temp and denom_bias, so the round trip carries values other than their init
    for (auto& [n, p] : m->named_parameters())
      if (n.ends_with(".temp") || n.ends_with(".denom_bias")) prim::fill_(p, n.ends_with(".temp") ? 1.7 : -0.3);
    const std::string path = dir / (std::string(name) + "-tssa.safetensors");
    save_text_model(path, *m);
    const auto back = load_text_model(path);
    BOOST_TEST((back->config().attention == AttentionKind::tssa), name);
    const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 5, 7, 2}, {1, 4});
    BOOST_TEST(wbtest::allclose(back->forward(ids), m->forward(ids), 0, 0), name);
    // An MSSA model of the same sizes refuses the TSSA file, naming the extra tensor, and the reverse
    TextConfig plain = c;
    plain.attention = AttentionKind::mssa;
    Generator g2(4);
    auto mssa = make_text_model(plain, g2);
    expect_text_ckpt_error([&] { load_text_weights(*mssa, read_safetensors(path), path); },
                           {"unexpected 'transformer.h.0.attn.temp'"});
    const std::string mssa_path = dir / (std::string(name) + "-mssa.safetensors");
    save_text_model(mssa_path, *mssa);
    Generator g3(5);
    auto tssa = make_text_model(c, g3);
    expect_text_ckpt_error([&] { load_text_weights(*tssa, read_safetensors(mssa_path), mssa_path); },
                           {"missing 'transformer.h.0.attn.temp'"});
    BOOST_TEST((load_text_model(mssa_path)->config().attention == AttentionKind::mssa));
  }
  // The config's JSON: attention read back; tssa on gpt2 and an unknown name are refused, naming the field.
  TextConfig c = named_text_config("crate-gpt-tiny");
  c.attention = AttentionKind::tssa;
  BOOST_TEST((parse_text_config_json(text_config_json(c), "x").attention == AttentionKind::tssa));
  TextConfig gpt = named_text_config("gpt2-tiny");
  BOOST_TEST(text_config_json(gpt).find("\"attention\":\"standard\"") != std::string::npos);
  BOOST_TEST((parse_text_config_json(text_config_json(gpt), "x").attention_kind() == AttentionKind::standard));
  std::string j = text_config_json(gpt);
  j.replace(j.find("\"standard\""), 10, "\"tssa\"");
  expect_text_ckpt_error([&] { (void)parse_text_config_json(j, "forged.safetensors"); },
                         {"forged.safetensors", "not supported on the GPT-2 baseline"});
  std::string k = text_config_json(c);
  k.replace(k.find("\"tssa\""), 6, "\"linear\"");
  expect_text_ckpt_error([&] { (void)parse_text_config_json(k, "forged.safetensors"); }, {"forged.safetensors", "attention"});
}

BOOST_AUTO_TEST_SUITE_END()
