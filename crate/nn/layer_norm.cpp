#include "crate/nn/layer_norm.hpp"

#include "ops/ops.hpp"

namespace wb::crate {

LayerNorm::LayerNorm(std::int64_t dim, double eps, DType dtype) : eps_(eps) {
  weight_ = &register_parameter("weight", Tensor::ones({dim}, dtype));
  bias_ = &register_parameter("bias", Tensor::zeros({dim}, dtype));
}

Tensor LayerNorm::forward(const Tensor& x) const { return ops::layer_norm(x, *weight_, *bias_, eps_); }

}  // namespace wb::crate
