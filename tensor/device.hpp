// Device: where a Storage lives. CPU always; CUDA when the build found nvcc (see tensor/dispatch/,
// the one place that switches on it).
#pragma once

#include <cstdint>
#include <string_view>

namespace wb {

enum class Device : std::uint8_t { CPU, CUDA };

constexpr std::string_view device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

// True when this build has the CUDA backend compiled in (not whether a GPU is present).
bool cuda_built();
// True when the CUDA backend is built and at least one GPU is visible.
bool cuda_available();

}  // namespace wb
