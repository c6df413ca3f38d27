#include "crate/nn/embedding.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "crate/nn/init.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

Embedding::Embedding(std::int64_t num, std::int64_t dim, DType dtype, Generator& gen) {
  weight_ = &register_parameter("weight", normal_init({num, dim}, 1.0, dtype, gen));
}

Tensor Embedding::forward(const Tensor& ids) const {
  if (ids.dtype() != DType::i64)
    throw std::invalid_argument(fmt::format("Embedding: ids must be i64, got {} {}", shape_str(ids.shape()),
                                            dtype_name(ids.dtype())));
  const std::int64_t num = weight_->size(0);
  const Tensor flat = ops::reshape(ids, {ids.numel()});
  for (const std::int64_t id : flat.to_vector<std::int64_t>())
    if (id < 0 || id >= num)
      throw std::invalid_argument(fmt::format("Embedding: id {} is outside the table of {} rows", id, num));
  Shape out = ids.shape();
  out.push_back(weight_->size(1));
  return ops::reshape(ops::index_select(*weight_, 0, flat), out);
}

}  // namespace wb::crate
