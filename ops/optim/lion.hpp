// Lion (Chen et al. 2023; lion_pytorch, as used by the official CRATE ImageNet recipe, crate-spec
// §4.1), per parameter p with gradient g:
//   p = p * (1 - lr * wd)                          (decoupled weight decay)
//   c = beta1 * m + (1 - beta1) * g
//   p = p - lr * sign(c)                           (sign(0) = 0)
//   m = beta2 * m + (1 - beta2) * g
// Defaults beta1 0.9, beta2 0.99 (lion_pytorch). State: exp_avg (m).
#pragma once

#include <vector>

#include "ops/optim/optimizer.hpp"

namespace wb::optim {

struct LionOptions {
  double beta1 = 0.9;
  double beta2 = 0.99;
};

class Lion final : public Optimizer {
 public:
  explicit Lion(std::vector<ParamGroup> groups, LionOptions options = {});
  const LionOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) override;

  LionOptions options_;
};

}  // namespace wb::optim
