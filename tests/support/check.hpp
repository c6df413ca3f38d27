// Test helpers shared by every suite.
//
//   allclose(actual, expected, atol, rtol)   elementwise |a - e| <= atol + rtol |e|; on failure the
//                                             message gives the max abs/rel error, the worst index and
//                                             the first mismatching pairs (use inside BOOST_TEST).
//   check_grad(f, inputs)                    float64 central-difference gradcheck with a random output
//                                             weighting (autograd/gradcheck.hpp); BOOST_TEST(r.ok, ...)
//   randn / uniform                           seeded random tensors
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "tensor/parallel.hpp"
#include "tensor/tensor.hpp"

namespace wb {
// Printable in Boost.Test failure messages.
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }
inline std::ostream& operator<<(std::ostream& os, Device d) { return os << device_name(d); }
}  // namespace wb

namespace wbtest {

using wb::DType;
using wb::Shape;
using wb::Tensor;

boost::test_tools::predicate_result allclose(const Tensor& actual, const Tensor& expected, double atol = 1e-6,
                                             double rtol = 1e-5);
// Same, against literal expected values in row-major order.
boost::test_tools::predicate_result allclose(const Tensor& actual, const std::vector<double>& expected,
                                             double atol = 1e-6, double rtol = 1e-5);

Tensor randn(const Shape& shape, std::uint64_t seed, DType dtype = DType::f64, double scale = 1.0);
Tensor uniform(const Shape& shape, std::uint64_t seed, double lo, double hi, DType dtype = DType::f64);
// Marks t as a leaf that requires grad and returns it (for inline use).
Tensor param(Tensor t);

// Whether this test binary runs under AddressSanitizer (the CI's ASan+UBSan build, where every op costs
// 10-30x more): exhaustive loops may sample there, since the release build runs them whole.
constexpr bool kSanitized =
#if defined(__SANITIZE_ADDRESS__)
    true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    true;
#else
    false;
#endif
#else
    false;
#endif

// The kernels' thread count set to n for a scope, and restored after it.
struct ThreadCount {
  explicit ThreadCount(int n) : saved(wb::num_threads()) { wb::set_num_threads(n); }
  ~ThreadCount() { wb::set_num_threads(saved); }
  ThreadCount(const ThreadCount&) = delete;
  ThreadCount& operator=(const ThreadCount&) = delete;
  int saved;
};

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Runs a gradcheck and reports through BOOST_TEST with the worst index on failure.
void check_grad(const wb::autograd::TensorFn& f, const std::vector<Tensor>& inputs,
                wb::autograd::GradcheckOptions options = {});
void check_grad_direction(const wb::autograd::TensorFn& f, const std::vector<Tensor>& inputs,
                          wb::autograd::GradcheckOptions options = {});

}  // namespace wbtest
