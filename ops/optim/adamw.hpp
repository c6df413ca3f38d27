// AdamW, PyTorch semantics (torch.optim.AdamW, amsgrad off), per parameter p with gradient g, step t:
//   p = p * (1 - lr * wd)                          (decoupled weight decay)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)    (eps outside the sqrt)
// State: exp_avg (m), exp_avg_sq (v) and the step count t.
#pragma once

#include <vector>

#include "ops/optim/optimizer.hpp"

namespace wb::optim {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};

class AdamW final : public Optimizer {
 public:
  explicit AdamW(std::vector<ParamGroup> groups, AdamWOptions options = {});
  const AdamWOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) override;

  AdamWOptions options_;
};

}  // namespace wb::optim
