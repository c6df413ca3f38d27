#include "tensor/storage.hpp"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/dispatch.hpp"

namespace wb {
namespace {

constexpr std::size_t kAlign = 64;
constexpr std::int64_t kMaxCached = std::int64_t{4} << 30;  // never cache more than 4 GiB of free blocks

struct HostCache {
  std::mutex mu;
  std::multimap<std::size_t, void*> free_blocks;  // rounded size -> block
  MemoryStats stats;
};

HostCache& cache() {
  static HostCache* c = new HostCache();  // leaked on purpose: outlives every static Tensor
  return *c;
}

std::size_t round_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void* host_alloc(std::size_t nbytes) {
  const std::size_t sz = round_up(nbytes == 0 ? 1 : nbytes);
  auto& c = cache();
  std::lock_guard lock(c.mu);
  void* p = nullptr;
  if (auto it = c.free_blocks.find(sz); it != c.free_blocks.end()) {
    p = it->second;
    c.free_blocks.erase(it);
    c.stats.cached_bytes -= static_cast<std::int64_t>(sz);
  } else {
    p = std::aligned_alloc(kAlign, sz);
    if (p == nullptr) {
      // Give the cache back and retry once before reporting.
      for (auto& [s, q] : c.free_blocks) std::free(q);
      c.free_blocks.clear();
      c.stats.cached_bytes = 0;
      p = std::aligned_alloc(kAlign, sz);
      if (p == nullptr)
        throw std::bad_alloc();
    }
  }
  c.stats.live_bytes += static_cast<std::int64_t>(sz);
  c.stats.live_blocks += 1;
  if (c.stats.live_bytes > c.stats.peak_bytes) c.stats.peak_bytes = c.stats.live_bytes;
  return p;
}

void host_free(void* p, std::size_t nbytes) {
  const std::size_t sz = round_up(nbytes == 0 ? 1 : nbytes);
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.stats.live_bytes -= static_cast<std::int64_t>(sz);
  c.stats.live_blocks -= 1;
  if (c.stats.cached_bytes + static_cast<std::int64_t>(sz) <= kMaxCached) {
    c.free_blocks.emplace(sz, p);
    c.stats.cached_bytes += static_cast<std::int64_t>(sz);
  } else {
    std::free(p);
  }
}

}  // namespace

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  data_ = device == Device::CPU ? host_alloc(nbytes) : dispatch::device_alloc(nbytes, device);
}

Storage::~Storage() {
  if (data_ == nullptr) return;
  if (device_ == Device::CPU)
    host_free(data_, nbytes_);
  else
    dispatch::device_free(data_, device_);
}

MemoryStats host_memory_stats() {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  return c.stats;
}

void reset_peak_host_memory() {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.stats.peak_bytes = c.stats.live_bytes;
}

void release_cached_host_memory() {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  for (auto& [s, p] : c.free_blocks) std::free(p);
  c.free_blocks.clear();
  c.stats.cached_bytes = 0;
}

}  // namespace wb
