// Dispatch of the random fills. Values are drawn on the host in row-major order of x's shape and
// copied in, so a seed gives the same tensor on every device.
#include "tensor/dispatch/common.hpp"

namespace wb::prim {
using namespace detail;

namespace {
template <class Draw>
void random_fill(const Tensor& x, Draw draw) {
  check_defined(x, "random fill", "x");
  check_floating(x, "random fill");
  Tensor host = Tensor::empty(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "random fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = host.data<T>();
    for (std::int64_t i = 0, n = host.numel(); i < n; ++i) p[i] = static_cast<T>(draw());
  });
  copy_(x, host);
}
}  // namespace

void uniform_(const Tensor& x, double lo, double hi, Generator& gen) {
  random_fill(x, [&] { return gen.uniform(lo, hi); });
}

void normal_(const Tensor& x, double mean, double stddev, Generator& gen) {
  random_fill(x, [&] { return mean + stddev * gen.normal(); });
}

void bernoulli_(const Tensor& x, double p, Generator& gen) {
  if (p < 0.0 || p > 1.0) throw std::invalid_argument(fmt::format("bernoulli_: probability {} is outside [0, 1]", p));
  random_fill(x, [&] { return gen.bernoulli(p) ? 1.0 : 0.0; });
}

}  // namespace wb::prim
