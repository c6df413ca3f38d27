#include "ops/index.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class IndexSelectNode final : public autograd::Node {
 public:
  IndexSelectNode(Shape in, std::int64_t axis, Tensor index, const char* name)
      : in_(std::move(in)), axis_(axis), index_(std::move(index)), name_(name) {}
  std::string_view name() const override { return name_; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::zeros(in_, dy.dtype(), dy.device());
    Shape src = in_;
    src[static_cast<std::size_t>(axis_)] = index_.numel();
    prim::index_add_(dx, axis_, index_, prim::reshape(dy, src));
    return {dx, Tensor()};
  }
  void release_saved() override { index_ = Tensor(); }

 private:
  Shape in_;
  std::int64_t axis_;
  Tensor index_;  // 1-D
  const char* name_;
};

class GatherNode final : public autograd::Node {
 public:
  GatherNode(Shape in, std::int64_t axis, Tensor index) : in_(std::move(in)), axis_(axis), index_(std::move(index)) {}
  std::string_view name() const override { return "gather"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor dx = Tensor::zeros(in_, dy.dtype(), dy.device());
    prim::scatter_add_(dx, axis_, index_, dy);
    return {dx, Tensor()};
  }
  void release_saved() override { index_ = Tensor(); }

 private:
  Shape in_;
  std::int64_t axis_;
  Tensor index_;
};

class MaskedFillNode final : public autograd::Node {
 public:
  explicit MaskedFillNode(Tensor mask) : mask_(std::move(mask)) {}
  std::string_view name() const override { return "masked_fill"; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::masked_fill(dy, mask_, 0.0), Tensor()}; }
  void release_saved() override { mask_ = Tensor(); }

 private:
  Tensor mask_;
};

}  // namespace

Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& index) {
  const std::int64_t a = normalize_axis(axis, x.dim(), "index_select");
  Tensor y = prim::index_select(x, a, index);
  autograd::record<IndexSelectNode>(y, {x, index}, x.shape(), a, index.detach(), "index_select");
  return y;
}

Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index) {
  const std::int64_t a = normalize_axis(axis, x.dim(), "gather");
  Tensor y = prim::gather(x, a, index);
  autograd::record<GatherNode>(y, {x, index}, x.shape(), a, index.detach());
  return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  Tensor y = prim::masked_fill(x, mask, value);
  autograd::record<MaskedFillNode>(y, {x, mask}, mask.detach());
  return y;
}

Tensor embedding(const Tensor& weight, const Tensor& ids) {
  if (weight.dim() != 2)
    throw std::invalid_argument(fmt::format("embedding: weight must be (V, D), got {}", shape_str(weight.shape())));
  if (!ids.defined() || ids.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format("embedding: ids must be an i64 tensor, got {}",
                                            ids.defined() ? dtype_name(ids.dtype()) : "an undefined tensor"));
  const Tensor flat = prim::reshape(ids, {-1});
  Tensor rows;
  try {
    rows = prim::index_select(weight, 0, flat);
  } catch (const std::invalid_argument& e) {  // e.g. an id out of range: name this op and the table
    throw std::invalid_argument(fmt::format("embedding: ids {} into a table of {} rows: {}", shape_str(ids.shape()),
                                            weight.size(0), e.what()));
  }
  Shape out_shape = ids.shape();
  out_shape.push_back(weight.size(1));
  Tensor y = prim::reshape(rows, out_shape);
  autograd::record<IndexSelectNode>(y, {weight, ids}, weight.shape(), 0, prim::contiguous(flat), "embedding");
  return y;
}

}  // namespace wb::ops
