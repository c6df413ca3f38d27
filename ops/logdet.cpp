#include "ops/logdet.hpp"

#include "autograd/node.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class LogdetNode final : public autograd::Node {
 public:
  explicit LogdetNode(Tensor l) : l_(std::move(l)) {}
  std::string_view name() const override { return "logdet"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    // dA = dy * A^{-1}, dy broadcast over the two matrix axes.
    const Tensor inv = prim::cholesky_inverse(l_);
    return {prim::binary(prim::Binary::mul, inv, prim::unsqueeze(prim::unsqueeze(dy, -1), -1))};
  }
  void release_saved() override { l_ = Tensor(); }

 private:
  Tensor l_;
};

}  // namespace

Tensor logdet(const Tensor& a) {
  Tensor l = prim::cholesky(a, "logdet");
  Tensor y = prim::cholesky_logdet(l);
  autograd::record<LogdetNode>(y, {a}, std::move(l));
  return y;
}

}  // namespace wb::ops
