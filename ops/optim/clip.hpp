// Gradient-norm clipping (PyTorch torch.nn.utils.clip_grad_norm_) and finiteness checks.
//   norm = sqrt(sum over params of sum(g^2))    (parameters with an undefined gradient are skipped;
//                                                accumulated in double)
//   if max_norm / (norm + 1e-6) < 1:  g *= max_norm / (norm + 1e-6)   for every gradient, in place
// A non-finite norm (a nan or inf gradient, e.g. after a diverging loss) is never used to scale.
// OnNonFinite::throw_error (the default) throws std::runtime_error naming the first parameter whose
// gradient is non-finite; OnNonFinite::return_norm leaves the gradients untouched and returns the
// non-finite norm so the caller can skip the step.
#pragma once

#include <string_view>
#include <vector>

#include "tensor/tensor.hpp"

namespace wb::optim {

enum class OnNonFinite { throw_error, return_norm };

// The total L2 norm of the gradients, without clipping (may be nan or inf).
double grad_norm(const std::vector<Tensor>& params);

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm,
                       OnNonFinite on_nonfinite = OnNonFinite::throw_error);

// Throws std::runtime_error "non-finite <what>: <value>" unless value is finite; for losses in
// training loops, e.g. check_finite(loss.item(), "loss at step 120").
void check_finite(double value, std::string_view what);

}  // namespace wb::optim
