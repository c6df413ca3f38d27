// SGD with momentum, PyTorch semantics (torch.optim.SGD), per parameter p with gradient g:
//   d = g + wd * p                                  (L2 weight decay added to the gradient)
//   buf = d on the first step, else buf = momentum * buf + (1 - dampening) * d   (when momentum > 0)
//   d = nesterov ? d + momentum * buf : buf         (when momentum > 0)
//   p = p - lr * d
// State: momentum_buffer (only when momentum > 0).
#pragma once

#include <vector>

#include "ops/optim/optimizer.hpp"

namespace wb::optim {

struct SGDOptions {
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;  // needs momentum > 0 and dampening == 0
};

class SGD final : public Optimizer {
 public:
  explicit SGD(std::vector<ParamGroup> groups, SGDOptions options = {});
  const SGDOptions& options() const { return options_; }

 private:
  void update(const ParamGroup& group, const Tensor& p, const Tensor& grad, ParamState& s) override;

  SGDOptions options_;
};

}  // namespace wb::optim
