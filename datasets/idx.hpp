// IDX reader: MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/ file format).
//
// An IDX file is a big-endian header followed by raw bytes:
//   images (idx3): magic 0x00000803, count N, rows H, cols W (4 bytes each), then N*H*W pixel bytes,
//                  image after image, each row-major (one channel: the Dataset layout N x 1 x H x W)
//   labels (idx1): magic 0x00000801, count N, then N label bytes
// Files are read gzip-compressed (name.gz, as distributed) or plain (name) through zlib. The readers
// check the magic, that the dimensions are positive, that the stream holds exactly the bytes the
// header promises (a truncated or overlong file is an error), that labels are < num_classes and that
// the label count equals the image count. Every error is a std::runtime_error naming the file, what was
// expected and what was found.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/dataset.hpp"

namespace wb::data {

// Where the Debian package dataset-fashion-mnist installs the four .gz files.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// The most payload bytes (count x rows x cols, or the label count) a header may promise: 4 GiB. A
// larger header is refused before anything is read; below it, memory grows only as data arrives.
inline constexpr std::uint64_t kMaxIdxPayload = std::uint64_t{1} << 32;

// `first` > 0 reads only the first `first` items (all of them when the file has fewer): the rest of the
// file is then neither decompressed nor checked, which is what `--train-limit` / `--test-limit` want.
// 0 reads the whole file and checks that it ends where its header says.
struct IdxImages {
  std::int64_t count = 0, rows = 0, cols = 0;  // N (as read), H, W
  std::int64_t header_count = 0;               // the count the header declares (= count without `first`)
  std::vector<std::uint8_t> pixels;            // N x H x W
};
IdxImages read_idx_images(const std::string& path, std::int64_t first = 0);
// Labels as class indices; each must be < num_classes. *header_count (if given) gets the declared count.
std::vector<std::int64_t> read_idx_labels(const std::string& path, std::int64_t num_classes = 10,
                                          std::int64_t first = 0, std::int64_t* header_count = nullptr);

// Reads an image file and its label file into a Dataset (C = 1) with the given classes; their headers
// must declare the same count.
Dataset load_idx(const std::string& images_path, const std::string& labels_path, std::string name,
                 std::vector<std::string> class_names, std::int64_t first = 0);

// {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] in `dir`: train 60000 and test 10000 images of 28x28.
// Fashion-MNIST and MNIST use the same file names; only the classes differ.
Dataset load_fashion_mnist(const std::string& dir, Split split, std::int64_t first = 0);
Dataset load_fashion_mnist(Split split = Split::train);  // from kFashionMnistDir
Dataset load_mnist(const std::string& dir, Split split, std::int64_t first = 0);

const std::vector<std::string>& fashion_mnist_classes();  // "T-shirt/top", "Trouser", ... "Ankle boot"
const std::vector<std::string>& mnist_classes();          // "0" ... "9"

}  // namespace wb::data
