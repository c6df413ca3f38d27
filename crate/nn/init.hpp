// Parameter initializers: fresh tensors drawn from the project RNG (crate-spec §1.4 names which
// module uses which). Every draw goes through the caller's Generator in call order, so a model's
// initial weights are a function of its config and seed alone.
#pragma once

#include "tensor/rng.hpp"
#include "tensor/tensor.hpp"

namespace wb::crate {

// Draws U(-bound, bound) into a new tensor of `shape`.
Tensor uniform_init(const Shape& shape, double bound, DType dtype, Generator& gen);
// Draws N(0, stddev^2) into a new tensor of `shape`.
Tensor normal_init(const Shape& shape, double stddev, DType dtype, Generator& gen);

}  // namespace wb::crate
