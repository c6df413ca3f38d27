#include "crate/blocks/mlp.hpp"

#include "ops/ops.hpp"

namespace wb::crate {

MLP::MLP(const BlockConfig& c, Generator& gen) {
  const std::int64_t h = c.mlp_ratio * c.dim;
  fc1_ = &register_module("fc1", std::make_shared<Linear>(c.dim, h, true, c.dtype, gen));
  fc2_ = &register_module("fc2", std::make_shared<Linear>(h, c.dim, true, c.dtype, gen));
}

Tensor MLP::forward(const Tensor& x) const { return fc2_->forward(ops::gelu(fc1_->forward(x))); }

}  // namespace wb::crate
