#include "ops/dropout.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "ops/arith.hpp"
#include "tensor/prim.hpp"

namespace wb::ops {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  if (!(p >= 0.0 && p < 1.0)) throw std::invalid_argument(fmt::format("dropout: p = {} must be in [0, 1)", p));  // NaN too
  if (!is_floating(x.dtype()))
    throw std::invalid_argument(
        fmt::format("dropout: expected a floating tensor, got {} {}", shape_str(x.shape()), dtype_name(x.dtype())));
  if (!training || p == 0.0) return x;
  Tensor mask = Tensor::empty(x.shape(), x.dtype(), x.device());
  prim::bernoulli_(mask, 1.0 - p, gen);
  prim::scale_(mask, 1.0 / (1.0 - p));
  return mul(x, mask);  // the mul node saves the scaled mask for the backward
}

}  // namespace wb::ops
