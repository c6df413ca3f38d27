#include <boost/test/unit_test.hpp>

#include <cmath>

#include "datasets/cifar.hpp"
#include "tests/datasets/files.hpp"
#include "tests/support/memory.hpp"

using namespace wb::data;
using wbtest::Bytes;
using wbtest::check_error;
using wbtest::TempDir;

BOOST_AUTO_TEST_SUITE(cifar)

namespace {
// Record r of file f: label (f + r) % 10; pixel (c, y, x) = (7 f + 5 r + 3 c + y + 2 x) % 256, so planes,
// rows and columns all differ.
std::uint8_t pixel(int f, int r, int c, int y, int x) { return static_cast<std::uint8_t>((7 * f + 5 * r + 3 * c + y + 2 * x) % 256); }

Bytes batch_file(int f, int records) {
  Bytes b;
  for (int r = 0; r < records; ++r)
    wbtest::put_cifar_record(b, static_cast<std::uint8_t>((f + r) % 10),
                             [&](int c, int y, int x) { return pixel(f, r, c, y, x); });
  return b;
}

void write_split_files(const std::string& dir) {
  for (int f = 1; f <= 5; ++f)
    wbtest::write_file(dir + "/data_batch_" + std::to_string(f) + ".bin", batch_file(f, 2), false);
  wbtest::write_file(dir + "/test_batch.bin", batch_file(0, 3), false);
}

void check_image(const Dataset& d, std::int64_t n, int f, int r) {
  const std::uint8_t* img = d.image(n);
  int bad = 0;
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) bad += img[(c * 32 + y) * 32 + x] != pixel(f, r, c, y, x);
  BOOST_TEST(bad == 0, "image " << n << " (file " << f << ", record " << r << "): " << bad << " pixels differ");
  BOOST_TEST(d.labels[static_cast<std::size_t>(n)] == (f + r) % 10);
}
}  // namespace

BOOST_AUTO_TEST_CASE(reads_train_and_test_splits) {
  TempDir dir;
  write_split_files(dir.str());
  const Dataset train = load_cifar10(dir.str(), Split::train);
  BOOST_TEST(train.size() == 10);
  BOOST_TEST(train.channels == 3);
  BOOST_TEST(train.height == 32);
  BOOST_TEST(train.width == 32);
  BOOST_TEST(train.num_classes == 10);
  BOOST_TEST(train.class_names.at(0) == "airplane");
  BOOST_TEST(train.class_names.at(9) == "truck");
  BOOST_TEST(train.name == "cifar10/train");
  for (int f = 1; f <= 5; ++f)
    for (int r = 0; r < 2; ++r) check_image(train, (f - 1) * 2 + r, f, r);
  const Dataset test = load_cifar10(dir.str(), Split::test);
  BOOST_TEST(test.size() == 3);
  for (int r = 0; r < 3; ++r) check_image(test, r, 0, r);
  BOOST_CHECK_NO_THROW(test.validate());
}

BOOST_AUTO_TEST_CASE(the_first_n_records_only) {
  TempDir dir;
  write_split_files(dir.str());
  // Three records: all of batch 1 and the first of batch 2; a broken batch 3 is never opened.
  Bytes broken = batch_file(3, 2);
  broken.pop_back();
  wbtest::write_file(dir.str() + "/data_batch_3.bin", broken, false);
  check_error<std::runtime_error>([&] { load_cifar10(dir.str(), Split::train); }, {"data_batch_3.bin", "left over"});
  const Dataset three = load_cifar10(dir.str(), Split::train, 3);
  BOOST_TEST(three.size() == 3);
  check_image(three, 0, 1, 0);
  check_image(three, 1, 1, 1);
  check_image(three, 2, 2, 0);
  BOOST_TEST(three.pixels.size() == 3u * 3072u);
  BOOST_TEST(load_cifar10(dir.str(), Split::test, 99).size() == 3);  // more than there are: all, checked
}

BOOST_AUTO_TEST_CASE(finds_the_tarball_directory_and_gzip_files) {
  TempDir dir;
  write_split_files(dir.str() + "/cifar-10-batches-bin");
  BOOST_TEST(load_cifar10(dir.str(), Split::test).size() == 3);
  TempDir gz;
  wbtest::write_file(gz.file("test_batch.bin.gz"), batch_file(4, 2), true);
  const Dataset d = load_cifar10(gz.str(), Split::test);
  BOOST_TEST(d.size() == 2);
  check_image(d, 1, 4, 1);
}

BOOST_AUTO_TEST_CASE(record_size_and_labels_are_checked) {
  TempDir dir;
  const auto path = dir.file("test_batch.bin");
  Bytes b = batch_file(0, 2);
  b.push_back(1);  // one byte too many
  wbtest::write_file(path, b, false);
  check_error<std::runtime_error>([&] { load_cifar10(dir.str(), Split::test); },
                                  {path, "3073-byte records", "found 6147 bytes (2 records and 1 bytes left over)"});
  b.resize(3073 + 100);  // truncated second record
  wbtest::write_file(path, b, false);
  check_error<std::runtime_error>([&] { read_cifar10_files({path}, "t"); }, {path, "found 3173 bytes (1 records and 100"});
  wbtest::write_file(path, Bytes{}, false);
  check_error<std::runtime_error>([&] { read_cifar10_files({path}, "t"); }, {path, "found 0 bytes"});

  b = batch_file(0, 3);
  b[2 * 3073] = 10;  // label of record 2
  wbtest::write_file(path, b, false);
  check_error<std::runtime_error>([&] { read_cifar10_files({path}, "t"); },
                                  {path, "record 2 (byte offset 6146) has label 10, expected 0..9"});
}

BOOST_AUTO_TEST_CASE(missing_batch_is_named) {
  TempDir dir;
  write_split_files(dir.str());
  std::filesystem::remove(dir.file("data_batch_3.bin"));
  check_error<std::runtime_error>([&] { load_cifar10(dir.str(), Split::train); },
                                  {dir.file("data_batch_3.bin"), "file not found"});
  check_error<std::runtime_error>([&] { read_cifar10_files({dir.file("data_batch_3.bin")}, "t"); },
                                  {dir.file("data_batch_3.bin"), "cannot open"});
}


// Memory bounded by the input: CIFAR files have no header, so a cap on the records per file bounds them.

BOOST_AUTO_TEST_CASE(a_file_past_the_record_cap_is_refused_as_it_is_read) {
  // ~10 KB of gzip: 10 concatenated members of 1000 zero records each (label 0, black images) = 30.7 MB.
  TempDir dir;
  const auto path = dir.file("bomb.bin.gz");
  const Bytes member = wbtest::gzip_member(Bytes(1000 * 3073, 0));
  Bytes file;
  for (int i = 0; i < 10; ++i) file = wbtest::concat(std::move(file), member);
  wbtest::write_file(path, file, false);
  BOOST_TEST(std::filesystem::file_size(path) < (64u << 10));
  check_error<std::runtime_error>([&] { read_cifar10_files({path}, "t", 500); },
                                  {path, "holds more than 500 records of 3073 bytes", "gzip bomb"});
  // The cap stops the read within a block of 32 records of it: well under the 30.7 MB decompressed.
  const std::int64_t peak = wbtest::peak_memory_growth([&] { read_cifar10_files({path}, "t", 500); });
  BOOST_TEST(peak < (12 << 20), "peak memory growth " << peak << " bytes");
  // Under the default cap (the 60000 images of the whole data set) the same file reads.
  BOOST_TEST(kMaxCifarRecords == 60000);
  BOOST_TEST(read_cifar10_files({path}, "t").size() == 10000);
}

BOOST_AUTO_TEST_CASE(junk_after_a_gzip_member_is_an_error) {
  TempDir dir;
  const auto path = dir.file("test_batch.bin.gz");
  wbtest::write_file(path, wbtest::concat(wbtest::gzip_member(batch_file(0, 2)), Bytes{'x'}), false);
  check_error<std::runtime_error>([&] { read_cifar10_files({path}, "t"); },
                                  {path, "1 bytes of data after the end of the gzip member"});
}

BOOST_AUTO_TEST_SUITE_END()
