// MLP, the ViT baseline of the ISTA block: fc2(GELU(fc1(x))) with hidden width mlp_ratio * D
// (`fc1`, `fc2`, both with bias). The layer adds a residual around it (BlockConfig::residual_after_mlp).
#pragma once

#include "crate/blocks/config.hpp"
#include "crate/nn/linear.hpp"

namespace wb::crate {

class MLP : public Module {
 public:
  MLP(const BlockConfig& c, Generator& gen);
  Tensor forward(const Tensor& x) const;

 private:
  Linear* fc1_;
  Linear* fc2_;
};

}  // namespace wb::crate
