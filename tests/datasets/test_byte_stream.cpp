// ByteStream: plain and gzip files read alike; several gzip members read as their concatenation; data
// after a member that is not another member, corrupt data and a cut-off member are errors naming the
// file.
#include <boost/test/unit_test.hpp>

#include "datasets/byte_stream.hpp"
#include "datasets/idx.hpp"
#include "tensor/tensor.hpp"
#include "tests/datasets/files.hpp"
#include "tests/support/memory.hpp"

using namespace wb::data;
using wbtest::Bytes;
using wbtest::check_error;
using wbtest::TempDir;

BOOST_AUTO_TEST_SUITE(byte_stream)

namespace {
Bytes counting_bytes(std::size_t n, int mul) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>((i * mul) % 251);
  return b;
}

Bytes read_all(const std::string& path) {
  ByteStream in(path);
  Bytes out;
  Bytes buf(1000);  // not a multiple of anything, so reads straddle member boundaries
  for (;;) {
    const std::size_t got = in.read(buf.data(), buf.size());
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got));
    if (got < buf.size()) return out;
  }
}

void write_raw(const std::string& path, const Bytes& b) { wbtest::write_file(path, b, false); }
}  // namespace

BOOST_AUTO_TEST_CASE(plain_gzip_and_concatenated_members_read_alike) {
  TempDir dir;
  const Bytes a = counting_bytes(300000, 7), b = counting_bytes(5000, 3);
  write_raw(dir / "plain", wbtest::concat(a, b));
  write_raw(dir / "one.gz", wbtest::gzip_member(wbtest::concat(a, b)));
  write_raw(dir / "two.gz", wbtest::concat(wbtest::gzip_member(a), wbtest::gzip_member(b)));
  write_raw(dir / "empty", {});
  const Bytes want = wbtest::concat(a, b);
  BOOST_TEST((read_all(dir / "plain") == want));
  BOOST_TEST((read_all(dir / "one.gz") == want));
  BOOST_TEST((read_all(dir / "two.gz") == want));
  BOOST_TEST(read_all(dir / "empty").empty());
  BOOST_TEST(ByteStream(dir / "two.gz").gzip());
  BOOST_TEST(!ByteStream(dir / "plain").gzip());
}

BOOST_AUTO_TEST_CASE(data_after_the_end_of_a_gzip_member_is_an_error) {
  TempDir dir;
  const Bytes member = wbtest::gzip_member(counting_bytes(1000, 5));
  const std::string junk = dir / "junk.gz", plain = dir / "plain-after.gz", one = dir / "one-byte.gz";
  write_raw(junk, wbtest::concat(member, Bytes{'h', 'e', 'l', 'l', 'o'}));
  write_raw(plain, wbtest::concat(member, counting_bytes(3000, 1)));
  write_raw(one, wbtest::concat(member, Bytes{0x1f}));  // half a gzip magic is not a member either
  check_error<std::runtime_error>([&] { read_all(junk); },
                                  {junk, "5 bytes of data after the end of the gzip member",
                                   "ends at byte " + std::to_string(member.size())});
  check_error<std::runtime_error>([&] { read_all(plain); }, {plain, "3000 bytes of data after the end"});
  check_error<std::runtime_error>([&] { read_all(one); }, {one, "1 bytes of data after the end"});
  // Through a reader: a valid IDX label file with junk appended to its .gz.
  const std::string labels = dir / "labels.gz";
  write_raw(labels, wbtest::concat(wbtest::gzip_member(wbtest::idx_labels({1, 2, 3})), Bytes{0, 0, 0, 0}));
  check_error<std::runtime_error>([&] { read_idx_labels(labels); }, {labels, "data after the end of the gzip member"});
}

BOOST_AUTO_TEST_CASE(corrupt_and_cut_off_members_are_errors) {
  TempDir dir;
  Bytes member = wbtest::gzip_member(counting_bytes(100000, 13));
  const std::string cut = dir / "cut.gz", bad = dir / "bad.gz";
  write_raw(cut, Bytes(member.begin(), member.begin() + static_cast<std::ptrdiff_t>(member.size() / 2)));
  {
    ByteStream in(cut);
    Bytes buf(200000);
    BOOST_TEST(in.read(buf.data(), buf.size()) < 100000u);
    BOOST_TEST(in.end_note().find("truncated") != std::string::npos);
  }
  member[member.size() / 2] ^= 0xff;
  member[member.size() / 2 + 1] ^= 0xff;
  member[member.size() / 2 + 2] ^= 0xff;
  write_raw(bad, member);
  check_error<std::runtime_error>([&] { read_all(bad); }, {bad, "corrupt gzip data"});
}

BOOST_AUTO_TEST_CASE(skip_rest_stops_counting_at_its_limit) {
  TempDir dir;
  write_raw(dir / "z.gz", wbtest::gzip_member(Bytes(5u << 20, 0)));
  ByteStream in(dir / "z.gz");
  BOOST_TEST(in.skip_rest(1u << 20) == (1u << 20) + 1);
  ByteStream again(dir / "z.gz");
  BOOST_TEST(again.skip_rest(10u << 20) == 5u << 20);
}

BOOST_AUTO_TEST_CASE(peak_memory_growth_sees_a_large_allocation) {
  // The negative control of the bounded-memory tests: 32 MB touched must show, whether resident memory
  // or tensor storage.
  const std::int64_t vec = wbtest::peak_memory_growth([] {
    std::vector<std::uint8_t> v(32u << 20, 1);
    BOOST_TEST(v[12345] == 1);
  });
  BOOST_TEST(vec >= (32 << 20) * 9 / 10, vec);
  const std::int64_t tensor = wbtest::peak_memory_growth([] { (void)wb::Tensor::empty({8 << 20}); });
  BOOST_TEST(tensor >= 32 << 20, tensor);
}

BOOST_AUTO_TEST_SUITE_END()
