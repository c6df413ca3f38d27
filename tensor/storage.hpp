// Storage: the only owner of tensor memory in whitebox.
//
// A Storage is a block of bytes on one device, allocated in its constructor and returned in its
// destructor (RAII), 64-byte aligned on the host. Tensors hold it through std::shared_ptr, so views
// share it and the last handle frees it. Host blocks go through a small caching allocator: a training
// step allocates the same sizes every iteration, so freed blocks are kept by exact size and handed out
// again instead of going back to the OS (which would page-fault them in anew each step).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tensor/device.hpp"

namespace wb {

class Storage {
 public:
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_ = Device::CPU;
};

// Host allocator statistics, for memory tests and benchmarks.
struct MemoryStats {
  std::int64_t live_bytes = 0;    // bytes held by live Storages
  std::int64_t peak_bytes = 0;    // maximum of live_bytes since the last reset
  std::int64_t cached_bytes = 0;  // freed blocks kept for reuse
  std::int64_t live_blocks = 0;
};
MemoryStats host_memory_stats();
void reset_peak_host_memory();
// Returns every cached host block to the OS.
void release_cached_host_memory();

}  // namespace wb
