#include "datasets/dataset.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace wb::data {

const char* split_name(Split split) { return split == Split::train ? "train" : "test"; }

const std::uint8_t* Dataset::image(std::int64_t i) const {
  if (i < 0 || i >= size())
    throw std::out_of_range(fmt::format("Dataset '{}': image index {} out of range [0, {})", name, i, size()));
  return pixels.data() + static_cast<std::size_t>(i * image_bytes());
}

Dataset Dataset::subset(std::int64_t first, std::int64_t count) const {
  if (first < 0 || count < 0 || first > size() || count > size() - first)
    throw std::out_of_range(fmt::format("Dataset '{}'.subset({}, {}): range does not fit in the {} images", name,
                                        first, count, size()));
  Dataset out;
  out.name = fmt::format("{}[{}:{}]", name, first, first + count);
  out.channels = channels;
  out.height = height;
  out.width = width;
  out.num_classes = num_classes;
  out.class_names = class_names;
  const auto b = static_cast<std::size_t>(image_bytes());
  out.pixels.assign(pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(first) * b),
                    pixels.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(first + count) * b));
  out.labels.assign(labels.begin() + first, labels.begin() + first + count);
  return out;
}

void Dataset::validate() const {
  if (channels <= 0 || height <= 0 || width <= 0)
    throw std::runtime_error(
        fmt::format("Dataset '{}': image shape {}x{}x{} (C x H x W) must be positive", name, channels, height, width));
  const auto expected = static_cast<std::size_t>(size()) * static_cast<std::size_t>(image_bytes());
  if (pixels.size() != expected)
    throw std::runtime_error(fmt::format("Dataset '{}': {} labels of {}x{}x{} images need {} pixel bytes, found {}",
                                         name, size(), channels, height, width, expected, pixels.size()));
  if (num_classes <= 0)
    throw std::runtime_error(fmt::format("Dataset '{}': num_classes is {}, expected > 0", name, num_classes));
  if (!class_names.empty() && static_cast<std::int64_t>(class_names.size()) != num_classes)
    throw std::runtime_error(fmt::format("Dataset '{}': {} class names for {} classes", name, class_names.size(),
                                         num_classes));
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= num_classes)
      throw std::runtime_error(fmt::format("Dataset '{}': label {} of image {} is outside [0, {})", name, labels[i],
                                           i, num_classes));
}

Normalization fashion_mnist_normalization() { return {{0.2860}, {0.3530}}; }
Normalization mnist_normalization() { return {{0.1307}, {0.3081}}; }
Normalization cifar10_normalization() { return {{0.4914, 0.4822, 0.4465}, {0.2470, 0.2435, 0.2616}}; }

Normalization channel_stats(const Dataset& data) {
  data.validate();
  if (data.size() == 0) throw std::invalid_argument(fmt::format("channel_stats: dataset '{}' is empty", data.name));
  const std::int64_t plane = data.height * data.width;
  Normalization out;
  for (std::int64_t c = 0; c < data.channels; ++c) {
    // Exact integer sums of v and v^2 (at most 255^2 * plane per image), then one division.
    std::uint64_t s1 = 0, s2 = 0;
    for (std::int64_t n = 0; n < data.size(); ++n) {
      const std::uint8_t* p = data.pixels.data() + static_cast<std::size_t>((n * data.channels + c) * plane);
      for (std::int64_t i = 0; i < plane; ++i) {
        s1 += p[i];
        s2 += static_cast<std::uint64_t>(p[i]) * p[i];
      }
    }
    const double count = static_cast<double>(data.size()) * static_cast<double>(plane);
    const double mean = static_cast<double>(s1) / count;
    const double var = std::max(0.0, static_cast<double>(s2) / count - mean * mean);
    out.mean.push_back(mean / 255.0);
    out.stddev.push_back(std::sqrt(var) / 255.0);
  }
  return out;
}

}  // namespace wb::data
