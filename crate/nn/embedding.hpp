// Embedding: a lookup table of V rows of width d (PyTorch's nn.Embedding, parameter "weight" (V, d),
// init N(0, 1)). forward(ids) takes i64 ids of any shape S and returns (S..., d); the gradient of a
// row is the sum of the gradients at every position that looked it up (ops::index_select's backward).
// An id outside [0, V) throws naming the id and V.
#pragma once

#include "crate/nn/module.hpp"
#include "tensor/rng.hpp"

namespace wb::crate {

class Embedding : public Module {
 public:
  Embedding(std::int64_t num, std::int64_t dim, DType dtype, Generator& gen);
  Tensor forward(const Tensor& ids) const;
  const Tensor& weight() const { return *weight_; }

 private:
  Tensor* weight_ = nullptr;
};

}  // namespace wb::crate
