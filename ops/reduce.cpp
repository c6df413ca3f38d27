#include "ops/reduce.hpp"

#include <algorithm>

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

// Shape of x with the reduced axes kept as size 1.
Shape keepdim_shape(const Shape& shape, std::vector<std::int64_t> axes, const char* what) {
  const auto nd = static_cast<std::int64_t>(shape.size());
  Shape k = shape;
  if (axes.empty())
    for (std::int64_t i = 0; i < nd; ++i) axes.push_back(i);
  for (auto a : axes) k[static_cast<std::size_t>(normalize_axis(a, nd, what))] = 1;
  return k;
}

class SumNode final : public autograd::Node {
 public:
  SumNode(Shape in, Shape kept, double scale, const char* name)
      : in_(std::move(in)), kept_(std::move(kept)), scale_(scale), name_(name) {}
  std::string_view name() const override { return name_; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor g = prim::expand(prim::reshape(dy, kept_), in_);
    if (scale_ != 1.0) g = prim::unary(prim::Unary::mul_scalar, g, scale_);
    return {g};
  }

 private:
  Shape in_, kept_;
  double scale_;
  const char* name_;
};

class MaxNode final : public autograd::Node {
 public:
  MaxNode(Shape in, std::int64_t axis, Tensor idx_keep) : in_(std::move(in)), axis_(axis), idx_(std::move(idx_keep)) {}
  std::string_view name() const override { return "max"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::zeros(in_, dy.dtype(), dy.device());
    prim::scatter_add_(dx, axis_, idx_, prim::reshape(dy, idx_.shape()));
    return {dx};
  }
  void release_saved() override { idx_ = Tensor(); }

 private:
  Shape in_;
  std::int64_t axis_;
  Tensor idx_;
};

class CumsumNode final : public autograd::Node {
 public:
  CumsumNode(std::int64_t axis, bool reverse) : axis_(axis), reverse_(reverse) {}
  std::string_view name() const override { return "cumsum"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::cumsum(dy, axis_, !reverse_)}; }

 private:
  std::int64_t axis_;
  bool reverse_;
};

}  // namespace

Tensor cumsum(const Tensor& x, std::int64_t axis, bool reverse) {
  const std::int64_t a = normalize_axis(axis, x.dim(), "cumsum");
  Tensor y = prim::cumsum(x, a, reverse);
  autograd::record<CumsumNode>(y, {x}, a, reverse);
  return y;
}

Tensor sum(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  Tensor y = prim::sum(x, axes, keepdim);
  autograd::record<SumNode>(y, {x}, x.shape(), keepdim_shape(x.shape(), axes, "sum"), 1.0, "sum");
  return y;
}

Tensor mean(const Tensor& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const Shape kept = keepdim_shape(x.shape(), axes, "mean");
  const std::int64_t count = std::max<std::int64_t>(1, x.numel() / std::max<std::int64_t>(1, numel_of(kept)));
  const double scale = 1.0 / static_cast<double>(count);
  Tensor y = prim::unary(prim::Unary::mul_scalar, prim::sum(x, axes, keepdim), scale);
  autograd::record<SumNode>(y, {x}, x.shape(), kept, scale, "mean");
  return y;
}

Tensor max(const Tensor& x, std::int64_t axis, bool keepdim) {
  const std::int64_t a = normalize_axis(axis, x.dim(), "max");
  auto r = prim::max(x, a, true);
  Tensor y = keepdim ? r.values : prim::squeeze(r.values, a);
  autograd::record<MaxNode>(y, {x}, x.shape(), a, r.indices);
  return y;
}

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) { return prim::max(x, axis, keepdim).indices; }

}  // namespace wb::ops
