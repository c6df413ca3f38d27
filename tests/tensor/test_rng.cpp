#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "tensor/prim.hpp"
#include "tensor/rng.hpp"
#include "tests/support/check.hpp"

using namespace wb;

BOOST_AUTO_TEST_SUITE(rng)

BOOST_AUTO_TEST_CASE(stream_is_pinned) {
  // xoshiro256** seeded through splitmix64(42); the expected words come from an independent Python
  // implementation of both algorithms, so the stream is the same on every machine. A change here
  // breaks every seeded run.
  Generator g(42);
  BOOST_TEST(g.next_u64() == 0x15780b2e0c2ec716ULL);
  BOOST_TEST(g.next_u64() == 0x6104d9866d113a7eULL);
  BOOST_TEST(g.uniform() == 0.6800434110281394);  // third word >> 11, times 2^-53
}

BOOST_AUTO_TEST_CASE(normal_moments) {
  Generator g(1);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = g.normal();
    s += v;
    s2 += v * v;
  }
  BOOST_TEST(std::abs(s / n) < 0.01);
  BOOST_TEST(std::abs(s2 / n - 1.0) < 0.02);
}

BOOST_AUTO_TEST_CASE(permutation_and_below) {
  Generator g(3);
  auto p = g.permutation(1000);
  auto sorted = p;
  std::sort(sorted.begin(), sorted.end());
  bool ok = true;
  for (std::int64_t i = 0; i < 1000; ++i) ok = ok && sorted[static_cast<std::size_t>(i)] == i;
  BOOST_TEST(ok);
  BOOST_TEST(p != sorted);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 30000; ++i) counts[g.below(3)] += 1;
  for (int c : counts) BOOST_TEST(std::abs(c - 10000) < 500);
}

BOOST_AUTO_TEST_CASE(state_round_trip_resumes_stream) {
  Generator g(11);
  (void)g.normal();  // leaves a cached spare
  const auto st = g.state();
  const double n1 = g.normal(), u1 = g.uniform();
  Generator h(0);
  h.set_state(st);
  BOOST_TEST(h.normal() == n1);
  BOOST_TEST(h.uniform() == u1);
}

BOOST_AUTO_TEST_CASE(tensor_fills_and_bernoulli) {
  Generator g(5);
  Tensor t = Tensor::empty({10000}, DType::f64);
  prim::uniform_(t, -2.0, 3.0, g);
  const auto v = t.to_vector<double>();
  BOOST_TEST(*std::min_element(v.begin(), v.end()) >= -2.0);
  BOOST_TEST(*std::max_element(v.begin(), v.end()) < 3.0);
  prim::bernoulli_(t, 0.25, g);
  const double mean = prim::sum_all(t) / 10000.0;
  BOOST_TEST(std::abs(mean - 0.25) < 0.02);
  BOOST_CHECK_THROW(prim::bernoulli_(t, 1.5, g), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
