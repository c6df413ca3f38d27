// The critique's variants of the CRATE layer (Hu, Zou, Xu, NeurIPS 2024; crate-family §2.8): attention
// only (mlp none), the negative sign of the MSSA step and the transposed (U-tied) output map, each
// against its hand composition from the blocks, plus their names, JSON and refusals. Their gradients
// are checked with the other variants in test_blocks.cpp (block_gradchecks_along_a_random_direction).
#include <boost/test/unit_test.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include "crate/blocks/layer.hpp"
#include "crate/models/vision/config.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;

namespace {
double critique_max_diff(const Tensor& a, const Tensor& b) {
  const auto x = prim::cast(a, DType::f64).to_vector<double>(), y = prim::cast(b, DType::f64).to_vector<double>();
  BOOST_REQUIRE(x.size() == y.size());
  double m = 0;
  for (std::size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(critique_variants)

BOOST_AUTO_TEST_CASE(each_variant_equals_its_composition_from_the_blocks) {
  const CrateConfig base = wbtest::small_config(DType::f64);
  const Tensor z = wbtest::randn({2, 5, 8}, 17);
  Generator g0(3);
  const CrateLayer crate_layer(base, g0);
  const Tensor y = crate_layer.ln1().forward(z);
  const Tensor a = crate_layer.mssa()->forward(y);
  {  // negative: Z - MSSA(LN Z), then the same ISTA (same seed, same parameters)
    CrateConfig c = base;
    c.mssa_sign = MssaSign::minus;
    Generator g(3);
    const CrateLayer layer(c, g);
    LayerTrace t;
    const Tensor out = layer.forward(z, &t);
    BOOST_TEST(critique_max_diff(t.z_half, z - a) < 1e-14);
    BOOST_TEST(critique_max_diff(out, layer.ista()->forward(t.ln2)) < 1e-14);
    BOOST_TEST(critique_max_diff(t.z_half, z + a) > 1e-3);  // the sign matters
  }
  {  // attention only: Z^{l+1} = Z + MSSA(LN Z), no second block
    CrateConfig c = base;
    c.mlp = MlpKind::none;
    Generator g(3);
    const CrateLayer layer(c, g);
    LayerTrace t;
    const Tensor out = layer.forward(z, &t);
    BOOST_TEST(critique_max_diff(out, z + a) < 1e-14);
    BOOST_TEST(t.code.is_same(out));
    BOOST_TEST(layer.ista() == nullptr);
    for (const auto& [name, p] : layer.named_parameters()) BOOST_TEST(name.rfind("1.", 0) != 0, name);
    BOOST_TEST(layer.parameter_count() == count_layer_parameters(c));
  }
  {  // transposed: out = concat_k(softmax(Q_k Q_k^T / sqrt p) Q_k) U, no W_o
    CrateConfig c = base;
    c.output_map = OutputMap::transposed;
    Generator g(3);
    const CrateLayer layer(c, g);
    const Tensor yy = layer.ln1().forward(z);
    const Tensor q = split_heads(ops::matmul(yy, ops::transpose(layer.mssa()->U(), 0, 1)), c.heads);
    const Tensor h = merge_heads(attend(q, q, q, 1.0 / std::sqrt(static_cast<double>(c.dim_head))));
    const Tensor want = ops::matmul(h, layer.mssa()->U());
    BOOST_TEST(critique_max_diff(layer.mssa()->forward(yy), want) < 1e-13);
    for (const auto& [name, p] : layer.named_parameters()) BOOST_TEST(name.find("to_out") == std::string::npos, name);
  }
}

BOOST_AUTO_TEST_CASE(names_json_and_refusals) {
  BOOST_TEST(std::string(name_of(MlpKind::none)) == "none");
  BOOST_TEST(std::string(name_of(OutputMap::transposed)) == "transposed");
  BOOST_TEST(std::string(name_of(MssaSign::minus)) == "minus");
  CrateConfig c = wbtest::small_config();
  c.mlp = MlpKind::none;
  c.mssa_sign = MssaSign::minus;
  c.output_map = OutputMap::transposed;
  const CrateConfig back = config_from_json(to_json(c));
  BOOST_TEST((back.mlp == MlpKind::none && back.mssa_sign == MssaSign::minus && back.output_map == OutputMap::transposed));
  BOOST_TEST((config_from_json(to_json(wbtest::small_config())).mssa_sign == MssaSign::plus));
  CrateConfig r = c;
  r.ista_residual = true;
  BOOST_CHECK_THROW(r.validate(), std::invalid_argument);
  CrateConfig s = wbtest::small_config();
  s.attention = AttentionKind::standard;
  s.mssa_sign = MssaSign::minus;
  BOOST_CHECK_THROW(s.validate(), std::invalid_argument);
  s.mssa_sign = MssaSign::plus;
  s.output_map = OutputMap::transposed;
  BOOST_CHECK_THROW(s.validate(), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
