#include "ops/shape.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class ReshapeNode final : public autograd::Node {
 public:
  ReshapeNode(Shape in, const char* name) : in_(std::move(in)), name_(name) {}
  std::string_view name() const override { return name_; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::reshape(dy, in_)}; }

 private:
  Shape in_;
  const char* name_;
};

class PermuteNode final : public autograd::Node {
 public:
  explicit PermuteNode(std::vector<std::int64_t> inverse) : inverse_(std::move(inverse)) {}
  std::string_view name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::permute(dy, inverse_)}; }

 private:
  std::vector<std::int64_t> inverse_;
};

class SliceNode final : public autograd::Node {
 public:
  SliceNode(Shape in, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step)
      : in_(std::move(in)), axis_(axis), start_(start), end_(end), step_(step) {}
  std::string_view name() const override { return "slice"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::zeros(in_, dy.dtype(), dy.device());
    prim::copy_(prim::slice(dx, axis_, start_, end_, step_), dy);
    return {dx};
  }

 private:
  Shape in_;
  std::int64_t axis_, start_, end_, step_;
};

class ExpandNode final : public autograd::Node {
 public:
  explicit ExpandNode(Shape in) : in_(std::move(in)) {}
  std::string_view name() const override { return "expand"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::reduce_to_shape(dy, in_)}; }

 private:
  Shape in_;
};

class CastNode final : public autograd::Node {
 public:
  explicit CastNode(DType from) : from_(from) {}
  std::string_view name() const override { return "cast"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::cast(dy, from_)}; }

 private:
  DType from_;
};

class ConcatNode final : public autograd::Node {
 public:
  ConcatNode(std::int64_t axis, std::vector<std::int64_t> sizes) : axis_(axis), sizes_(std::move(sizes)) {}
  std::string_view name() const override { return "concat"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    std::vector<Tensor> out;
    std::int64_t off = 0;
    for (std::size_t i = 0; i < sizes_.size(); ++i) {
      out.push_back(needs_grad(i) ? prim::slice(dy, axis_, off, off + sizes_[i]) : Tensor());
      off += sizes_[i];
    }
    return out;
  }

 private:
  std::int64_t axis_;
  std::vector<std::int64_t> sizes_;
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor y = prim::reshape(x, shape);
  autograd::record<ReshapeNode>(y, {x}, x.shape(), "reshape");
  return y;
}

Tensor permute(const Tensor& x, const std::vector<std::int64_t>& dims) {
  Tensor y = prim::permute(x, dims);
  std::vector<std::int64_t> inv(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i)
    inv[static_cast<std::size_t>(normalize_axis(dims[i], x.dim(), "permute"))] = static_cast<std::int64_t>(i);
  autograd::record<PermuteNode>(y, {x}, inv);
  return y;
}

Tensor transpose(const Tensor& x, std::int64_t a, std::int64_t b) {
  std::vector<std::int64_t> dims(static_cast<std::size_t>(x.dim()));
  for (std::size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<std::int64_t>(i);
  std::swap(dims[static_cast<std::size_t>(normalize_axis(a, x.dim(), "transpose"))],
            dims[static_cast<std::size_t>(normalize_axis(b, x.dim(), "transpose"))]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, std::int64_t axis, std::int64_t start, std::int64_t end, std::int64_t step) {
  Tensor y = prim::slice(x, axis, start, end, step);
  autograd::record<SliceNode>(y, {x}, x.shape(), axis, start, end, step);
  return y;
}

Tensor expand(const Tensor& x, const Shape& shape) {
  Tensor y = prim::expand(x, shape);
  autograd::record<ExpandNode>(y, {x}, x.shape());
  return y;
}

Tensor unsqueeze(const Tensor& x, std::int64_t axis) {
  Tensor y = prim::unsqueeze(x, axis);
  autograd::record<ReshapeNode>(y, {x}, x.shape(), "unsqueeze");
  return y;
}

Tensor squeeze(const Tensor& x, std::int64_t axis) {
  Tensor y = prim::squeeze(x, axis);
  autograd::record<ReshapeNode>(y, {x}, x.shape(), "squeeze");
  return y;
}

Tensor contiguous(const Tensor& x) {
  Tensor y = prim::contiguous(x);
  autograd::record<ReshapeNode>(y, {x}, x.shape(), "contiguous");
  return y;
}

Tensor cast(const Tensor& x, DType dtype) {
  Tensor y = prim::cast(x, dtype);
  autograd::record<CastNode>(y, {x}, x.dtype());
  return y;
}

Tensor concat(const std::vector<Tensor>& xs, std::int64_t axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors given");
  const Tensor& first = xs.front();
  const std::int64_t a = normalize_axis(axis, first.dim(), "concat");
  Shape out_shape = first.shape();
  out_shape[static_cast<std::size_t>(a)] = 0;
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    bool ok = t.dim() == first.dim() && t.dtype() == first.dtype() && t.device() == first.device();
    for (std::int64_t d = 0; ok && d < t.dim(); ++d)
      if (d != a) ok = t.size(d) == first.size(d);
    if (!ok)
      throw std::invalid_argument(fmt::format("concat: tensor {} ({} {}) does not match tensor 0 ({} {}) off axis {}", i,
                                              shape_str(t.shape()), dtype_name(t.dtype()), shape_str(first.shape()),
                                              dtype_name(first.dtype()), a));
    sizes.push_back(t.size(a));
    out_shape[static_cast<std::size_t>(a)] += t.size(a);
  }
  Tensor y = Tensor::empty(out_shape, first.dtype(), first.device());
  std::int64_t off = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    prim::copy_(prim::slice(y, a, off, off + sizes[i]), xs[i]);
    off += sizes[i];
  }
  autograd::record<ConcatNode>(y, xs, a, sizes);
  return y;
}

}  // namespace wb::ops
