// Dispatch of the elementwise primitives: unary maps and their fused backward, broadcasting binary
// maps, axpy_, scale_ and masked_fill.
#include <iterator>

#include "tensor/dispatch/common.hpp"
#include "tensor/kernels.hpp"

namespace wb::prim {
using namespace detail;

namespace {

// Op names for the messages of the elementwise primitives, so an error from ops::relu says "relu".
const char* op_name(Unary op) {
  static constexpr const char* names[] = {"neg",  "exp",  "log",  "sqrt",   "abs",        "sign",
                                          "relu", "gelu", "tanh", "square", "reciprocal", "pow",
                                          "add_scalar", "mul_scalar", "soft_threshold", "gt_scalar"};
  static_assert(std::size(names) == static_cast<std::size_t>(Unary::gt_scalar) + 1);
  return names[static_cast<std::size_t>(op)];
}
const char* op_name(Binary op) {
  static constexpr const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "pow", "eq", "gt", "lt"};
  static_assert(std::size(names) == static_cast<std::size_t>(Binary::lt) + 1);
  return names[static_cast<std::size_t>(op)];
}

}  // namespace

Tensor unary(Unary op, const Tensor& x, double p) {
  check_defined(x, op_name(op), "x");
  check_floating(x, op_name(op));
  const Tensor xc = contiguous(x);
  Tensor out = empty_like(xc);
  switch (x.device()) {
    case Device::CPU: kernel::unary<Device::CPU>(op, xc, out, p); break;
    case Device::CUDA: kernel::unary<Device::CUDA>(op, xc, out, p); break;
  }
  return out;
}

void unary_(Unary op, const Tensor& x, double p) {
  check_defined(x, "unary_", "x");
  check_floating(x, "unary_");
  if (!x.is_contiguous()) {
    copy_(x, unary(op, x, p));
    return;
  }
  switch (x.device()) {
    case Device::CPU: kernel::unary<Device::CPU>(op, x, x, p); return;
    case Device::CUDA: kernel::unary<Device::CUDA>(op, x, x, p); return;
  }
}

Tensor unary_backward(Unary op, const Tensor& dy, const Tensor& saved, double p) {
  check_defined(dy, "unary_backward", "dy");
  check_floating(dy, "unary_backward");
  const Tensor dyc = contiguous(dy);
  Tensor sc;
  if (saved.defined()) {
    check_same_shape(dy, saved, "unary_backward");
    check_same_dtype(dy, saved, "unary_backward");
    sc = contiguous(saved);
  }
  Tensor dx = empty_like(dyc);
  switch (dy.device()) {
    case Device::CPU: kernel::unary_backward<Device::CPU>(op, dyc, sc, dx, p); break;
    case Device::CUDA: kernel::unary_backward<Device::CUDA>(op, dyc, sc, dx, p); break;
  }
  return dx;
}

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  const char* what = op_name(op);
  check_defined(a, what, "a");
  check_defined(b, what, "b");
  check_same_dtype(a, b, what);
  check_same_device(a, b, what);
  check_floating(a, what);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), what);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const Tensor ea = expand(a, shape), eb = expand(b, shape);
  switch (a.device()) {
    case Device::CPU: kernel::binary<Device::CPU>(op, ea, eb, out); break;
    case Device::CUDA: kernel::binary<Device::CUDA>(op, ea, eb, out); break;
  }
  return out;
}

void binary_(Binary op, const Tensor& a, const Tensor& b) {
  check_defined(a, "binary_", "a");
  check_defined(b, "binary_", "b");
  check_same_dtype(a, b, "binary_");
  check_same_device(a, b, "binary_");
  check_floating(a, "binary_");
  const Tensor eb = expand(b, a.shape());
  switch (a.device()) {
    case Device::CPU: kernel::binary<Device::CPU>(op, a, eb, a); return;
    case Device::CUDA: kernel::binary<Device::CUDA>(op, a, eb, a); return;
  }
}

void axpy_(const Tensor& y, const Tensor& x, double alpha) {
  check_defined(y, "axpy_", "y");
  check_defined(x, "axpy_", "x");
  check_same_shape(y, x, "axpy_");
  check_same_dtype(y, x, "axpy_");
  check_same_device(y, x, "axpy_");
  if (!y.is_contiguous() || !x.is_contiguous()) {
    binary_(Binary::add, y, alpha == 1.0 ? x : unary(Unary::mul_scalar, x, alpha));
    return;
  }
  switch (y.device()) {
    case Device::CPU: kernel::axpy<Device::CPU>(y, x, alpha); return;
    case Device::CUDA: kernel::axpy<Device::CUDA>(y, x, alpha); return;
  }
}

void scale_(const Tensor& x, double alpha) { unary_(Unary::mul_scalar, x, alpha); }

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "x");
  check_defined(mask, "masked_fill", "mask");
  check_floating(x, "masked_fill");
  check_same_device(x, mask, "masked_fill");
  if (broadcast_shapes(x.shape(), mask.shape(), "masked_fill") != x.shape())
    throw std::invalid_argument(fmt::format("masked_fill: mask {} does not broadcast to the input's shape {}",
                                            shape_str(mask.shape()), shape_str(x.shape())));
  Tensor out = empty_like(x);
  const Tensor em = expand(mask, x.shape());
  switch (x.device()) {
    case Device::CPU: kernel::masked_fill<Device::CPU>(x, em, value, out); break;
    case Device::CUDA: kernel::masked_fill<Device::CUDA>(x, em, value, out); break;
  }
  return out;
}

}  // namespace wb::prim
