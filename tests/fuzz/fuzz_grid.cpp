// libFuzzer target: the ablation grid parser (crate/sweep/grid.cpp: load_grid, JSON then the schema)
// (tests/fuzz/corpus/grid).
#include <exception>

#include "crate/sweep/ablate.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wbfuzz::InputFile in(data, size);
  try {
    const auto grid = wb::crate::load_grid(in.path());
    if (grid.runs.size() != grid.variants.size() * grid.seeds.size()) std::abort();
  } catch (const std::exception&) {
  }
  return 0;
}
