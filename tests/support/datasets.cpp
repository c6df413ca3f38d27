#include "tests/support/datasets.hpp"

#include <filesystem>
#include <vector>

#include "datasets/idx.hpp"
#include "datasets/registry.hpp"

namespace wbtest {
namespace {

namespace fs = std::filesystem;

// The files the loaders read (datasets/idx.hpp, datasets/cifar.hpp), each plain or gzip-compressed.
std::vector<std::string> files_of(const std::string& name) {
  if (name == "fashion-mnist" || name == "mnist")
    return {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  if (name == "cifar10")
    return {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
            "test_batch.bin"};
  return {};
}

std::string default_dir(const std::string& name) { return name == "fashion-mnist" ? wb::data::kFashionMnistDir : ""; }

bool has(const fs::path& dir, const std::string& file) {
  std::error_code ec;
  return fs::exists(dir / file, ec) || fs::exists(dir / (file + ".gz"), ec);
}

}  // namespace

boost::test_tools::assertion_result dataset_available(const std::string& name, const std::string& dir) {
  const wb::data::DatasetInfo& info = wb::data::dataset_info(name);  // throws for an unknown name
  boost::test_tools::assertion_result r(true);
  const std::string where = dir.empty() ? default_dir(name) : dir;
  if (where.empty()) {
    r = false;
    r.message() << "dataset '" << name << "' is not installed: it has no default location (tests need a directory of "
                << info.dir_hint << ")";
    return r;
  }
  fs::path root(where);
  if (name == "cifar10" && !has(root, "test_batch.bin") && has(root / "cifar-10-batches-bin", "test_batch.bin"))
    root /= "cifar-10-batches-bin";  // as load_cifar10 accepts the extracted archive's directory
  for (const std::string& f : files_of(name))
    if (!has(root, f)) {
      r = false;
      r.message() << "dataset '" << name << "' is not installed: " << (root / f).string() << "[.gz] not found";
      return r;
    }
  return r;
}

boost::unit_test::decorator::precondition require_dataset(const std::string& name, const std::string& dir) {
  (void)wb::data::dataset_info(name);  // an unknown name is an error at registration, not a skip
  return boost::unit_test::decorator::precondition(
      [name, dir](boost::unit_test::test_unit_id) { return dataset_available(name, dir); });
}

}  // namespace wbtest
