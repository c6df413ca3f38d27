#include "crate/nn/linear.hpp"

#include <cmath>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

Linear::Linear(std::int64_t in, std::int64_t out, bool bias, DType dtype, Generator& gen) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  weight_ = &register_parameter("weight", uniform_init({out, in}, bound, dtype, gen));
  if (bias) bias_ = &register_parameter("bias", uniform_init({out}, bound, dtype, gen));
}

Tensor Linear::forward(const Tensor& x) const {
  Tensor y = ops::matmul(x, ops::transpose(*weight_, 0, 1));
  return bias_ != nullptr ? y + *bias_ : y;
}

}  // namespace wb::crate
