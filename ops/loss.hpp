// Losses:
//   cross_entropy(logits (..., C), target (...) i64, ignore_index, label_smoothing)
//       loss = mean over kept rows of -sum_c q_c log softmax(logits)_c,  q = (1-s) onehot + s/C
//       dlogits = (softmax - q) / (kept rows), 0 on ignored rows     (fused, saves log-probabilities)
//   mse(a, b) = mean((a - b)^2)       da = 2 (a - b) / n * dy,  db = -da
#pragma once

#include <cstdint>

#include "tensor/tensor.hpp"

namespace wb::ops {

Tensor cross_entropy(const Tensor& logits, const Tensor& target, std::int64_t ignore_index = -100,
                     double label_smoothing = 0.0);
Tensor mse(const Tensor& a, const Tensor& b);

}  // namespace wb::ops
