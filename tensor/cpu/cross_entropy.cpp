// Cross-entropy with label smoothing and an ignore index, fused with log-softmax.
//   logp = log_softmax(logits);  q = (1 - s) onehot(t) + s / C
//   loss = -(1/M) sum_{b: t_b != ignore} sum_c q_c logp_bc       (M = number of kept rows)
//   dlogits_b = (dloss / M) (softmax_b - q_b)  for kept rows, 0 for ignored rows
#include <cmath>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "tensor/kernels.hpp"
#include "tensor/parallel.hpp"

namespace wb::cpu {
namespace {

template <class T>
double cross_entropy_t(const T* logits, const std::int64_t* target, std::int64_t rows, std::int64_t c,
                       std::int64_t ignore, double s, T* logp, std::int64_t& count) {
  for (std::int64_t b = 0; b < rows; ++b) {
    const std::int64_t t = target[b];
    if (t != ignore && (t < 0 || t >= c))
      throw std::invalid_argument(
          fmt::format("cross_entropy: target[{}] = {} is outside [0, {}) and is not the ignore index {}", b, t, c, ignore));
  }
  std::vector<double> row_loss(static_cast<std::size_t>(rows), 0.0);
  parallel_for(rows, 16, [&](std::int64_t bb, std::int64_t be) {
    for (std::int64_t b = bb; b < be; ++b) {
      const T* x = logits + b * c;
      T* lp = logp + b * c;
      T mx = x[0];
      for (std::int64_t k = 1; k < c; ++k) mx = std::max(mx, x[k]);
      double se = 0.0;
      for (std::int64_t k = 0; k < c; ++k) se += std::exp(static_cast<double>(x[k] - mx));
      const T lse = mx + static_cast<T>(std::log(se));
      double sum_lp = 0.0;
      for (std::int64_t k = 0; k < c; ++k) {
        lp[k] = x[k] - lse;
        sum_lp += static_cast<double>(lp[k]);
      }
      const std::int64_t t = target[b];
      if (t == ignore) continue;
      row_loss[static_cast<std::size_t>(b)] =
          -((1.0 - s) * static_cast<double>(lp[t]) + s / static_cast<double>(c) * sum_lp);
    }
  });
  double total = 0.0;
  count = 0;
  for (std::int64_t b = 0; b < rows; ++b)
    if (target[b] != ignore) {
      total += row_loss[static_cast<std::size_t>(b)];
      ++count;
    }
  return count > 0 ? total / static_cast<double>(count) : 0.0;
}

template <class T>
void cross_entropy_backward_t(double dloss, const T* logp, const std::int64_t* target, std::int64_t rows,
                              std::int64_t c, std::int64_t ignore, double s, std::int64_t count, T* dx) {
  const double scale = count > 0 ? dloss / static_cast<double>(count) : 0.0;
  parallel_for(rows, 16, [&](std::int64_t bb, std::int64_t be) {
    for (std::int64_t b = bb; b < be; ++b) {
      T* d = dx + b * c;
      const std::int64_t t = target[b];
      if (t == ignore) {
        for (std::int64_t k = 0; k < c; ++k) d[k] = T(0);
        continue;
      }
      const T* lp = logp + b * c;
      const double off = s / static_cast<double>(c);
      for (std::int64_t k = 0; k < c; ++k) {
        const double q = off + (k == t ? 1.0 - s : 0.0);
        d[k] = static_cast<T>(scale * (std::exp(static_cast<double>(lp[k])) - q));
      }
    }
  });
}

}  // namespace

}  // namespace wb::cpu

namespace wb::kernel {
using namespace cpu;  // the helpers above

template <>
double cross_entropy<Device::CPU>(const Tensor& logits, const Tensor& target, std::int64_t ignore_index,
                                  double smoothing, const Tensor& log_prob, std::int64_t& count) {
  return dispatch_floating(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    return cross_entropy_t<T>(static_cast<const T*>(logits.raw_data()), target.data<std::int64_t>(), logits.size(0),
                              logits.size(1), ignore_index, smoothing, static_cast<T*>(log_prob.raw_data()), count);
  });
}

template <>
void cross_entropy_backward<Device::CPU>(double dloss, const Tensor& log_prob, const Tensor& target,
                                         std::int64_t ignore_index, double smoothing, std::int64_t count,
                                         const Tensor& dlogits) {
  dispatch_floating(log_prob.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    cross_entropy_backward_t<T>(dloss, static_cast<const T*>(log_prob.raw_data()), target.data<std::int64_t>(),
                                log_prob.size(0), log_prob.size(1), ignore_index, smoothing, count,
                                static_cast<T*>(dlogits.raw_data()));
  });
}

}  // namespace wb::kernel
