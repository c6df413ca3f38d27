// libFuzzer target: the IDX readers (datasets/idx.cpp) on plain and gzip input (tests/fuzz/corpus/idx).
#include <exception>

#include "datasets/idx.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wbfuzz::InputFile in(data, size);
  try {
    const auto images = wb::data::read_idx_images(in.path());
    if (images.pixels.size() != static_cast<std::size_t>(images.count * images.rows * images.cols)) std::abort();
  } catch (const std::exception&) {
  }
  try {
    const auto labels = wb::data::read_idx_labels(in.path(), 10);
    for (auto l : labels)
      if (l < 0 || l >= 10) std::abort();
  } catch (const std::exception&) {
  }
  return 0;
}
