#include "crate/nn/init.hpp"

#include "tensor/prim.hpp"

namespace wb::crate {

Tensor uniform_init(const Shape& shape, double bound, DType dtype, Generator& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  prim::uniform_(t, -bound, bound, gen);
  return t;
}

Tensor normal_init(const Shape& shape, double stddev, DType dtype, Generator& gen) {
  Tensor t = Tensor::empty(shape, dtype);
  prim::normal_(t, 0.0, stddev, gen);
  return t;
}

}  // namespace wb::crate
