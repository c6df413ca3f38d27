#include "ops/softmax.hpp"

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class SoftmaxNode final : public autograd::Node {
 public:
  SoftmaxNode(Tensor y, std::int64_t axis, bool log) : y_(std::move(y)), axis_(axis), log_(log) {}
  std::string_view name() const override { return log_ ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    return {log_ ? prim::log_softmax_backward(dy, y_, axis_) : prim::softmax_backward(dy, y_, axis_)};
  }
  void release_saved() override { y_ = Tensor(); }

 private:
  Tensor y_;
  std::int64_t axis_;
  bool log_;
};

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) {
  Tensor y = prim::softmax(x, axis);
  autograd::record<SoftmaxNode>(y, {x}, y.detach(), axis, false);
  return y;
}

Tensor log_softmax(const Tensor& x, std::int64_t axis) {
  Tensor y = prim::log_softmax(x, axis);
  autograd::record<SoftmaxNode>(y, {x}, y.detach(), axis, true);
  return y;
}

}  // namespace wb::ops
