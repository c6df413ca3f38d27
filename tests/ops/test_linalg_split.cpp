// The single-matrix paths of the linear-algebra primitives that split work over the thread pool: a
// Gram matrix over many rows (partial ?syrk over fixed row blocks) and solves over blocks of right-hand
// sides. Checked against plain double loops, and across thread counts.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;

namespace {
using Threads = wbtest::ThreadCount;
}  // namespace

BOOST_AUTO_TEST_SUITE(linalg_split)

BOOST_AUTO_TEST_CASE(gram_over_many_rows_matches_loops_and_thread_counts) {
  // 20000 rows > 2 blocks of 8192: the split path on 2 and 3 threads, the single call on 1.
  const std::int64_t rows = 20000, d = 5;
  const Tensor x = wbtest::randn({rows, d}, 71);
  const auto xv = x.to_vector<double>();
  std::vector<double> want(static_cast<std::size_t>(d * d), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < d; ++i)
      for (std::int64_t j = 0; j < d; ++j)
        want[static_cast<std::size_t>(i * d + j)] += 0.5 * xv[static_cast<std::size_t>(r * d + i)] * xv[static_cast<std::size_t>(r * d + j)];
  for (std::int64_t i = 0; i < d; ++i) want[static_cast<std::size_t>(i * d + i)] += 2.0;
  Tensor g1, g2, g3;
  {
    Threads t(1);
    g1 = prim::gram(x, prim::Gram::xtx, 0.5, 2.0);
  }
  {
    Threads t(2);
    g2 = prim::gram(x, prim::Gram::xtx, 0.5, 2.0);
  }
  {
    Threads t(3);
    g3 = prim::gram(x, prim::Gram::xtx, 0.5, 2.0);
    // X X^T of the transposed view takes the other stored orientation through the same split
    BOOST_TEST(wbtest::allclose(prim::gram(prim::transpose(x, 0, 1), prim::Gram::xxt, 0.5, 2.0), want, 1e-9, 1e-10));
  }
  BOOST_TEST(wbtest::allclose(g1, want, 1e-9, 1e-10));
  BOOST_TEST(wbtest::allclose(g2, want, 1e-9, 1e-10));
  BOOST_TEST((g2.to_vector<double>() == g3.to_vector<double>()));  // fixed blocks: same sums on 2 and 3 threads
}

BOOST_AUTO_TEST_CASE(split_solves_equal_one_call) {
  const std::int64_t n = 6, rhs = 300;
  Tensor a = prim::gram(wbtest::randn({40, n}, 72), prim::Gram::xtx, 1.0, 1.0);
  const Tensor l = prim::cholesky(a);
  const Tensor right = wbtest::randn({rhs, n}, 73);  // X A^-1: rows are independent
  const Tensor left = wbtest::randn({n, rhs}, 74);   // A^-1 X: columns are independent
  Tensor r1, l1, r3, l3;
  {
    Threads t(1);
    r1 = prim::cholesky_solve(l, right, prim::Side::right);
    l1 = prim::cholesky_solve(l, left, prim::Side::left);
  }
  {
    Threads t(3);
    r3 = prim::cholesky_solve(l, right, prim::Side::right);
    l3 = prim::cholesky_solve(l, left, prim::Side::left);
  }
  BOOST_TEST((r1.to_vector<double>() == r3.to_vector<double>()));
  BOOST_TEST((l1.to_vector<double>() == l3.to_vector<double>()));
  // and they solve: (X A^-1) A = X
  BOOST_TEST(wbtest::allclose(prim::matmul(r3, a), right, 1e-10, 1e-9));
  BOOST_TEST(wbtest::allclose(prim::matmul(a, l3), left, 1e-10, 1e-9));
}

BOOST_AUTO_TEST_SUITE_END()
