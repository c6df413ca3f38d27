#include "crate/train/objectives/sparse_rate_reduction.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "ops/coding_rate.hpp"
#include "ops/ops.hpp"

namespace wb::crate {

Tensor sparse_rate_reduction_objective(LayerStack layers,
                                       const std::vector<LayerTrace>& traces) {
  if (layers.empty()) throw std::invalid_argument("sparse rate reduction objective: the model has no layers");
  if (traces.size() != layers.size())
    throw std::invalid_argument(fmt::format("sparse rate reduction objective: {} traces for {} layers", traces.size(),
                                            layers.size()));
  Tensor total;
  for (std::size_t l = 0; l < traces.size(); ++l) {
    const Tensor s = ops::mean(ops::sparse_rate_reduction(traces[l].output, layers[l]->subspaces(),
                                                          layers[l]->config().lambda, ops::kMeasurementEps,
                                                          ops::kMeasurement));
    total = total.defined() ? ops::add(total, s) : s;
  }
  return ops::mul_scalar(total, 1.0 / static_cast<double>(traces.size()));
}

}  // namespace wb::crate
