// libFuzzer target: the CIFAR-10 reader (datasets/cifar.cpp) on plain and gzip input
// (tests/fuzz/corpus/cifar).
#include <exception>

#include "datasets/cifar.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wbfuzz::InputFile in(data, size);
  try {
    const auto d = wb::data::read_cifar10_files({in.path()}, "fuzz");
    d.validate();
    if (d.size() <= 0 || d.pixels.size() != static_cast<std::size_t>(d.size()) * 3072) std::abort();
  } catch (const std::exception&) {
  }
  return 0;
}
