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

// Appends the records of one file to d, reading a block of 32 records at a time straight into d (memory
// grows only as records arrive, one block beyond them), and stops with an error once the file holds
// more than max_records. wanted > 0: stops once d holds that many records, without checking the rest.
void read_cifar_file(const std::string& path, Dataset& d, std::int64_t max_records, std::int64_t wanted) {
  ByteStream in(path);
  constexpr std::int64_t kBlock = 32;  // records per read (98 KB)
  std::vector<std::uint8_t> block(static_cast<std::size_t>(kBlock * kRecord));
  std::int64_t records = 0;
  std::size_t tail = 0;  // bytes of an incomplete last record
  for (;;) {
    const std::size_t got = in.read(block.data(), block.size());
    auto whole = static_cast<std::int64_t>(got / kRecord);
    const auto have = static_cast<std::int64_t>(d.labels.size());
    const bool enough = wanted > 0 && have + whole >= wanted;
    if (enough) whole = wanted - have;
    if (records + whole > max_records)
      throw std::runtime_error(fmt::format("{}: holds more than {} records of {} bytes, the most a CIFAR-10 file may "
                                           "hold (the whole data set has 60000): not a CIFAR-10 batch{}",
                                           path, max_records, kRecord,
                                           in.gzip() ? " (or a gzip bomb)" : ""));
    const std::size_t base = d.pixels.size();
    d.pixels.resize(base + static_cast<std::size_t>(whole * kPixels));
    for (std::int64_t r = 0; r < whole; ++r) {
      const std::uint8_t* rec = block.data() + r * kRecord;
      if (rec[0] >= 10)
        throw std::runtime_error(fmt::format("{}: record {} (byte offset {}) has label {}, expected 0..9", path,
                                             records + r, (records + r) * kRecord, rec[0]));
      d.labels.push_back(rec[0]);
      std::copy(rec + 1, rec + kRecord, d.pixels.begin() + static_cast<std::ptrdiff_t>(base + r * kPixels));
    }
    records += whole;
    if (enough) return;
    tail = got - static_cast<std::size_t>(whole * kRecord);
    if (got < block.size()) break;
  }
  const std::int64_t n = records * kRecord + static_cast<std::int64_t>(tail);
  if (n == 0 || tail != 0)
    throw std::runtime_error(fmt::format("{}: expected a positive whole number of {}-byte records (1 label byte + {} "
                                         "pixel bytes), found {} bytes ({} records and {} bytes left over){}",
                                         path, kRecord, kPixels, n, records, tail, in.end_note()));
}

}  // namespace

Dataset read_cifar10_files(const std::vector<std::string>& paths, std::string name, std::int64_t max_records,
                           std::int64_t first) {
  if (first < 0) throw std::invalid_argument(fmt::format("read_cifar10_files({}): first = {} must be >= 0", name, first));
  if (paths.empty()) throw std::invalid_argument(fmt::format("read_cifar10_files({}): no files given", name));
  Dataset d;
  d.name = std::move(name);
  d.channels = 3;
  d.height = kSide;
  d.width = kSide;
  d.num_classes = 10;
  d.class_names = cifar10_classes();
  for (const auto& p : paths) {
    read_cifar_file(p, d, max_records, first);
    if (first > 0 && static_cast<std::int64_t>(d.labels.size()) >= first) break;
  }
  return d;
}

Dataset load_cifar10(const std::string& dir, Split split, std::int64_t first) {
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
  return read_cifar10_files(paths, fmt::format("cifar10/{}", split_name(split)), kMaxCifarRecords, first);
}

const std::vector<std::string>& cifar10_classes() {
  static const std::vector<std::string> names{"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

}  // namespace wb::data
