#include "ops/unary.hpp"

#include "autograd/node.hpp"

namespace wb::ops {
namespace {

class UnaryMapNode final : public autograd::Node {
 public:
  UnaryMapNode(prim::Unary op, double p, Tensor saved, const char* name)
      : op_(op), p_(p), saved_(std::move(saved)), name_(name) {}
  std::string_view name() const override { return name_; }
  std::vector<Tensor> backward(const Tensor& dy) override { return {prim::unary_backward(op_, dy, saved_, p_)}; }
  void release_saved() override { saved_ = Tensor(); }

 private:
  prim::Unary op_;
  double p_;
  Tensor saved_;
  const char* name_;
};

}  // namespace

Tensor unary_map(prim::Unary op, const Tensor& x, double p, bool save_output, const char* name) {
  Tensor y = prim::unary(op, x, p);
  if (autograd::should_record({x}))
    autograd::attach(y, std::make_shared<UnaryMapNode>(op, p, save_output ? y.detach() : x.detach(), name), {x});
  return y;
}

Tensor exp(const Tensor& x) { return unary_map(prim::Unary::exp, x, 0.0, true, "exp"); }
Tensor log(const Tensor& x) { return unary_map(prim::Unary::log, x, 0.0, false, "log"); }
Tensor sqrt(const Tensor& x) { return unary_map(prim::Unary::sqrt, x, 0.0, true, "sqrt"); }
Tensor pow(const Tensor& x, double p) { return unary_map(prim::Unary::pow, x, p, false, "pow"); }
Tensor abs(const Tensor& x) { return unary_map(prim::Unary::abs, x, 0.0, false, "abs"); }
Tensor tanh(const Tensor& x) { return unary_map(prim::Unary::tanh, x, 0.0, true, "tanh"); }
Tensor square(const Tensor& x) { return unary_map(prim::Unary::square, x, 0.0, false, "square"); }

}  // namespace wb::ops
