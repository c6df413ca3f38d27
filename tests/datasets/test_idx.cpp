#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "datasets/idx.hpp"
#include "tests/datasets/files.hpp"
#include "tests/support/datasets.hpp"
#include "tests/support/memory.hpp"

using namespace wb::data;
using wbtest::Bytes;
using wbtest::check_error;
using wbtest::TempDir;

BOOST_AUTO_TEST_SUITE(idx)

namespace {
// Three 2x4 images: image n, row y, column x holds 100 n + 10 y + x.
Bytes three_images() {
  Bytes p;
  for (int n = 0; n < 3; ++n)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 4; ++x) p.push_back(static_cast<std::uint8_t>(100 * n + 10 * y + x));
  return p;
}
const Bytes kLabels{0, 9, 5};
}  // namespace

BOOST_AUTO_TEST_CASE(reads_gzip_and_plain_files) {
  TempDir dir;
  // train split gzip-compressed, test split plain
  wbtest::write_file(dir.file("train-images-idx3-ubyte.gz"), wbtest::idx_images(3, 2, 4, three_images()), true);
  wbtest::write_file(dir.file("train-labels-idx1-ubyte.gz"), wbtest::idx_labels(kLabels), true);
  wbtest::write_file(dir.file("t10k-images-idx3-ubyte"), wbtest::idx_images(3, 2, 4, three_images()), false);
  wbtest::write_file(dir.file("t10k-labels-idx1-ubyte"), wbtest::idx_labels(kLabels), false);

  const Dataset train = load_mnist(dir.str(), Split::train);
  const Dataset test = load_fashion_mnist(dir.str(), Split::test);
  for (const Dataset* d : {&train, &test}) {
    BOOST_TEST(d->size() == 3);
    BOOST_TEST(d->channels == 1);
    BOOST_TEST(d->height == 2);
    BOOST_TEST(d->width == 4);
    BOOST_TEST(d->num_classes == 10);
    BOOST_TEST(d->pixels == three_images());
    BOOST_TEST((d->labels == std::vector<std::int64_t>{0, 9, 5}));
    BOOST_TEST(d->image(2)[1 * 4 + 3] == 213);
    BOOST_CHECK_NO_THROW(d->validate());
  }
  BOOST_TEST(train.name == "mnist/train");
  BOOST_TEST(test.name == "fashion-mnist/test");
  BOOST_TEST(train.class_names[3] == "3");
  BOOST_TEST(test.class_names[0] == "T-shirt/top");
  BOOST_TEST(test.class_names[9] == "Ankle boot");

  const IdxImages raw = read_idx_images(dir.file("train-images-idx3-ubyte.gz"));
  BOOST_TEST(raw.count == 3);
  BOOST_TEST(raw.rows == 2);
  BOOST_TEST(raw.cols == 4);
}

BOOST_AUTO_TEST_CASE(wrong_magic_names_file_and_both_values) {
  TempDir dir;
  const auto path = dir.file("images");
  wbtest::write_file(path, wbtest::idx_labels(kLabels), true);  // a label file where images are expected
  check_error<std::runtime_error>([&] { read_idx_images(path); },
                                  {path, "expected magic 0x00000803", "found 0x00000801", "IDX1 label file"});
  wbtest::write_file(path, wbtest::idx_images(3, 2, 4, three_images()), false);
  check_error<std::runtime_error>([&] { read_idx_labels(path); },
                                  {path, "expected magic 0x00000801", "found 0x00000803"});
  wbtest::write_file(path, Bytes{'G', 'I', 'F', '8', '9', 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false);
  check_error<std::runtime_error>([&] { read_idx_images(path); }, {path, "found 0x47494638", "not an IDX file"});
}

BOOST_AUTO_TEST_CASE(truncated_files_are_errors) {
  TempDir dir;
  const auto path = dir.file("images");
  const Bytes full = wbtest::idx_images(3, 2, 4, three_images());
  const Bytes cut(full.begin(), full.end() - 4);
  for (bool gz : {false, true}) {
    wbtest::write_file(path, cut, gz);
    check_error<std::runtime_error>([&] { read_idx_images(path); },
                                    {path, "expected 24 pixel bytes (3 images of 2x4) after the header, found 20"});
  }
  Bytes short_labels = wbtest::idx_labels(kLabels);
  short_labels.pop_back();
  wbtest::write_file(path, short_labels, false);
  check_error<std::runtime_error>([&] { read_idx_labels(path); }, {path, "expected 3 label bytes", "found 2"});
  // cut inside the header
  wbtest::write_file(path, Bytes(cut.begin(), cut.begin() + 7), false);
  check_error<std::runtime_error>([&] { read_idx_images(path); }, {path, "expected a 16-byte IDX header, found 7 bytes"});
  wbtest::write_file(path, Bytes{}, false);
  check_error<std::runtime_error>([&] { read_idx_images(path); }, {path, "expected a 16-byte IDX header, found 0 bytes"});
}

BOOST_AUTO_TEST_CASE(the_first_n_items_only) {
  TempDir dir;
  // A file cut inside its third image: whole, it is an error; its first two images read fine, and the
  // cut is not looked at (that is what a limit means).
  const Bytes full = wbtest::idx_images(3, 2, 4, three_images());
  const Bytes cut(full.begin(), full.end() - 4);
  for (bool gz : {false, true}) {
    const std::string images = dir.file(gz ? "train-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte");
    const std::string labels = dir.file(gz ? "train-labels-idx1-ubyte.gz" : "t10k-labels-idx1-ubyte");
    wbtest::write_file(images, cut, gz);
    wbtest::write_file(labels, wbtest::idx_labels(kLabels), gz);
    const IdxImages two = read_idx_images(images, 2);
    BOOST_TEST(two.count == 2);
    BOOST_TEST(two.header_count == 3);
    const Bytes all = three_images();
    BOOST_TEST((two.pixels == Bytes(all.begin(), all.begin() + 16)));
    BOOST_TEST((read_idx_labels(labels, 10, 2) == std::vector<std::int64_t>{0, 9}));
    const Dataset d = load_fashion_mnist(dir.str(), gz ? Split::train : Split::test, 2);
    BOOST_TEST(d.size() == 2);
    BOOST_TEST(d.image(1)[1 * 4 + 3] == 113);
    check_error<std::runtime_error>([&] { load_fashion_mnist(dir.str(), gz ? Split::train : Split::test, 3); },
                                    {images, "expected 24 pixel bytes (3 images of 2x4) after the header, found 20"});
    // More than the file holds: all of it, checked to its end.
    wbtest::write_file(images, full, gz);
    BOOST_TEST(load_fashion_mnist(dir.str(), gz ? Split::train : Split::test, 10).size() == 3);
  }
  // Headers that disagree are still an error with a limit.
  wbtest::write_file(dir.file("t10k-labels-idx1-ubyte"), wbtest::idx_labels(Bytes{1, 2}), false);
  check_error<std::runtime_error>([&] { load_fashion_mnist(dir.str(), Split::test, 1); },
                                  {"expected one label per image", "(3 labels), found 2 labels"});
  check_error<std::invalid_argument>([&] { read_idx_images(dir.file("t10k-images-idx3-ubyte"), -1); }, {"first = -1"});
}

BOOST_AUTO_TEST_CASE(truncated_gzip_stream_is_reported) {
  // A .gz file cut short: zlib stops mid-member and the reader says so.
  TempDir dir;
  const auto path = dir.file("train-images-idx3-ubyte.gz");
  Bytes big;
  for (int i = 0; i < 20 * 28 * 28; ++i) big.push_back(static_cast<std::uint8_t>((i * 2654435761u) >> 24));
  wbtest::write_file(path, wbtest::idx_images(20, 28, 28, big), true);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  check_error<std::runtime_error>([&] { read_idx_images(path); },
                                  {path, "expected 15680 pixel bytes (20 images of 28x28) after the header, found",
                                   "gzip stream ends early"});
}

BOOST_AUTO_TEST_CASE(extra_bytes_are_errors) {
  TempDir dir;
  const auto path = dir.file("images.gz");
  Bytes longer = wbtest::idx_images(3, 2, 4, three_images());
  longer.push_back(7);
  longer.push_back(7);
  for (bool gz : {false, true}) {
    wbtest::write_file(path, longer, gz);
    check_error<std::runtime_error>([&] { read_idx_images(path); },
                                    {path, "expected 24 pixel bytes", "found 26 (2 extra bytes at the end)"});
  }
  Bytes labels = wbtest::idx_labels(kLabels);
  labels.push_back(1);
  wbtest::write_file(path, labels, true);
  check_error<std::runtime_error>([&] { read_idx_labels(path); }, {path, "found 4 (1 extra bytes at the end)"});
}

BOOST_AUTO_TEST_CASE(bad_dimensions_and_labels) {
  TempDir dir;
  const auto images = dir.file("images"), labels = dir.file("labels");
  wbtest::write_file(images, wbtest::idx_images(3, 0, 4, {}), false);
  check_error<std::runtime_error>([&] { read_idx_images(images); }, {images, "found 3 images of 0x4"});
  wbtest::write_file(images, wbtest::idx_images(0xffffffffu, 0xffffffffu, 0xffffffffu, {}), false);
  check_error<std::runtime_error>([&] { read_idx_images(images); }, {images, "corrupt header"});

  wbtest::write_file(labels, wbtest::idx_labels({3, 10, 1}), false);
  check_error<std::runtime_error>([&] { read_idx_labels(labels); },
                                  {labels, "label 10 of item 1 is out of range, expected 0..9"});
  BOOST_TEST(read_idx_labels(labels, 11).at(1) == 10);

  // label count must equal image count
  wbtest::write_file(images, wbtest::idx_images(3, 2, 4, three_images()), false);
  wbtest::write_file(labels, wbtest::idx_labels({1, 2}), false);
  check_error<std::runtime_error>([&] { load_idx(images, labels, "x", mnist_classes()); },
                                  {labels, images, "(3 labels), found 2 labels"});
}

BOOST_AUTO_TEST_CASE(missing_files_are_named) {
  TempDir dir;
  check_error<std::runtime_error>([&] { load_mnist(dir.str(), Split::train); },
                                  {dir.file("train-images-idx3-ubyte.gz"), dir.file("train-images-idx3-ubyte"),
                                   "file not found"});
  // images present, labels missing
  wbtest::write_file(dir.file("t10k-images-idx3-ubyte"), wbtest::idx_images(3, 2, 4, three_images()), false);
  check_error<std::runtime_error>([&] { load_fashion_mnist(dir.str(), Split::test); },
                                  {dir.file("t10k-labels-idx1-ubyte.gz"), "file not found"});
  check_error<std::runtime_error>([&] { load_mnist(dir.file("nowhere"), Split::test); }, {"does not exist"});
  check_error<std::runtime_error>([&] { read_idx_images(dir.file("absent")); },
                                  {dir.file("absent"), "cannot open", "No such file"});
}

BOOST_AUTO_TEST_CASE(subset_copies_a_range) {
  TempDir dir;
  wbtest::write_file(dir.file("train-images-idx3-ubyte"), wbtest::idx_images(3, 2, 4, three_images()), false);
  wbtest::write_file(dir.file("train-labels-idx1-ubyte"), wbtest::idx_labels(kLabels), false);
  const Dataset d = load_mnist(dir.str(), Split::train);
  const Dataset s = d.subset(1, 2);
  BOOST_TEST(s.size() == 2);
  BOOST_TEST((s.labels == std::vector<std::int64_t>{9, 5}));
  BOOST_TEST(s.pixels.size() == 16u);
  BOOST_TEST(s.image(0)[0] == 100);
  BOOST_TEST(s.image(1)[7] == 213);
  BOOST_TEST(s.class_names == d.class_names);
  BOOST_TEST(d.subset(3, 0).size() == 0);
  BOOST_CHECK_THROW(d.subset(2, 2), std::out_of_range);
  BOOST_CHECK_THROW(d.subset(-1, 1), std::out_of_range);
  BOOST_CHECK_THROW(d.image(3), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(real_fashion_mnist, *wbtest::require_dataset("fashion-mnist")) {
  const Dataset train = load_fashion_mnist(Split::train);
  const Dataset test = load_fashion_mnist(kFashionMnistDir, Split::test);
  BOOST_TEST(train.size() == 60000);
  BOOST_TEST(test.size() == 10000);
  for (const Dataset* d : {&train, &test}) {
    BOOST_TEST(d->channels == 1);
    BOOST_TEST(d->height == 28);
    BOOST_TEST(d->width == 28);
    BOOST_TEST(d->pixels.size() == static_cast<std::size_t>(d->size() * 784));
    std::vector<std::int64_t> counts(10, 0);
    for (auto l : d->labels) counts.at(static_cast<std::size_t>(l)) += 1;
    for (auto c : counts) BOOST_TEST(c == d->size() / 10);  // both splits are exactly balanced
  }
  // The first training label of Fashion-MNIST is 9 (ankle boot), the first test label 9 as well.
  BOOST_TEST(train.labels[0] == 9);
  BOOST_TEST(test.labels[0] == 9);
  const Normalization s = channel_stats(train);
  const Normalization ref = fashion_mnist_normalization();
  BOOST_TEST(std::abs(s.mean[0] - ref.mean[0]) < 5e-4, "mean " << s.mean[0]);
  BOOST_TEST(std::abs(s.stddev[0] - ref.stddev[0]) < 5e-4, "std " << s.stddev[0]);
}


// Memory bounded by the input: a small file never costs more than a few MB, whatever its header says.

BOOST_AUTO_TEST_CASE(a_tiny_file_declaring_a_huge_payload_costs_little) {
  TempDir dir;
  // 16-byte header promising 60000 images of 28x28 (47 MB) and 1 KB of pixels.
  const auto plain = dir.file("liar-idx3-ubyte"), gz = dir.file("liar-idx3-ubyte.gz");
  wbtest::write_file(plain, wbtest::idx_images(60000, 28, 28, Bytes(1024, 1)), false);
  // and a ~1 KB .gz whose 1 MB of zeros is still far short of the promise
  wbtest::write_file(gz, wbtest::gzip_member(wbtest::idx_images(60000, 28, 28, Bytes(1u << 20, 0))), false);
  BOOST_TEST(std::filesystem::file_size(gz) < 2048u);
  for (const auto& path : {plain, gz}) {
    check_error<std::runtime_error>([&] { read_idx_images(path); },
                                    {path, "expected 47040000 pixel bytes (60000 images of 28x28) after the header"});
    const std::int64_t peak = wbtest::peak_memory_growth([&] { read_idx_images(path); });
    BOOST_TEST(peak < (8 << 20), path << ": peak memory growth " << peak << " bytes");
  }
}

BOOST_AUTO_TEST_CASE(a_gzip_bomb_past_the_declared_size_is_refused_cheaply) {
  // 3 labels declared, then 64 MB of zeros in 64 concatenated 1 MB members (a ~64 KB file): the reader
  // stops counting the excess after 1 MiB, and never holds more than its buffers.
  TempDir dir;
  const auto path = dir.file("bomb-idx1-ubyte.gz");
  Bytes file = wbtest::gzip_member(wbtest::idx_labels({1, 2, 3}));
  const Bytes zeros = wbtest::gzip_member(Bytes(1u << 20, 0));
  for (int i = 0; i < 64; ++i) file = wbtest::concat(std::move(file), zeros);
  wbtest::write_file(path, file, false);
  BOOST_TEST(std::filesystem::file_size(path) < (128u << 10));
  check_error<std::runtime_error>([&] { read_idx_labels(path); },
                                  {path, "expected 3 label bytes", "found more than 1048579 (1048576 extra bytes"});
  const std::int64_t peak = wbtest::peak_memory_growth([&] { read_idx_labels(path); });
  BOOST_TEST(peak < (8 << 20), "peak memory growth " << peak << " bytes");
}

BOOST_AUTO_TEST_CASE(a_header_beyond_the_cap_is_refused_before_reading) {
  TempDir dir;
  const auto path = dir.file("cap-idx3-ubyte");
  // 65536 x 256 x 257 = 4.3e9 bytes: just over the 4 GiB cap
  wbtest::write_file(path, wbtest::idx_images(65536, 256, 257, Bytes(16, 0)), false);
  check_error<std::runtime_error>([&] { read_idx_images(path); },
                                  {path, "header fields count 65536 x rows 256 x cols 257", "corrupt header"});
  BOOST_TEST(kMaxIdxPayload == std::uint64_t{1} << 32);
  // just under it: read as far as the data goes, then reported short
  const auto under = dir.file("under-idx3-ubyte");
  wbtest::write_file(under, wbtest::idx_images(65535, 256, 256, Bytes(16, 0)), false);
  check_error<std::runtime_error>([&] { read_idx_images(under); }, {under, "found 16"});
}

BOOST_AUTO_TEST_SUITE_END()
