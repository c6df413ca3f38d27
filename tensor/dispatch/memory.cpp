// Dispatch of the memory primitives: the raw device memory entry points of tensor/dispatch.hpp
// (used by Storage), contiguous/clone/copy_/cast/to_device (copies across devices stage through a
// contiguous buffer) and fill_.
#include "tensor/dispatch.hpp"

#include <cstring>

#include "tensor/cuda/memory.hpp"
#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb {

bool cuda_available() { return cuda_built() && cuda::device_count() > 0; }

namespace dispatch {

void* device_alloc(std::size_t nbytes, Device device) {
  if (device != Device::CUDA) throw std::logic_error("device_alloc: host memory is allocated by Storage");
  return cuda::alloc(nbytes);
}

void device_free(void* p, Device device) {
  if (device == Device::CUDA) cuda::free(p);
}

void memcpy_between(void* dst, Device dst_device, const void* src, Device src_device, std::size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_device == Device::CPU && src_device == Device::CPU) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  const auto kind = dst_device == Device::CUDA
                        ? (src_device == Device::CUDA ? cuda::CopyKind::device_to_device : cuda::CopyKind::host_to_device)
                        : cuda::CopyKind::device_to_host;
  cuda::memcpy(dst, src, nbytes, kind);
}

}  // namespace dispatch

namespace prim {
using namespace detail;

Tensor contiguous(const Tensor& x) {
  check_defined(x, "contiguous", "x");
  return x.is_contiguous() ? x.detach() : clone(x);
}

Tensor clone(const Tensor& x) {
  check_defined(x, "clone", "x");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_(out, x);
  return out;
}

Tensor empty_like(const Tensor& x) { return Tensor::empty(x.shape(), x.dtype(), x.device()); }
Tensor zeros_like(const Tensor& x) { return Tensor::zeros(x.shape(), x.dtype(), x.device()); }

void copy_(const Tensor& dst, const Tensor& src) {
  check_defined(dst, "copy_", "dst");
  check_defined(src, "copy_", "src");
  if (dst.device() != src.device()) {
    // Stage through a contiguous buffer of dst's dtype on the source device, then move the bytes.
    Tensor staged_src = Tensor::empty(dst.shape(), dst.dtype(), src.device());
    copy_(staged_src, src);
    Tensor staged_dst = Tensor::empty(dst.shape(), dst.dtype(), dst.device());
    dispatch::memcpy_between(staged_dst.raw_data(), dst.device(), staged_src.raw_data(), src.device(),
                             static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()));
    copy_(dst, staged_dst);
    return;
  }
  const Tensor s = expand(src, dst.shape());
  switch (dst.device()) {
    case Device::CPU: kernel::copy<Device::CPU>(dst, s); return;
    case Device::CUDA: kernel::copy<Device::CUDA>(dst, s); return;
  }
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined(x, "cast", "x");
  if (x.dtype() == dtype) return x.detach();
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  copy_(out, x);
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined(x, "to_device", "x");
  if (x.device() == device) return x.detach();
  Tensor out = Tensor::empty(x.shape(), x.dtype(), device);
  copy_(out, x);
  return out;
}

void fill_(const Tensor& x, double value) {
  check_defined(x, "fill_", "x");
  switch (x.device()) {
    case Device::CPU: kernel::fill<Device::CPU>(x, value); return;
    case Device::CUDA: kernel::fill<Device::CUDA>(x, value); return;
  }
}

}  // namespace prim
}  // namespace wb
