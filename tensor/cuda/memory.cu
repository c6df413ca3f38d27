// CUDA memory entry points of the device seam: allocation, frees and copies.
#include <cuda_runtime.h>

#include <stdexcept>

#include <fmt/format.h>

#include "tensor/cuda/memory.hpp"

namespace wb {

bool cuda_built() { return true; }

namespace cuda {

void check(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess)
    throw std::runtime_error(fmt::format("CUDA error in {} ({}:{}): {}", what, file, line, cudaGetErrorString(err)));
}
#define CUDA_CHECK(expr) ::wb::cuda::check((expr), #expr, __FILE__, __LINE__)

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

void* alloc(std::size_t nbytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, nbytes == 0 ? 1 : nbytes));
  return p;
}

void free(void* p) { cudaFree(p); }

void memcpy(void* dst, const void* src, std::size_t nbytes, CopyKind kind) {
  const cudaMemcpyKind k = kind == CopyKind::host_to_device   ? cudaMemcpyHostToDevice
                           : kind == CopyKind::device_to_host ? cudaMemcpyDeviceToHost
                                                              : cudaMemcpyDeviceToDevice;
  CUDA_CHECK(cudaMemcpy(dst, src, nbytes, k));
}

}  // namespace cuda
}  // namespace wb
