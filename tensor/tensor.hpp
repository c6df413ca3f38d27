// Tensor: a cheap, shallow handle onto a Storage.
//
// Overview of the tensor layer (tensor/):
//   Storage   sole owner of memory (RAII, 64-byte aligned, one device)       storage.hpp
//   Tensor    {storage, offset, shape, strides, dtype} + an autograd slot    this file
//   prim::    non-recording primitives: views, copies, elementwise maps,     prim.hpp
//             reductions, matmul, fused softmax / layer_norm / cross-entropy
//   dispatch  the one switch on Device per primitive                         dispatch/*.cpp
//   cpu/      the CPU kernels (templates on float/double)                    cpu/*.cpp
//   cuda/     the CUDA kernels, built when nvcc is found                     cuda/*.cu
//   Generator the project's seeded RNG (same stream on every machine)        rng.hpp
//
// Copying a Tensor is shallow: copies share the storage and the autograd slot. Views (reshape, permute,
// slice, expand in prim:: and ops::) only change shape/strides/offset. prim::clone is the deep copy.
// Shapes are row-major, outermost first; strides and offsets are in elements.
//
// The tensor layer knows nothing about how gradients are computed: a Tensor only carries an opaque
// AutogradMeta slot (requires_grad, the accumulated grad, and the Node that produced it), which the
// autograd layer (autograd/) fills in and reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tensor/device.hpp"
#include "tensor/dtype.hpp"
#include "tensor/shape.hpp"
#include "tensor/storage.hpp"

namespace wb {

namespace autograd {
class Node;
}
struct AutogradMeta;

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  Tensor(std::shared_ptr<Storage> storage, std::int64_t offset, Shape shape, Shape strides, DType dtype);

  // ---- factories (new leaf tensors, contiguous) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor scalar(double value, DType dtype = DType::f32);
  static Tensor arange(std::int64_t n, DType dtype = DType::f32);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape);
  static Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape);

  // ---- metadata ----
  bool defined() const { return static_cast<bool>(storage_); }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  std::int64_t dim() const { return static_cast<std::int64_t>(shape_.size()); }
  std::int64_t size(std::int64_t axis) const;
  std::int64_t stride(std::int64_t axis) const;
  std::int64_t numel() const { return numel_of(shape_); }
  std::int64_t offset() const { return offset_; }
  DType dtype() const { return dtype_; }
  Device device() const;
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  // True when both handles view the same elements (same storage, offset, shape and strides).
  bool is_same(const Tensor& o) const {
    return storage_ == o.storage_ && offset_ == o.offset_ && shape_ == o.shape_ && strides_ == o.strides_;
  }

  // ---- data access ----
  // Typed pointer to element [0,...,0]; checks the dtype and that the tensor is on the CPU.
  template <class T> T* data() const;
  void* raw_data() const;  // element [0,...,0] on any device
  double item() const;     // the single value of a one-element tensor
  // All values in row-major order, converted to T (copies from the device when needed).
  template <class T> std::vector<T> to_vector() const;

  // ---- autograd slot (filled by autograd/, see autograd/engine.hpp) ----
  bool requires_grad() const;
  // Marks a leaf as a parameter whose gradient accumulates into grad(); refused on a non-leaf.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reached this tensor
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // zero-fills the accumulated gradient, keeping its memory
  std::shared_ptr<autograd::Node> grad_fn() const;
  Tensor detach() const;  // same data, no autograd history
  // Raw access for the autograd layer.
  const std::shared_ptr<AutogradMeta>& meta() const { return meta_; }
  void set_meta(std::shared_ptr<AutogradMeta> m) { meta_ = std::move(m); }

  std::string str(int max_per_dim = 6) const;  // shape, dtype, device and leading values

 private:
  std::shared_ptr<Storage> storage_;
  std::int64_t offset_ = 0;
  Shape shape_;
  Shape strides_;
  DType dtype_ = DType::f32;
  std::shared_ptr<AutogradMeta> meta_;
};

// The autograd slot, shared by every copy of a Tensor handle.
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;                                // accumulated gradient (leaves)
  std::shared_ptr<autograd::Node> grad_fn;    // producer; null for leaves
};

}  // namespace wb

template <>
struct fmt::formatter<wb::Tensor> : fmt::formatter<std::string> {
  template <class Ctx> auto format(const wb::Tensor& t, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
