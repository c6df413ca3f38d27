#include "datasets/cifar.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/byte_stream.hpp"

namespace wb::data {
namespace {

constexpr std::int64_t kSide = 32;
constexpr std::int64_t kPixels = 3 * kSide * kSide;  // 3072
constexpr std::int64_t kRecord = 1 + kPixels;       // 3073

// Appends the records of one file to d.
void read_file(const std::string& path, Dataset& d) {
  ByteStream in(path);
  std::vector<std::uint8_t> raw;
  constexpr std::size_t kChunk = std::size_t{1} << 22;
  for (;;) {
    const std::size_t old = raw.size();
    raw.resize(old + kChunk);
    const std::size_t got = in.read(raw.data() + old, kChunk);
    raw.resize(old + got);
    if (got < kChunk) break;
  }
  const auto n = static_cast<std::int64_t>(raw.size());
  if (n == 0 || n % kRecord != 0)
    throw std::runtime_error(fmt::format("{}: expected a positive whole number of {}-byte records (1 label byte + {} "
                                         "pixel bytes), found {} bytes ({} records and {} bytes left over){}",
                                         path, kRecord, kPixels, n, n / kRecord, n % kRecord, in.end_note()));
  const std::int64_t records = n / kRecord;
  const std::size_t base = d.pixels.size();
  d.pixels.resize(base + static_cast<std::size_t>(records * kPixels));
  d.labels.reserve(d.labels.size() + static_cast<std::size_t>(records));
  for (std::int64_t r = 0; r < records; ++r) {
    const std::uint8_t* rec = raw.data() + r * kRecord;
    if (rec[0] >= 10)
      throw std::runtime_error(
          fmt::format("{}: record {} (byte offset {}) has label {}, expected 0..9", path, r, r * kRecord, rec[0]));
    d.labels.push_back(rec[0]);
    std::copy(rec + 1, rec + kRecord, d.pixels.begin() + static_cast<std::ptrdiff_t>(base + r * kPixels));
  }
}

}  // namespace

Dataset read_cifar10_files(const std::vector<std::string>& paths, std::string name) {
  if (paths.empty()) throw std::invalid_argument(fmt::format("read_cifar10_files({}): no files given", name));
  Dataset d;
  d.name = std::move(name);
  d.channels = 3;
  d.height = kSide;
  d.width = kSide;
  d.num_classes = 10;
  d.class_names = cifar10_classes();
  for (const auto& p : paths) read_file(p, d);
  return d;
}

Dataset load_cifar10(const std::string& dir, Split split) {
  std::string root = dir;
  std::error_code ec;
  const auto nested = std::filesystem::path(dir) / "cifar-10-batches-bin";
  if (!std::filesystem::exists(std::filesystem::path(dir) / "test_batch.bin", ec) &&
      !std::filesystem::exists(std::filesystem::path(dir) / "test_batch.bin.gz", ec) &&
      std::filesystem::is_directory(nested, ec))
    root = nested.string();
  std::vector<std::string> paths;
  if (split == Split::train) {
    for (int i = 1; i <= 5; ++i)
      paths.push_back(find_gz_or_plain(root, fmt::format("data_batch_{}.bin", i), "CIFAR-10 train batch"));
  } else {
    paths.push_back(find_gz_or_plain(root, "test_batch.bin", "CIFAR-10 test batch"));
  }
  return read_cifar10_files(paths, fmt::format("cifar10/{}", split_name(split)));
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace wb::data
