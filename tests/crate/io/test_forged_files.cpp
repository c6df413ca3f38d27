// Forged checkpoints: memory is bounded by the file. A small header declaring huge shapes, offsets that
// overlap or leave gaps, and a config larger than the tensors are refused with the file and the field
// named, before anything large is allocated.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "crate/io/checkpoint.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/models/registry.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/support/files.hpp"
#include "tests/support/memory.hpp"

using namespace wb;
using namespace wb::crate;
using wbtest::TempDir;
using wbtest::write_bytes;

namespace {

void expect_forged_error(const std::function<void()>& f, const std::vector<std::string>& needles) {
  try {
    f();
    BOOST_FAIL("expected an error mentioning '" << needles.front() << "'");
  } catch (const std::runtime_error& e) {
    for (const auto& n : needles) BOOST_TEST(std::string(e.what()).find(n) != std::string::npos, e.what());
  }
}

// A safetensors file: this JSON header (padded with spaces to 8 bytes), then `data` bytes of zeros.
std::string forged_safetensors(const nlohmann::json& header, std::size_t data = 0) {
  std::string h = header.dump();
  while (h.size() % 8 != 0) h.push_back(' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((h.size() >> (8 * i)) & 0xff);
  return out + h + std::string(data, '\0');
}

nlohmann::json f32_entry(nlohmann::json shape, std::uint64_t begin, std::uint64_t end) {
  return {{"dtype", "F32"}, {"shape", std::move(shape)}, {"data_offsets", {begin, end}}};
}

constexpr std::int64_t kFewMegabytes = 8 << 20;

}  // namespace

BOOST_AUTO_TEST_SUITE(forged_files)

BOOST_AUTO_TEST_CASE(a_small_file_with_a_huge_config_is_refused_before_the_model_is_built) {
  TempDir dir;
  // ~500 bytes: one 4-float tensor and a config of crate-large width at a million layers (~10^13
  // parameters, 40 TB); the other, sizes whose parameter count does not fit in 64 bits.
  CrateConfig huge = named_config("crate-large");
  huge.depth = 1000000;
  CrateConfig overflow = named_config("crate-mini-28");
  overflow.dim = std::int64_t{1} << 40;
  overflow.heads = 1;
  overflow.dim_head = std::int64_t{1} << 40;
  for (const auto& [name, cfg] : {std::pair{"huge", huge}, std::pair{"overflow", overflow}}) {
    const std::string path = dir / (std::string(name) + ".safetensors");
    nlohmann::json h = {{"__metadata__", {{"whitebox.config", to_json(cfg).dump()}}}, {"w", f32_entry({4}, 0, 16)}};
    write_bytes(path, forged_safetensors(h, 16));
    BOOST_TEST(std::filesystem::file_size(path) < 1024u);
    expect_forged_error([&] { (void)load_model(path); },
                        {path, "'whitebox.config' metadata", "the file holds only 4 values in 1 tensors",
                         "checked before building the model"});
    const std::int64_t peak = wbtest::peak_memory_growth([&] { (void)load_model(path); });
    BOOST_TEST(peak < kFewMegabytes, name << ": peak memory growth " << peak << " bytes");
  }
  // A config given by the caller (--model) is checked the same way.
  const std::string small = dir / "small.safetensors";
  write_bytes(small, forged_safetensors({{"w", f32_entry({4}, 0, 16)}}, 16));
  expect_forged_error([&] { (void)load_model(small, named_config("crate-large")); },
                      {small, "'crate-large', given by the caller", "holds only 4 values"});
  // The parameter count itself says when it overflows.
  BOOST_CHECK_THROW(count_parameters(overflow), std::overflow_error);
}

BOOST_AUTO_TEST_CASE(a_config_that_fits_still_gets_the_per_tensor_report) {
  // Not larger than the file: the model is built (no more memory than the file) and the strict load
  // names what differs.
  TempDir dir;
  const CrateModel m(wbtest::mini28_config());
  CrateConfig other = m.config();
  other.num_classes = 9;
  save_model(dir / "m.safetensors", m);
  expect_forged_error([&] { (void)load_model(dir / "m.safetensors", other); },
                      {"'mlp_head.1.bias' is [10] in the file, the model needs [9]"});
}

BOOST_AUTO_TEST_CASE(safetensors_offsets_must_tile_the_data_section) {
  TempDir dir;
  const std::string overlap = dir / "overlap.safetensors", gap = dir / "gap.safetensors",
                    tail = dir / "tail.safetensors", dup = dir / "dup.safetensors";
  write_bytes(overlap, forged_safetensors({{"a", f32_entry({4}, 0, 16)}, {"b", f32_entry({4}, 8, 24)}}, 24));
  write_bytes(gap, forged_safetensors({{"a", f32_entry({2}, 0, 8)}, {"b", f32_entry({2}, 12, 20)}}, 20));
  write_bytes(tail, forged_safetensors({{"a", f32_entry({2}, 0, 8)}}, 12));
  expect_forged_error([&] { (void)read_safetensors(overlap); },
                      {overlap, "tensor 'b' (data_offsets [8, 24]) overlaps tensor 'a' (data_offsets [0, 16])"});
  expect_forged_error([&] { (void)read_safetensors(gap); }, {gap, "bytes [8, 12) of the data section belong to no "
                                                                  "tensor (a gap before tensor 'b')"});
  expect_forged_error([&] { (void)read_safetensors(tail); }, {tail, "cover 8 of the 12 bytes", "4 bytes at the end"});
  // A thousand names on the same 256 KB: ~290 KB of file that would cost 256 MB if each were loaded.
  nlohmann::json h = nlohmann::json::object();
  for (int i = 0; i < 1000; ++i) h[fmt::format("t{}", i)] = f32_entry({65536}, 0, 262144);
  write_bytes(dup, forged_safetensors(h, 262144));
  expect_forged_error([&] { (void)read_safetensors(dup); }, {dup, "overlaps"});
  const std::int64_t peak = wbtest::peak_memory_growth([&] { (void)read_safetensors(dup); });
  BOOST_TEST(peak < kFewMegabytes, "peak memory growth " << peak << " bytes");
  // Zero-size tensors take no bytes and may sit anywhere in the tiling; files whitebox writes tile.
  const std::string empty = dir / "empty.safetensors";
  write_bytes(empty, forged_safetensors({{"a", f32_entry({2}, 0, 8)}, {"z", f32_entry({0, 3}, 8, 8)}}, 8));
  BOOST_TEST(read_safetensors(empty).tensors.size() == 2u);
}

BOOST_AUTO_TEST_CASE(huge_or_malformed_shapes_name_the_field) {
  TempDir dir;
  const std::string big = dir / "big.safetensors", neg = dir / "neg.safetensors", frac = dir / "frac.safetensors",
                    offs = dir / "offs.safetensors", type = dir / "type.safetensors";
  const std::uint64_t two32 = std::uint64_t{1} << 32;
  write_bytes(big, forged_safetensors({{"a", f32_entry({two32, two32}, 0, 0)}}));  // 2^64 elements
  write_bytes(neg, forged_safetensors({{"a", f32_entry({-1, 4}, 0, 0)}}));
  write_bytes(frac, forged_safetensors({{"a", f32_entry({1.5}, 0, 0)}}));
  write_bytes(offs, forged_safetensors({{"a", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {-4, 0}}}}}));
  write_bytes(type, forged_safetensors({{"a", {{"dtype", 32}, {"shape", {1}}, {"data_offsets", {0, 4}}}}}, 4));
  expect_forged_error([&] { (void)read_safetensors(big); },
                      {big, "tensor 'a': field 'shape' [4294967296, 4294967296] f32 has more bytes than fit in 64 bits"});
  expect_forged_error([&] { (void)read_safetensors(neg); }, {neg, "tensor 'a': field 'shape' holds -1"});
  expect_forged_error([&] { (void)read_safetensors(frac); }, {frac, "tensor 'a': field 'shape' holds 1.5"});
  expect_forged_error([&] { (void)read_safetensors(offs); }, {offs, "tensor 'a': field 'data_offsets' is [-4,0]"});
  expect_forged_error([&] { (void)read_safetensors(type); }, {type, "tensor 'a': field 'dtype' is a JSON number"});
  // 2^32 x 2^30 floats is 2^64 bytes: the byte count overflows even though the element count fits.
  const std::string bytes = dir / "bytes.safetensors";
  write_bytes(bytes, forged_safetensors({{"a", f32_entry({two32, std::uint64_t{1} << 30}, 0, 0)}}));
  expect_forged_error([&] { (void)read_safetensors(bytes); }, {bytes, "more bytes than fit in 64 bits"});
}

BOOST_AUTO_TEST_SUITE_END()
