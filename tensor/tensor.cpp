#include "tensor/tensor.hpp"

#include <cstring>
#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/prim.hpp"

namespace wb {

Tensor::Tensor(std::shared_ptr<Storage> storage, std::int64_t offset, Shape shape, Shape strides, DType dtype)
    : storage_(std::move(storage)), offset_(offset), shape_(std::move(shape)), strides_(std::move(strides)),
      dtype_(dtype) {
  if (shape_.size() != strides_.size())
    throw std::invalid_argument(fmt::format("Tensor: shape {} and strides {} differ in rank", shape_str(shape_),
                                            shape_str(strides_)));
  for (auto s : shape_)
    if (s < 0) throw std::invalid_argument(fmt::format("Tensor: negative size in shape {}", shape_str(shape_)));
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto s : shape)
    if (s < 0) throw std::invalid_argument(fmt::format("Tensor::empty: negative size in shape {}", shape_str(shape)));
  const std::int64_t nbytes = checked_mul(numel_of(shape), static_cast<std::int64_t>(dtype_size(dtype)),
                                          "Tensor::empty: the size in bytes");
  std::shared_ptr<Storage> st;
  try {
    st = std::make_shared<Storage>(static_cast<std::size_t>(nbytes), device);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(fmt::format("Tensor::empty: cannot allocate {} bytes for a {} tensor of shape {}", nbytes,
                                         dtype_name(dtype), shape_str(shape)));
  }
  return Tensor(std::move(st), 0, shape, contiguous_strides(shape), dtype);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  prim::fill_(t, value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype) { return full({}, value, dtype); }

Tensor Tensor::arange(std::int64_t n, DType dtype) {
  Tensor t = empty({n}, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(i);
  });
  return t;
}

namespace {
template <class T>
Tensor from_values(const std::vector<T>& values, const Shape& shape) {
  if (static_cast<std::int64_t>(values.size()) != numel_of(shape))
    throw std::invalid_argument(fmt::format("Tensor::from_vector: {} values do not fill shape {} ({} elements)",
                                            values.size(), shape_str(shape), numel_of(shape)));
  Tensor t = Tensor::empty(shape, dtype_of<T>());
  if (!values.empty()) std::memcpy(t.data<T>(), values.data(), values.size() * sizeof(T));
  return t;
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s) { return from_values(v, s); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s) { return from_values(v, s); }
Tensor Tensor::from_vector(const std::vector<std::int64_t>& v, const Shape& s) { return from_values(v, s); }

std::int64_t Tensor::size(std::int64_t axis) const {
  return shape_[static_cast<std::size_t>(normalize_axis(axis, dim(), "Tensor::size"))];
}

std::int64_t Tensor::stride(std::int64_t axis) const {
  return strides_[static_cast<std::size_t>(normalize_axis(axis, dim(), "Tensor::stride"))];
}

Device Tensor::device() const { return storage_ ? storage_->device() : Device::CPU; }

bool Tensor::is_contiguous() const {
  std::int64_t expected = 1;
  for (std::size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] == 1) continue;
    if (strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

template <class T>
T* Tensor::data() const {
  if (!defined()) throw std::logic_error("Tensor::data: undefined tensor");
  if (dtype_ != dtype_of<T>())
    throw std::invalid_argument(fmt::format("Tensor::data: tensor is {}, asked for {}", dtype_name(dtype_),
                                            dtype_name(dtype_of<T>())));
  if (device() != Device::CPU)
    throw std::invalid_argument(
        fmt::format("Tensor::data: tensor is on {}; copy it to the CPU first", device_name(device())));
  return static_cast<T*>(storage_->data()) + offset_;
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template std::int64_t* Tensor::data<std::int64_t>() const;

void* Tensor::raw_data() const {
  if (!defined()) throw std::logic_error("Tensor::raw_data: undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_ * static_cast<std::int64_t>(dtype_size(dtype_));
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument(fmt::format("Tensor::item: tensor of shape {} has {} elements, not 1",
                                            shape_str(shape_), numel()));
  return to_vector<double>()[0];
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  if (!defined()) throw std::logic_error("Tensor::to_vector: undefined tensor");
  Tensor c = prim::contiguous(prim::to_device(*this, Device::CPU));
  std::vector<T> out(static_cast<std::size_t>(c.numel()));
  dispatch_all(c.dtype(), [&](auto tag) {
    using S = typename decltype(tag)::type;
    const S* p = c.data<S>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

// ---- autograd slot ----

bool Tensor::requires_grad() const { return meta_ && meta_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  if (meta_ && meta_->grad_fn)
    throw std::invalid_argument(
        "requires_grad_: only leaf tensors can be marked; this tensor is the output of an op (use detach())");
  if (on && !is_floating(dtype_))
    throw std::invalid_argument(fmt::format("requires_grad_: {} tensors cannot require gradients",
                                            dtype_name(dtype_)));
  if (!meta_) meta_ = std::make_shared<AutogradMeta>();
  meta_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !meta_ || !meta_->grad_fn; }

Tensor Tensor::grad() const { return meta_ ? meta_->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  if (!meta_) throw std::invalid_argument("set_grad: tensor has no autograd slot; call requires_grad_() first");
  meta_->grad = g;
}

void Tensor::zero_grad() const {
  if (meta_ && meta_->grad.defined()) prim::fill_(meta_->grad, 0.0);
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const { return meta_ ? meta_->grad_fn : nullptr; }

Tensor Tensor::detach() const { return Tensor(storage_, offset_, shape_, strides_, dtype_); }

// ---- printing ----

std::string Tensor::str(int max_per_dim) const {
  if (!defined()) return "Tensor[undefined]";
  std::string out = fmt::format("Tensor[{}, {}, {}", shape_str(shape_), dtype_name(dtype_), device_name(device()));
  if (requires_grad()) out += ", requires_grad";
  if (grad_fn()) out += ", grad_fn";
  out += "]";
  if (numel() == 0) return out;
  const auto v = to_vector<double>();
  const Shape st = contiguous_strides(shape_);
  // Nested printing, one recursion level per axis, eliding the middle of long axes.
  std::string body;
  const std::int64_t nd = dim();
  std::function<void(std::int64_t, std::int64_t)> rec = [&](std::int64_t axis, std::int64_t base) {
    if (axis == nd) {
      const double x = v[static_cast<std::size_t>(base)];
      body += dtype_ == DType::i64 ? fmt::format("{}", static_cast<std::int64_t>(x)) : fmt::format("{:.6g}", x);
      return;
    }
    body += "[";
    const std::int64_t n = shape_[static_cast<std::size_t>(axis)];
    const std::int64_t half = max_per_dim / 2;
    for (std::int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == half) {
        body += "..., ";
        i = n - half - 1;
        continue;
      }
      rec(axis + 1, base + i * st[static_cast<std::size_t>(axis)]);
      if (i + 1 < n) body += ", ";
    }
    body += "]";
  };
  rec(0, 0);
  return out + " " + body;
}

}  // namespace wb
