// The sparse rate reduction term the training loop adds to a task's loss (--srr-weight w):
//   w * (1 / L) sum_l mean_b [ R^c(Z^{l+1} | U^l) + lambda_l ||Z^{l+1}||_1 - R(Z^{l+1}) ]
// over any stack of CRATE layers and their traces (ops::sparse_rate_reduction with eps^2 = 0.01 and
// the measurement convention of crate-spec §3; U^l from each layer's block, lambda_l its config's).
#pragma once

#include <vector>

#include "crate/instruments/layer_stack.hpp"

namespace wb::crate {

// The mean over layers and images; throws std::invalid_argument when the stack is empty or the
// traces do not match it.
Tensor sparse_rate_reduction_objective(LayerStack layers,
                                       const std::vector<LayerTrace>& traces);

}  // namespace wb::crate
