#include <boost/test/unit_test.hpp>

#include <cmath>

#include "datasets/subspaces.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::data;

BOOST_AUTO_TEST_SUITE(subspaces)

namespace {
// max |A^T B - target| over the entries, A, B: (d, p) and (d, q) as row-major vectors.
double gram_error(const std::vector<double>& a, const std::vector<double>& b, std::int64_t d, std::int64_t p,
                  std::int64_t q, bool identity) {
  double worst = 0.0;
  for (std::int64_t i = 0; i < p; ++i)
    for (std::int64_t j = 0; j < q; ++j) {
      double s = 0.0;
      for (std::int64_t t = 0; t < d; ++t) s += a[static_cast<std::size_t>(t * p + i)] * b[static_cast<std::size_t>(t * q + j)];
      worst = std::max(worst, std::abs(s - (identity && i == j ? 1.0 : 0.0)));
    }
  return worst;
}

// || (I - U U^T) x || for U (d, p) orthonormal, x (d).
double residual(const std::vector<double>& U, const double* x, std::int64_t d, std::int64_t p) {
  std::vector<double> c(static_cast<std::size_t>(p), 0.0);
  for (std::int64_t t = 0; t < d; ++t)
    for (std::int64_t j = 0; j < p; ++j) c[static_cast<std::size_t>(j)] += U[static_cast<std::size_t>(t * p + j)] * x[t];
  double r2 = 0.0;
  for (std::int64_t t = 0; t < d; ++t) {
    double proj = 0.0;
    for (std::int64_t j = 0; j < p; ++j) proj += U[static_cast<std::size_t>(t * p + j)] * c[static_cast<std::size_t>(j)];
    r2 += (x[t] - proj) * (x[t] - proj);
  }
  return std::sqrt(r2);
}

double norm(const double* x, std::int64_t d) {
  double s = 0.0;
  for (std::int64_t t = 0; t < d; ++t) s += x[t] * x[t];
  return std::sqrt(s);
}
}  // namespace

BOOST_AUTO_TEST_CASE(bases_are_orthonormal_and_tokens_lie_in_their_subspace) {
  SubspaceMixtureOptions o;
  o.ambient_dim = 24;
  o.num_subspaces = 3;
  o.subspace_dim = 5;
  o.num_tokens = 90;
  o.noise = 0.1;
  Generator gen(7);
  const SubspaceMixture m = make_subspace_mixture(o, gen);
  BOOST_TEST((m.tokens.shape() == Shape{90, 24}));
  BOOST_TEST((m.clean.shape() == Shape{90, 24}));
  BOOST_TEST((m.bases.shape() == Shape{3, 24, 5}));
  BOOST_TEST((m.labels.shape() == Shape{90}));
  BOOST_TEST(m.tokens.dtype() == DType::f64);
  BOOST_TEST(m.labels.dtype() == DType::i64);

  std::vector<std::vector<double>> U;
  for (std::int64_t k = 0; k < 3; ++k) {
    U.push_back(m.basis(k).to_vector<double>());
    BOOST_TEST(gram_error(U[k], U[k], 24, 5, 5, true) < 1e-10, "U_" << k << "^T U_" << k << " != I");
  }
  // independent random subspaces are not orthogonal to each other
  BOOST_TEST(gram_error(U[0], U[1], 24, 5, 5, false) > 1e-2);

  const auto labels = m.labels.to_vector<std::int64_t>();
  const auto clean = m.clean.to_vector<double>();
  std::vector<int> counts(3, 0);
  for (std::int64_t n = 0; n < 90; ++n) {
    const std::int64_t l = labels[static_cast<std::size_t>(n)];
    BOOST_REQUIRE(l >= 0);
    BOOST_REQUIRE(l < 3);
    counts[static_cast<std::size_t>(l)] += 1;
    const double* x = clean.data() + n * 24;
    BOOST_TEST(residual(U[static_cast<std::size_t>(l)], x, 24, 5) < 1e-10 * norm(x, 24), "token " << n);
    // and not in the other subspaces: a 5-dim subspace of R^24 misses most of a foreign vector
    BOOST_TEST(residual(U[static_cast<std::size_t>((l + 1) % 3)], x, 24, 5) > 0.3 * norm(x, 24), "token " << n);
  }
  BOOST_TEST((counts == std::vector<int>{30, 30, 30}));  // balanced

  // the noise is isotropic with standard deviation sigma = 0.1
  const auto noisy = m.tokens.to_vector<double>();
  double s2 = 0.0;
  for (std::size_t i = 0; i < noisy.size(); ++i) s2 += (noisy[i] - clean[i]) * (noisy[i] - clean[i]);
  const double sigma = std::sqrt(s2 / static_cast<double>(noisy.size()));
  BOOST_TEST(std::abs(sigma - 0.1) < 0.01, "noise std " << sigma);
}

BOOST_AUTO_TEST_CASE(orthogonal_subspaces_and_unit_norm_coefficients) {
  SubspaceMixtureOptions o;
  o.ambient_dim = 12;
  o.num_subspaces = 3;
  o.subspace_dim = 4;  // K p = d: the subspaces split R^12
  o.num_tokens = 50;
  o.orthogonal = true;
  o.coefficients = Coefficients::unit_norm;
  o.scale = 2.5;
  o.balanced = false;
  Generator gen(3);
  const SubspaceMixture m = make_subspace_mixture(o, gen);
  std::vector<std::vector<double>> U;
  for (std::int64_t k = 0; k < 3; ++k) U.push_back(m.basis(k).to_vector<double>());
  for (std::size_t j = 0; j < 3; ++j)
    for (std::size_t k = 0; k < 3; ++k)
      BOOST_TEST(gram_error(U[j], U[k], 12, 4, 4, j == k) < 1e-10, "U_" << j << "^T U_" << k);
  const auto clean = m.clean.to_vector<double>();
  const auto labels = m.labels.to_vector<std::int64_t>();
  for (std::int64_t n = 0; n < 50; ++n) {
    BOOST_TEST(std::abs(norm(clean.data() + n * 12, 12) - 2.5) < 1e-12);
    BOOST_TEST(residual(U[static_cast<std::size_t>(labels[static_cast<std::size_t>(n)])], clean.data() + n * 12, 12, 4) <
               1e-10);
  }
  // no noise requested: tokens are the clean tokens
  BOOST_TEST(wbtest::allclose(m.tokens, m.clean, 0.0, 0.0));
}

BOOST_AUTO_TEST_CASE(seeded_and_dtype) {
  SubspaceMixtureOptions o;
  o.noise = 0.05;
  Generator g1(11), g2(11), g3(12);
  const auto a = make_subspace_mixture(o, g1);
  const auto b = make_subspace_mixture(o, g2);
  const auto c = make_subspace_mixture(o, g3);
  BOOST_TEST(wbtest::allclose(a.tokens, b.tokens, 0.0, 0.0));
  BOOST_TEST((a.labels.to_vector<std::int64_t>() == b.labels.to_vector<std::int64_t>()));
  BOOST_TEST(!wbtest::allclose(a.tokens, c.tokens, 1e-3, 0.0));

  o.dtype = DType::f32;
  Generator g4(11);
  const auto f = make_subspace_mixture(o, g4);
  BOOST_TEST(f.tokens.dtype() == DType::f32);
  BOOST_TEST(f.bases.dtype() == DType::f32);
  BOOST_TEST(wbtest::allclose(f.tokens, a.tokens, 1e-6, 1e-6));  // same draws, rounded to f32

  const Tensor q = random_orthonormal(6, 6, g4);
  BOOST_TEST(gram_error(q.to_vector<double>(), q.to_vector<double>(), 6, 6, 6, true) < 1e-10);
}

BOOST_AUTO_TEST_CASE(invalid_options_are_refused) {
  Generator gen(0);
  SubspaceMixtureOptions o;
  o.subspace_dim = 40;  // > d = 32
  BOOST_CHECK_THROW(make_subspace_mixture(o, gen), std::invalid_argument);
  o = {};
  o.orthogonal = true;
  o.num_subspaces = 9;  // 9 * 4 > 32
  BOOST_CHECK_THROW(make_subspace_mixture(o, gen), std::invalid_argument);
  o = {};
  o.noise = -1.0;
  BOOST_CHECK_THROW(make_subspace_mixture(o, gen), std::invalid_argument);
  o = {};
  o.dtype = DType::i64;
  BOOST_CHECK_THROW(make_subspace_mixture(o, gen), std::invalid_argument);
  BOOST_CHECK_THROW(random_orthonormal(3, 4, gen), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
