#include "datasets/idx.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/byte_stream.hpp"

namespace wb::data {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
// 4 GiB: the largest IDX data set in use (EMNIST ByClass) is about 550 MB; a header promising more is
// corrupt or hostile, and is refused before anything is read.
constexpr std::uint64_t kMaxPayload = kMaxIdxPayload;

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

std::string describe_magic(std::uint32_t m) {
  if (m == kImagesMagic) return "an IDX3 image file";
  if (m == kLabelsMagic) return "an IDX1 label file";
  if ((m >> 16) == 0 && ((m >> 8) & 0xff) != 0) return fmt::format("an IDX file of type 0x{:02x} with {} dimensions",
                                                                   (m >> 8) & 0xff, m & 0xff);
  return "not an IDX file";
}

// Reads the Words big-endian 4-byte header words, checking the magic (word 0) first.
template <std::size_t Words>
std::array<std::uint32_t, Words> read_header(ByteStream& in, std::uint32_t magic, const char* kind) {
  std::array<unsigned char, 4 * Words> raw{};
  const std::size_t got = in.read(raw.data(), raw.size());
  if (got >= 4 && big_endian(raw.data()) != magic)
    throw std::runtime_error(fmt::format("{}: expected magic 0x{:08x} ({}), found 0x{:08x} ({})", in.path(), magic,
                                         kind, big_endian(raw.data()), describe_magic(big_endian(raw.data()))));
  if (got < raw.size())
    throw std::runtime_error(fmt::format("{}: expected a {}-byte IDX header, found {} bytes{}", in.path(), raw.size(),
                                         got, in.end_note()));
  std::array<std::uint32_t, Words> words{};
  for (std::size_t i = 0; i < Words; ++i) words[i] = big_endian(raw.data() + 4 * i);
  return words;
}

// Reads exactly `expected` payload bytes, then (check_end) checks that the stream ends there.
std::vector<std::uint8_t> read_payload(ByteStream& in, std::uint64_t expected, const std::string& what,
                                       bool check_end = true) {
  std::vector<std::uint8_t> out;
  // Grow as data arrives, never trusting the header alone: the buffer is at most twice what the stream
  // has delivered (plus 64 KiB), so a small file declaring a large payload costs little.
  constexpr std::size_t kFirstChunk = std::size_t{1} << 16;
  std::size_t done = 0;
  while (done < expected) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(std::max(kFirstChunk, done), expected - done));
    out.resize(done + want);
    const std::size_t got = in.read(out.data() + done, want);
    done += got;
    if (got < want) break;
  }
  if (done < expected)
    throw std::runtime_error(fmt::format("{}: expected {} {} after the header, found {}{}", in.path(), expected, what,
                                         done, in.end_note()));
  if (!check_end) return out;
  constexpr std::uint64_t kCountExtra = std::uint64_t{1} << 20;  // count this far, then say "more than"
  const std::uint64_t extra = in.skip_rest(kCountExtra);
  if (extra > kCountExtra)
    throw std::runtime_error(fmt::format("{}: expected {} {} after the header, found more than {} ({} extra bytes at "
                                         "the end)",
                                         in.path(), expected, what, expected + kCountExtra, kCountExtra));
  if (extra > 0)
    throw std::runtime_error(fmt::format("{}: expected {} {} after the header, found {} ({} extra bytes at the end)",
                                         in.path(), expected, what, expected + extra, extra));
  return out;
}

// How many of `declared` items to read when the caller wants the first `first` (0: all).
std::uint32_t items_to_read(std::uint32_t declared, std::int64_t first) {
  if (first < 0) throw std::invalid_argument(fmt::format("IDX reader: first = {} must be >= 0", first));
  return first > 0 && first < declared ? static_cast<std::uint32_t>(first) : declared;
}

}  // namespace

IdxImages read_idx_images(const std::string& path, std::int64_t first) {
  ByteStream in(path);
  const auto h = read_header<4>(in, kImagesMagic, "IDX3 unsigned-byte images");
  if (h[1] == 0 || h[2] == 0 || h[3] == 0)
    throw std::runtime_error(fmt::format("{}: expected positive image count, rows and columns, found {} images of {}x{}",
                                         path, h[1], h[2], h[3]));
  const std::uint64_t per_image = std::uint64_t{h[2]} * h[3];
  if (per_image > kMaxPayload || h[1] > kMaxPayload / per_image)
    throw std::runtime_error(fmt::format("{}: header fields count {} x rows {} x cols {} promise {:.4g} pixel bytes, "
                                         "more than the {} bytes a readable IDX file may hold (corrupt header?)",
                                         path, h[1], h[2], h[3], static_cast<double>(per_image) * h[1], kMaxPayload));
  const std::uint32_t n = items_to_read(h[1], first);
  IdxImages out;
  out.count = n;
  out.header_count = h[1];
  out.rows = h[2];
  out.cols = h[3];
  out.pixels = read_payload(in, per_image * n, fmt::format("pixel bytes ({} images of {}x{})", n, h[2], h[3]),
                            n == h[1]);
  return out;
}

std::vector<std::int64_t> read_idx_labels(const std::string& path, std::int64_t num_classes, std::int64_t first,
                                          std::int64_t* header_count) {
  ByteStream in(path);
  const auto h = read_header<2>(in, kLabelsMagic, "IDX1 unsigned-byte labels");
  if (h[1] == 0) throw std::runtime_error(fmt::format("{}: expected a positive label count, found 0", path));
  if (header_count) *header_count = h[1];
  const std::uint32_t n = items_to_read(h[1], first);
  const auto raw = read_payload(in, n, fmt::format("label bytes ({} labels)", n), n == h[1]);
  std::vector<std::int64_t> labels(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] >= num_classes)
      throw std::runtime_error(fmt::format("{}: label {} of item {} is out of range, expected 0..{}", path, raw[i], i,
                                           num_classes - 1));
    labels[i] = raw[i];
  }
  return labels;
}

Dataset load_idx(const std::string& images_path, const std::string& labels_path, std::string name,
                 std::vector<std::string> class_names, std::int64_t first) {
  IdxImages images = read_idx_images(images_path, first);
  const auto num_classes = static_cast<std::int64_t>(class_names.size());
  if (num_classes == 0) throw std::invalid_argument(fmt::format("load_idx({}): no class names given", name));
  std::int64_t declared_labels = 0;
  std::vector<std::int64_t> labels = read_idx_labels(labels_path, num_classes, first, &declared_labels);
  if (declared_labels != images.header_count)
    throw std::runtime_error(fmt::format("{}: expected one label per image of {} ({} labels), found {} labels",
                                         labels_path, images_path, images.header_count, declared_labels));
  Dataset d;
  d.name = std::move(name);
  d.channels = 1;
  d.height = images.rows;
  d.width = images.cols;
  d.pixels = std::move(images.pixels);
  d.labels = std::move(labels);
  d.num_classes = num_classes;
  d.class_names = std::move(class_names);
  return d;
}

namespace {
Dataset load_idx_split(const std::string& dir, Split split, const char* set, const std::vector<std::string>& classes,
                       std::int64_t first) {
  const std::string prefix = split == Split::train ? "train" : "t10k";
  const std::string images =
      find_gz_or_plain(dir, prefix + "-images-idx3-ubyte", fmt::format("{} {} images", set, split_name(split)));
  const std::string labels =
      find_gz_or_plain(dir, prefix + "-labels-idx1-ubyte", fmt::format("{} {} labels", set, split_name(split)));
  return load_idx(images, labels, fmt::format("{}/{}", set, split_name(split)), classes, first);
}
}  // namespace

Dataset load_fashion_mnist(const std::string& dir, Split split, std::int64_t first) {
  return load_idx_split(dir, split, "fashion-mnist", fashion_mnist_classes(), first);
}
Dataset load_fashion_mnist(Split split) { return load_fashion_mnist(kFashionMnistDir, split); }
Dataset load_mnist(const std::string& dir, Split split, std::int64_t first) {
  return load_idx_split(dir, split, "mnist", mnist_classes(), first);
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

const std::vector<std::string>& mnist_classes() {
  static const std::vector<std::string> names{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  return names;
}

}  // namespace wb::data
