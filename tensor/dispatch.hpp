// The device seam's raw memory entry points (used by Storage). Compute primitives are declared in
// prim.hpp and switch on the device in tensor/dispatch/<section>.cpp.
#pragma once

#include <cstddef>

#include "tensor/device.hpp"

namespace wb::dispatch {

void* device_alloc(std::size_t nbytes, Device device);
void device_free(void* p, Device device);
// Copies nbytes between any two devices (host<->device, device<->device, host<->host).
void memcpy_between(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes);

}  // namespace wb::dispatch
