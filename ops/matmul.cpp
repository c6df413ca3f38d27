#include "ops/matmul.hpp"

#include "autograd/node.hpp"
#include "ops/util.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {
namespace {

class MatmulNode final : public autograd::Node {
 public:
  MatmulNode(const Tensor& a, const Tensor& b)
      : a_(tracks_grad(b) ? a.detach() : Tensor()), b_(tracks_grad(a) ? b.detach() : Tensor()), sa_(a.shape()),
        sb_(b.shape()) {}
  std::string_view name() const override { return "matmul"; }
  std::vector<Tensor> backward(const Tensor& dy) override {
    Tensor da, db;
    if (needs_grad(0)) da = prim::reduce_to_shape(prim::matmul(dy, prim::transpose(b_, -1, -2)), sa_);
    if (needs_grad(1)) {
      if (sb_.size() == 2 && sa_.size() > 2) {
        // Fold the batch into the rows: dB = A_flat^T dY_flat, one GEMM.
        const std::int64_t k = sa_.back(), n = dy.shape().back();
        const Tensor a2 = prim::reshape(a_, {-1, k});
        const Tensor d2 = prim::reshape(dy, {-1, n});
        db = prim::matmul(prim::transpose(a2, 0, 1), d2);
      } else {
        db = prim::reduce_to_shape(prim::matmul(prim::transpose(a_, -1, -2), dy), sb_);
      }
    }
    return {da, db};
  }
  void release_saved() override { a_ = b_ = Tensor(); }

 private:
  Tensor a_, b_;
  Shape sa_, sb_;
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  Tensor y = prim::matmul(a, b);
  autograd::record<MatmulNode>(y, {a, b}, a, b);
  return y;
}

}  // namespace wb::ops
