#include "datasets/registry.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "datasets/cifar.hpp"
#include "datasets/idx.hpp"

namespace wb::data {
namespace {

Dataset fashion_mnist(const std::string& dir, Split split, std::int64_t first) {
  return load_fashion_mnist(dir.empty() ? std::string(kFashionMnistDir) : dir, split, first);
}

}  // namespace

const std::vector<DatasetInfo>& dataset_registry() {
  static const std::vector<DatasetInfo> all{
      {"fashion-mnist", 1, 28, 10, "the Fashion-MNIST IDX files", false, fashion_mnist_normalization(), fashion_mnist},
      {"mnist", 1, 28, 10, "the MNIST IDX files", true, mnist_normalization(), load_mnist},
      {"cifar10", 3, 32, 10, "the CIFAR-10 binary batches", true, cifar10_normalization(), load_cifar10},
  };
  return all;
}

std::vector<std::string> dataset_names() {
  std::vector<std::string> names;
  for (const auto& d : dataset_registry()) names.push_back(d.name);
  return names;
}

const DatasetInfo& dataset_info(const std::string& name) {
  for (const auto& d : dataset_registry())
    if (d.name == name) return d;
  std::string known;
  for (const auto& n : dataset_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument(fmt::format("unknown dataset '{}' (known: {})", name, known));
}

Dataset load_dataset(const std::string& name, const std::string& dir, Split split, std::int64_t first) {
  const DatasetInfo& info = dataset_info(name);
  if (dir.empty() && info.needs_dir)
    throw std::invalid_argument(
        fmt::format("--data {} needs --data-dir (the directory of {})", info.name, info.dir_hint));
  return info.load(dir, split, first);
}

}  // namespace wb::data
