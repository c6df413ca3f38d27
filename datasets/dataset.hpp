// Dataset: a labelled image set held as bytes, the form every reader in datasets/ returns.
//
// Layout: `pixels` holds N images of C x H x W unsigned bytes, row-major and outermost first
// (image n, channel c, row y, column x at ((n*C + c)*H + y)*W + x), the layout of the CIFAR-10 binary
// records and of the (C = 1) IDX files. `labels` holds N class indices in [0, num_classes). Pixels stay
// uint8 (a quarter of the f32 size); the Loader (loader.hpp) converts one batch at a time to f32.
//
// Also here: Split (train / test), per-channel normalization statistics of the standard sets and
// channel_stats() to measure them on any Dataset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wb::data {

enum class Split { train, test };
const char* split_name(Split split);  // "train" / "test"

struct Dataset {
  std::string name;  // e.g. "fashion-mnist/train", used in error messages
  std::int64_t channels = 0, height = 0, width = 0;  // C, H, W
  std::vector<std::uint8_t> pixels;                  // N x C x H x W
  std::vector<std::int64_t> labels;                  // N, each in [0, num_classes)
  std::int64_t num_classes = 0;
  std::vector<std::string> class_names;              // num_classes names (may be empty)

  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }  // N
  std::int64_t image_bytes() const { return channels * height * width; }          // C * H * W
  const std::uint8_t* image(std::int64_t i) const;  // the C x H x W bytes of image i (range-checked)

  // Images [first, first + count) as a new Dataset (a copy) with the same classes; throws
  // std::out_of_range when the range does not fit in [0, size()).
  Dataset subset(std::int64_t first, std::int64_t count) const;
  // Throws std::runtime_error naming the dataset when the sizes disagree or a label is out of range.
  void validate() const;
};

// Per-channel mean and standard deviation of pixel/255 (values in [0, 1]); one entry per channel.
struct Normalization {
  std::vector<double> mean, stddev;
};
// Statistics over the whole training split, the values torchvision recipes use:
Normalization fashion_mnist_normalization();  // mean 0.2860, std 0.3530
Normalization mnist_normalization();          // mean 0.1307, std 0.3081
Normalization cifar10_normalization();        // mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)
// Measures the statistics of `data` (population std, accumulated in double).
Normalization channel_stats(const Dataset& data);

}  // namespace wb::data
