// libFuzzer target: the safetensors reader (crate/io/safetensors.cpp) and, on files it accepts, the
// checkpoint loader (crate/io/checkpoint.cpp: the config in the metadata checked against the tensors,
// the model built, the strict load) (tests/fuzz/corpus/safetensors).
#include <exception>

#include "crate/io/checkpoint.hpp"
#include "crate/io/safetensors.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const wbfuzz::InputFile in(data, size);
  try {
    const auto file = wb::crate::read_safetensors(in.path());
    std::uint64_t bytes = 0;
    for (const auto& [name, t] : file.tensors) bytes += static_cast<std::uint64_t>(t.numel()) * wb::dtype_size(t.dtype());
    if (bytes > size) std::abort();  // the tensors tile the data section: never more than the file
    (void)wb::crate::load_model(in.path());
  } catch (const std::exception&) {
  }
  return 0;
}
