// Built instead of tensor/cuda/memory.cu when meson did not find nvcc (or -Dcuda=disabled): the CUDA
// device exists in the API, and asking for it says plainly that this build has no CUDA.
#include <stdexcept>

#include "tensor/cuda/memory.hpp"

namespace wb {

bool cuda_built() { return false; }

namespace cuda {
namespace {
[[noreturn]] void no_cuda() {
  throw std::runtime_error("whitebox was built without CUDA (nvcc not found, or -Dcuda=disabled); "
                           "reconfigure with -Dcuda=enabled on a machine with the CUDA toolkit");
}
}  // namespace

int device_count() { return 0; }
void* alloc(std::size_t) { no_cuda(); }
void free(void*) {}
void memcpy(void*, const void*, std::size_t, CopyKind) { no_cuda(); }

}  // namespace cuda
}  // namespace wb
