#include "ops/loss.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class CrossEntropyNode final : public autograd::Node {
 public:
  CrossEntropyNode(Shape in, Tensor log_prob, Tensor target, std::int64_t ignore, double smoothing, std::int64_t count)
      : in_(std::move(in)), log_prob_(std::move(log_prob)), target_(std::move(target)), ignore_(ignore),
        smoothing_(smoothing), count_(count) {}
  std::string_view name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    const double d = dy.item();
    Tensor dx = prim::cross_entropy_backward(d, log_prob_, target_, ignore_, smoothing_, count_);
    return {prim::reshape(dx, in_), Tensor()};
  }
  void release_saved() override { log_prob_ = target_ = Tensor(); }

 private:
  Shape in_;
  Tensor log_prob_, target_;
  std::int64_t ignore_;
  double smoothing_;
  std::int64_t count_;
};

class MseNode final : public autograd::Node {
 public:
  explicit MseNode(Tensor diff) : diff_(std::move(diff)) {}
  std::string_view name() const override { return "mse"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    const double scale = 2.0 * dy.item() / static_cast<double>(diff_.numel());
    Tensor da = prim::unary(prim::Unary::mul_scalar, diff_, scale);
    Tensor db = needs_grad(1) ? prim::unary(prim::Unary::neg, da) : Tensor();
    return {needs_grad(0) ? da : Tensor(), db};
  }
  void release_saved() override { diff_ = Tensor(); }

 private:
  Tensor diff_;
};

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index, double label_smoothing) {
  if (logits.dim() < 1 || target.shape() != Shape(logits.shape().begin(), logits.shape().end() - 1))
    throw std::invalid_argument(fmt::format("cross_entropy: logits {} need targets of their shape without the last "
                                            "axis, got {}",
                                            shape_str(logits.shape()), shape_str(target.shape())));
  const std::int64_t c = logits.size(-1);
  const Tensor l2 = prim::reshape(logits, {-1, c});
  const Tensor t1 = prim::reshape(target, {-1});
  auto r = prim::cross_entropy(l2, t1, ignore_index, label_smoothing);
  Tensor y = r.loss;
  autograd::record<CrossEntropyNode>(y, {logits, target}, logits.shape(), r.log_prob, prim::contiguous(t1), ignore_index,
                                     label_smoothing, r.count);
  return y;
}

Tensor mse(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(fmt::format("mse: shapes differ ({} and {})", shape_str(a.shape()), shape_str(b.shape())));
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(fmt::format("mse: dtypes differ ({} and {}); cast one with ops::cast", dtype_name(a.dtype()),
                                            dtype_name(b.dtype())));
  const Tensor diff = prim::binary(prim::Binary::sub, a, b);
  const double v = prim::sum_all(prim::unary(prim::Unary::square, diff)) / static_cast<double>(std::max<std::int64_t>(1, a.numel()));
  Tensor y = prim::to_device(Tensor::scalar(v, a.dtype()), a.device());
  autograd::record<MseNode>(y, {a, b}, diff);
  return y;
}

}  // namespace wb::ops
