#include "ops/layer_norm.hpp"

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class LayerNormNode final : public autograd::Node {
 public:
  LayerNormNode(Tensor x, Tensor mean, Tensor rstd, Tensor gamma)
      : x_(std::move(x)), mean_(std::move(mean)), rstd_(std::move(rstd)), gamma_(std::move(gamma)) {}
  std::string_view name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    auto g = prim::layer_norm_backward(dy, x_, mean_, rstd_, gamma_);
    return {needs_grad(0) ? g.dx : Tensor(), needs_grad(1) ? g.dgamma : Tensor(), needs_grad(2) ? g.dbeta : Tensor()};
  }
  void release_saved() override { x_ = mean_ = rstd_ = gamma_ = Tensor(); }

 private:
  Tensor x_, mean_, rstd_, gamma_;
};

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  auto r = prim::layer_norm(x, gamma, beta, eps);
  Tensor y = r.y;
  autograd::record<LayerNormNode>(y, {x, gamma, beta}, x.detach(), r.mean, r.rstd, gamma.defined() ? gamma.detach() : Tensor());
  return y;
}

}  // namespace wb::ops
