#include "ops/activation.hpp"

#include "ops/unary.hpp"

namespace wb::ops {

Tensor relu(const Tensor& x) { return unary_map(prim::Unary::relu, x, 0.0, true, "relu"); }
Tensor gelu(const Tensor& x) { return unary_map(prim::Unary::gelu, x, 0.0, false, "gelu"); }
Tensor soft_threshold(const Tensor& x, double t) {
  return unary_map(prim::Unary::soft_threshold, x, t, true, "soft_threshold");
}

}  // namespace wb::ops
