// The op registry: one table row per differentiable op (name, function, input shapes, input
// generator), swept by BOOST_DATA_TEST_CASE:
//   1. a float64 central-difference gradcheck of every element (an op without a backward records no
//      node and fails here: "the function's output does not depend on any input that requires grad");
//   2. the op records a node under its own name, and none under NoGradGuard;
//   3. the op in f32 agrees with the op in f64.
// A fourth check reads ops/*.hpp and fails for any declared op that has no row here.
// GCC 12 reports a false -Wrestrict inside the std::string concatenation of Boost's data-test-case
// names (GCC bug 105329); nothing in this file copies overlapping memory.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>

#include "autograd/grad_mode.hpp"
#include "autograd/node.hpp"
#include "ops/ops.hpp"
#include "tests/ops/op_testing.hpp"

using namespace wb;
using wbtest::positive;
namespace bdata = boost::unit_test::data;

namespace {

using V = std::vector<Tensor>;
using Gen = std::function<Tensor(const Shape&, std::uint64_t)>;

Tensor normal(const Shape& s, std::uint64_t seed) { return wbtest::randn(s, seed); }
Tensor off_zero(const Shape& s, std::uint64_t seed) { return wbtest::away_from(wbtest::randn(s, seed), 0.0, 0.1); }
Tensor off_kink(const Shape& s, std::uint64_t seed) { return wbtest::away_from(wbtest::randn(s, seed), 0.3, 0.1); }
Tensor distinct(const Shape& s, std::uint64_t seed) { return wbtest::spaced(s, seed); }
// X X^T + I for X (..., n, m): symmetric positive definite, in X's dtype.
Tensor spd(const Tensor& x) {
  const std::int64_t n = x.size(-2);
  std::vector<double> eye(static_cast<std::size_t>(n * n), 0.0);
  for (std::int64_t i = 0; i < n; ++i) eye[static_cast<std::size_t>(i * n + i)] = 1.0;
  return ops::matmul(x, ops::transpose(x, -1, -2)) + prim::cast(Tensor::from_vector(eye, {n, n}), x.dtype());
}
// Memberships of 6 tokens in 2 classes (data, no gradient).
Tensor memberships() { return Tensor::from_vector(std::vector<double>{1, 1, 0, 0.5, 0, 1, 0, 0, 1, 0.5, 1, 0}, {2, 6}); }
Tensor ids(std::vector<std::int64_t> v) {
  const auto n = static_cast<std::int64_t>(v.size());
  return Tensor::from_vector(v, {n});
}

struct OpCase {
  std::string name;  // the op, as declared in ops/*.hpp
  std::string node;  // the name of the node it records
  autograd::TensorFn fn;
  std::vector<Shape> shapes;
  Gen gen = normal;
  double eps = 1e-6;        // central-difference step
  double f32_rtol = 1e-5;   // f32 vs f64 agreement (atol is the same number)
};

std::ostream& operator<<(std::ostream& os, const OpCase& c) { return os << c.name; }

std::vector<OpCase> op_table() {
  return {
      {"add", "add", [](const V& t) { return ops::add(t[0], t[1]); }, {{3, 4}, {4}}},
      {"sub", "sub", [](const V& t) { return ops::sub(t[0], t[1]); }, {{3, 1}, {2, 3, 4}}},
      {"mul", "mul", [](const V& t) { return ops::mul(t[0], t[1]); }, {{3, 1}, {1, 4}}},
      {"div", "div", [](const V& t) { return ops::div(t[0], t[1]); }, {{2, 3}, {3}}, wbtest::positive},
      {"neg", "neg", [](const V& t) { return ops::neg(t[0]); }, {{2, 3}}},
      {"add_scalar", "add_scalar", [](const V& t) { return ops::add_scalar(t[0], 1.5); }, {{2, 3}}},
      {"mul_scalar", "mul_scalar", [](const V& t) { return ops::mul_scalar(t[0], -2.5); }, {{2, 3}}},
      {"exp", "exp", [](const V& t) { return ops::exp(t[0]); }, {{2, 3}}},
      {"log", "log", [](const V& t) { return ops::log(t[0]); }, {{2, 3}}, wbtest::positive},
      {"sqrt", "sqrt", [](const V& t) { return ops::sqrt(t[0]); }, {{2, 3}}, wbtest::positive},
      {"pow", "pow", [](const V& t) { return ops::pow(t[0], 2.5); }, {{2, 3}}, wbtest::positive},
      {"abs", "abs", [](const V& t) { return ops::abs(t[0]); }, {{2, 3}}, off_zero},
      {"tanh", "tanh", [](const V& t) { return ops::tanh(t[0]); }, {{2, 3}}},
      {"square", "square", [](const V& t) { return ops::square(t[0]); }, {{2, 3}}},
      {"relu", "relu", [](const V& t) { return ops::relu(t[0]); }, {{2, 3}}, off_zero},
      {"gelu", "gelu", [](const V& t) { return ops::gelu(t[0]); }, {{2, 3}}},
      {"soft_threshold", "soft_threshold", [](const V& t) { return ops::soft_threshold(t[0], 0.3); }, {{2, 3}}, off_kink},
      {"matmul", "matmul", [](const V& t) { return ops::matmul(t[0], t[1]); }, {{2, 3, 4}, {4, 2}}},
      {"sum", "sum", [](const V& t) { return ops::sum(t[0], {0, 2}); }, {{2, 3, 2}}},
      {"mean", "mean", [](const V& t) { return ops::mean(t[0], {1}, true); }, {{2, 3, 2}}},
      {"max", "max", [](const V& t) { return ops::max(t[0], 1); }, {{2, 3, 2}}, distinct},
      {"reshape", "reshape", [](const V& t) { return ops::reshape(t[0], {3, -1}); }, {{2, 3, 2}}},
      {"permute", "permute", [](const V& t) { return ops::permute(t[0], {1, 2, 0}); }, {{2, 3, 2}}},
      {"transpose", "permute", [](const V& t) { return ops::transpose(t[0], 0, 2); }, {{2, 3, 2}}},
      {"slice", "slice", [](const V& t) { return ops::slice(t[0], 1, 0, 5, 2); }, {{2, 5}}},
      {"expand", "expand", [](const V& t) { return ops::expand(t[0], {2, 3, 4}); }, {{3, 1}}},
      {"unsqueeze", "unsqueeze", [](const V& t) { return ops::unsqueeze(t[0], 1); }, {{2, 3}}},
      {"squeeze", "squeeze", [](const V& t) { return ops::squeeze(t[0], 1); }, {{2, 1, 3}}},
      {"contiguous", "contiguous", [](const V& t) { return ops::contiguous(ops::transpose(t[0], 0, 1)); }, {{2, 3}}},
      // f64 -> f32 -> f64: a step of 1e-2 keeps the f32 rounding small against it
      {"cast", "cast", [](const V& t) { return ops::cast(ops::cast(t[0], DType::f32), t[0].dtype()); }, {{2, 3}}, normal, 1e-2},
      {"concat", "concat", [](const V& t) { return ops::concat({t[0], t[1]}, 1); }, {{2, 1}, {2, 3}}},
      {"index_select", "index_select", [](const V& t) { return ops::index_select(t[0], 1, ids({2, 0, 2})); }, {{2, 3}}},
      {"gather", "gather",
       [](const V& t) { return ops::gather(t[0], 1, Tensor::from_vector(std::vector<std::int64_t>{2, 2, 0, 1}, {2, 2})); },
       {{2, 3}}},
      {"masked_fill", "masked_fill",
       [](const V& t) { return ops::masked_fill(t[0], Tensor::from_vector(std::vector<double>{1, 0, 1}, {3}), -4.0); },
       {{2, 3}}},
      {"embedding", "embedding",
       [](const V& t) { return ops::embedding(t[0], Tensor::from_vector(std::vector<std::int64_t>{3, 0, 3, 1}, {2, 2})); },
       {{4, 3}}},
      {"softmax", "softmax", [](const V& t) { return ops::softmax(t[0], 0); }, {{3, 4}}},
      {"log_softmax", "log_softmax", [](const V& t) { return ops::log_softmax(t[0], -1); }, {{3, 4}}},
      {"layer_norm", "layer_norm", [](const V& t) { return ops::layer_norm(t[0], t[1], t[2]); }, {{2, 5}, {5}, {5}}},
      {"dropout", "mul",
       [](const V& t) {
         Generator g(3);  // the same mask on every evaluation
         return ops::dropout(t[0], 0.4, true, g);
       },
       {{3, 4}}},
      {"cross_entropy", "cross_entropy",
       [](const V& t) { return ops::cross_entropy(t[0], Tensor::from_vector(std::vector<std::int64_t>{1, -100, 0, 3}, {2, 2}), -100, 0.1); },
       {{2, 2, 4}}},
      {"mse", "mse", [](const V& t) { return ops::mse(t[0], t[1]); }, {{2, 3}, {2, 3}}},
      // fused attention (ops/attention.hpp): (B, n, H p) with 2 heads of 2
      {"attention", "attention", [](const V& t) { return ops::attention(t[0], t[1], t[2], 2, 0.7); },
       {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}},
      {"tied_attention", "tied_attention", [](const V& t) { return ops::tied_attention(t[0], 2, 0.7); }, {{2, 3, 4}}},
      {"causal_attention", "causal_attention", [](const V& t) { return ops::causal_attention(t[0], t[1], t[2], 2, 0.7); },
       {{2, 3, 4}, {2, 3, 4}, {2, 3, 4}}},
      {"tied_causal_attention", "tied_causal_attention", [](const V& t) { return ops::tied_causal_attention(t[0], 2, 0.7); },
       {{2, 3, 4}}},
      // token-statistics attention (ops/tssa.hpp): w (B, n, K p) with 2 heads of 2, temp (K), bias (K, T_max)
      {"cumsum", "cumsum", [](const V& t) { return ops::cumsum(t[0], 1); }, {{2, 3, 2}}},
      {"clamp_min", "clamp_min", [](const V& t) { return ops::clamp_min(t[0], 0.3); }, {{2, 3}}, off_kink},
      {"tssa", "reshape", [](const V& t) { return ops::tssa(t[0], t[1], 2); }, {{2, 3, 4}, {2}}, normal, 1e-6, 1e-4},
      {"causal_tssa", "reshape", [](const V& t) { return ops::causal_tssa(t[0], t[1], t[2], 2); },
       {{2, 3, 4}, {2}, {2, 4}}, normal, 1e-6, 1e-4},
      // the coding-rate family (ops/logdet.hpp, ops/coding_rate.hpp): Z (..., N, d), U (K, p, d)
      {"logdet", "logdet", [](const V& t) { return ops::logdet(spd(t[0])); }, {{2, 3, 3}}, normal, 1e-6, 1e-4},
      {"coding_rate", "coding_rate", [](const V& t) { return ops::coding_rate(t[0], 0.5); }, {{2, 5, 3}}, normal, 1e-6, 1e-4},
      {"compressed_coding_rate", "compressed_coding_rate",
       [](const V& t) { return ops::compressed_coding_rate(t[0], t[1], 0.5); }, {{5, 4}, {2, 2, 4}}, normal, 1e-6, 1e-4},
      {"rate_reduction", "sub", [](const V& t) { return ops::rate_reduction(t[0], t[1], 0.5); }, {{5, 4}, {2, 2, 4}},
       normal, 1e-6, 1e-4},
      {"sparse_rate_reduction", "sub", [](const V& t) { return ops::sparse_rate_reduction(t[0], t[1], 0.1, 0.5); },
       {{5, 4}, {2, 2, 4}}, off_zero, 1e-6, 1e-4},
      {"class_coding_rate", "class_coding_rate", [](const V& t) { return ops::class_coding_rate(t[0], memberships(), 0.5); },
       {{6, 3}}, normal, 1e-6, 1e-4},
      {"mcr2_rate_reduction", "sub", [](const V& t) { return ops::mcr2_rate_reduction(t[0], memberships(), 0.5); },
       {{6, 3}}, normal, 1e-6, 1e-4},
  };
}

V make_inputs(const OpCase& c) {
  V in;
  for (std::size_t i = 0; i < c.shapes.size(); ++i) in.push_back(wbtest::param(c.gen(c.shapes[i], 100 + i)));
  return in;
}

// Names of the functions returning Tensor declared at the start of a line in ops/*.hpp.
std::set<std::string> declared_ops(const std::filesystem::path& dir) {
  std::set<std::string> names;
  const std::regex decl(R"(^Tensor ([a-z_0-9]+)\()");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".hpp") continue;
    std::ifstream in(entry.path());
    std::string line;
    std::smatch m;
    while (std::getline(in, line))
      if (std::regex_search(line, m, decl)) names.insert(m[1]);
  }
  return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry)

BOOST_DATA_TEST_CASE(gradcheck_every_op, bdata::make(op_table()), op) {
  autograd::GradcheckOptions o;
  o.eps = op.eps;
  wbtest::check_grad(op.fn, make_inputs(op), o);
}

BOOST_DATA_TEST_CASE(records_a_node_named_after_the_op, bdata::make(op_table()), op) {
  const V in = make_inputs(op);
  const Tensor y = op.fn(in);
  BOOST_TEST_REQUIRE(y.grad_fn() != nullptr, op.name << " recorded no node");
  BOOST_TEST(std::string(y.grad_fn()->name()) == op.node);
  BOOST_TEST(y.dtype() == DType::f64);
  autograd::NoGradGuard guard;
  const Tensor z = op.fn(in);
  BOOST_TEST(!z.grad_fn());
  BOOST_TEST(!z.requires_grad());
}

BOOST_DATA_TEST_CASE(f32_agrees_with_f64, bdata::make(op_table()), op) {
  V in64 = make_inputs(op), in32;
  for (auto& t : in64) {
    t = t.detach();
    in32.push_back(prim::cast(t, DType::f32));
  }
  const Tensor y64 = op.fn(in64), y32 = op.fn(in32);
  BOOST_TEST(y32.dtype() == DType::f32);
  BOOST_TEST(wbtest::allclose(prim::cast(y32, DType::f64), y64, op.f32_rtol, op.f32_rtol));
}

BOOST_AUTO_TEST_CASE(every_declared_op_has_a_row) {
  // The test runs from the project root (meson's workdir); fall back to this file's location.
  std::filesystem::path dir = "ops";
  if (!std::filesystem::exists(dir / "ops.hpp"))
    dir = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "ops";
  BOOST_TEST_REQUIRE(std::filesystem::exists(dir / "ops.hpp"), "cannot find ops/*.hpp; run from the project root");
  // Declared functions that are not differentiable ops.
  const std::set<std::string> exempt = {
      "argmax",     // integer result, no gradient
      "unary_map",  // the helper behind the elementwise ops, each of which has its row
  };
  std::set<std::string> rows;
  for (const auto& c : op_table()) rows.insert(c.name);
  const auto declared = declared_ops(dir);
  BOOST_TEST(declared.size() >= rows.size());
  for (const auto& name : declared)
    if (!exempt.count(name))
      BOOST_TEST(rows.count(name) == 1u, "ops/ declares '" << name << "' but the registry in " << __FILE__
                                                           << " has no row for it (add one: every op needs a backward)");
  for (const auto& name : rows) BOOST_TEST(declared.count(name) == 1u, "registry row '" << name << "' names no declared op");
}

BOOST_AUTO_TEST_SUITE_END()
