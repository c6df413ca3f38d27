// Inverted dropout: in training, y = x * m / (1 - p) with m ~ Bernoulli(1 - p) drawn from `gen`;
// dx = dy * m / (1 - p) (saves the scaled mask). In evaluation (training = false) or with p = 0 it is
// the identity.
#pragma once

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace wb::ops
