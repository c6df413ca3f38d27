// CUDA memory entry points of the device seam (allocation, frees, copies), used by tensor/dispatch/memory.cpp
// for Storage. Defined in tensor/cuda/memory.cu when meson finds nvcc, otherwise in tensor/cuda_stub.cpp,
// which throws "built without CUDA". Compute kernels are declared in tensor/kernels.hpp.
#pragma once

#include <cstddef>

namespace wb::cuda {

int device_count();
void* alloc(std::size_t nbytes);
void free(void* p);
enum class CopyKind { host_to_device, device_to_host, device_to_device };
void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind);

}  // namespace wb::cuda
