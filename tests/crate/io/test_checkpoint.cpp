// safetensors files and model checkpoints: round trip, strict loading, corrupt and truncated files,
// atomic writes.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "crate/io/atomic_file.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/models/registry.hpp"
#include "crate/io/safetensors.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::mini28_config;  // crate-mini-28 at d 8, 2 layers of 2 heads of 4
using wbtest::read_bytes;
using wbtest::write_bytes;
using wbtest::TempDir;
namespace fs = std::filesystem;

namespace {

void expect_error(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    BOOST_FAIL("expected an error mentioning '" << needle << "'");
  } catch (const std::exception& e) {
    BOOST_TEST(std::string(e.what()).find(needle) != std::string::npos, e.what());
  }
}

// A safetensors file with this JSON header and no tensors.
std::string raw_safetensors(const std::string& header) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  return out + header;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(checkpoint)

BOOST_AUTO_TEST_CASE(metadata_of_the_wrong_json_type_is_named) {
  TempDir dir;
  const std::string arr = dir / "arr.safetensors", num = dir / "num.safetensors", entry = dir / "entry.safetensors";
  write_bytes(arr, raw_safetensors(R"({"__metadata__": []})"));
  write_bytes(num, raw_safetensors(R"({"__metadata__": 3})"));
  write_bytes(entry, raw_safetensors(R"({"__metadata__": {"x": 3}})"));
  expect_error([&] { (void)read_safetensors(arr); }, arr + ": '__metadata__' must be a JSON object");
  expect_error([&] { (void)read_safetensors(num); }, num + ": '__metadata__' must be a JSON object");
  expect_error([&] { (void)read_safetensors(entry); }, entry + ": metadata entry 'x' is not a string");

  const std::string field = dir / "field.safetensors", list = dir / "list.safetensors";
  write_bytes(field, raw_safetensors(R"({"__metadata__": {"whitebox.config": "{\"dim\": \"wide\"}"}})"));
  write_bytes(list, raw_safetensors(R"({"__metadata__": {"whitebox.config": "[]"}})"));
  expect_error([&] { (void)checkpoint_config(field); }, field + ": bad 'whitebox.config' metadata");
  expect_error([&] { (void)checkpoint_config(field); }, "key 'dim' has the wrong type");
  expect_error([&] { (void)checkpoint_config(list); }, "expected a JSON object, got array");
}

BOOST_AUTO_TEST_CASE(safetensors_round_trip_and_layout) {
  TempDir dir;
  const Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = prim::transpose(Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}), 0, 1);  // strided
  const Tensor c = Tensor::from_vector(std::vector<std::int64_t>{7, -8}, {2});
  write_safetensors(dir / "t.safetensors", {{"a", a}, {"b", b}, {"c", c}}, {{"k", "v"}});
  const auto st = read_safetensors(dir / "t.safetensors");
  BOOST_TEST(st.tensors.size() == 3u);
  BOOST_TEST(st.metadata.at("k") == "v");
  BOOST_TEST(wbtest::allclose(*st.find("a"), a, 0, 0));
  BOOST_TEST(wbtest::allclose(*st.find("b"), {1, 3, 2, 4}, 0, 0));
  BOOST_TEST((st.find("c")->to_vector<std::int64_t>() == std::vector<std::int64_t>{7, -8}));
  // The header is little-endian u64 length + JSON; the data section starts 8-byte aligned and holds
  // the raw little-endian values in order.
  const std::string bytes = read_bytes(dir / "t.safetensors");
  std::uint64_t hl = 0;
  for (int i = 0; i < 8; ++i) hl |= static_cast<std::uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  BOOST_TEST((8 + hl) % 8 == 0);
  BOOST_TEST(bytes.substr(8, hl).find("\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}") != std::string::npos,
             bytes.substr(8, hl));
  float first = 0;
  std::memcpy(&first, bytes.data() + 8 + hl, 4);
  BOOST_TEST(first == 1.0f);
}

BOOST_AUTO_TEST_CASE(model_round_trip_is_exact) {
  TempDir dir;
  const CrateModel m(mini28_config());
  save_model(dir / "m.safetensors", m);
  const auto loaded = load_model(dir / "m.safetensors");
  const auto pa = m.named_parameters(), pb = loaded->named_parameters();
  BOOST_TEST(pa.size() == pb.size());
  bool same = true;
  for (std::size_t i = 0; i < pa.size(); ++i)
    same = same && pa[i].first == pb[i].first && pa[i].second.to_vector<float>() == pb[i].second.to_vector<float>();
  BOOST_TEST(same);
  const Tensor x = wbtest::randn({2, 1, 28, 28}, 5, DType::f32);
  BOOST_TEST((m.forward(x).to_vector<float>() == loaded->forward(x).to_vector<float>()));
}

BOOST_AUTO_TEST_CASE(strict_loading_names_every_problem) {
  TempDir dir;
  const CrateModel m(mini28_config());
  auto params = m.named_parameters();
  // drop one tensor, reshape another, add an unexpected one
  std::vector<std::pair<std::string, Tensor>> edited;
  for (auto& [name, t] : params) {
    if (name == "cls_token") continue;
    if (name == "mlp_head.1.bias") {
      edited.emplace_back(name, Tensor::zeros({11}));
      continue;
    }
    edited.emplace_back(name, t.detach());
  }
  edited.emplace_back("transformer.layers.9.1.fn.weight", Tensor::zeros({8, 8}));
  const std::map<std::string, std::string> meta{{"whitebox.config", to_json(m.config()).dump()}};
  write_safetensors(dir / "bad.safetensors", edited, meta);
  try {
    (void)load_model(dir / "bad.safetensors");
    BOOST_FAIL("a mismatched file must not load");
  } catch (const std::runtime_error& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find("missing 'cls_token'") != std::string::npos, msg);
    BOOST_TEST(msg.find("'mlp_head.1.bias' is [11]") != std::string::npos, msg);
    BOOST_TEST(msg.find("unexpected 'transformer.layers.9.1.fn.weight'") != std::string::npos, msg);
  }
  // A file without whitebox metadata (as PyTorch writes) loads when the config is named.
  write_safetensors(dir / "plain.safetensors", [&] {
    std::vector<std::pair<std::string, Tensor>> v;
    for (auto& [name, t] : params) v.emplace_back(name, t.detach());
    return v;
  }());
  expect_error([&] { (void)load_model(dir / "plain.safetensors"); }, "name the model configuration");
  BOOST_TEST(load_model(dir / "plain.safetensors", mini28_config())->parameter_count() == m.parameter_count());
}

BOOST_AUTO_TEST_CASE(corrupt_and_truncated_files_are_reported) {
  TempDir dir;
  const CrateModel m(mini28_config());
  save_model(dir / "m.safetensors", m);
  const std::string good = read_bytes(dir / "m.safetensors");
  expect_error([&] { (void)read_safetensors(dir / "missing.safetensors"); }, "missing.safetensors: cannot open");
  write_bytes(dir / "short.safetensors", good.substr(0, 5));
  expect_error([&] { (void)read_safetensors(dir / "short.safetensors"); }, "8-byte header length");
  write_bytes(dir / "trunc.safetensors", good.substr(0, good.size() - 100));
  expect_error([&] { (void)read_safetensors(dir / "trunc.safetensors"); }, "truncated");
  std::string json_broken = good;
  json_broken[8] = '#';  // the header's opening brace
  write_bytes(dir / "json.safetensors", json_broken);
  expect_error([&] { (void)read_safetensors(dir / "json.safetensors"); }, "not valid JSON");
  std::string huge = good;
  huge[7] = 0x7f;  // header length far beyond the file
  write_bytes(dir / "huge.safetensors", huge);
  expect_error([&] { (void)read_safetensors(dir / "huge.safetensors"); }, "does not fit");
}

BOOST_AUTO_TEST_CASE(writes_are_atomic) {
  TempDir dir;
  write_file_atomic(dir / "f.txt", "first");
  write_file_atomic(dir / "f.txt", "second");
  BOOST_TEST(read_bytes(dir / "f.txt") == "second");
  std::size_t files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  BOOST_TEST(files == 1u);  // no temporary left behind
  expect_error([&] { write_file_atomic("/nonexistent-dir/x.safetensors", "x"); }, "/nonexistent-dir/x.safetensors");
}

BOOST_AUTO_TEST_SUITE_END()
