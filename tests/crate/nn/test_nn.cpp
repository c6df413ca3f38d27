// crate/nn: the Embedding table (forward by hand, float64 gradcheck through the table, bad ids named),
// ModeGuard (sets the mode of a whole tree, restores it on scope exit and on an exception), and the
// enum names of the block variants (crate/blocks/config.hpp) that JSON and the CLI use.
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "crate/blocks/config.hpp"
#include "crate/models/vision/classifier.hpp"
#include "crate/nn/embedding.hpp"
#include "tests/crate/fixtures.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;

BOOST_AUTO_TEST_SUITE(nn)

BOOST_AUTO_TEST_CASE(embedding_looks_up_rows_and_sums_their_gradients) {
  Generator gen(4);
  Embedding e(5, 3, DType::f64, gen);
  const auto w = e.weight().to_vector<double>();
  const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{4, 0, 4, 2}, {2, 2});
  const Tensor y = e.forward(ids);
  BOOST_TEST((y.shape() == Shape{2, 2, 3}));
  const auto v = y.to_vector<double>();
  const std::int64_t want_rows[] = {4, 0, 4, 2};  // (2, 2) ids -> rows of W in order
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) BOOST_TEST(v[i * 3 + j] == w[want_rows[i] * 3 + j]);
  // d/dW of sum(R * E(ids)): row 4 collects two positions, rows 1 and 3 none.
  wbtest::check_grad([&](const std::vector<Tensor>&) { return e.forward(ids); }, {e.weight()});
  BOOST_CHECK_THROW(e.forward(Tensor::from_vector(std::vector<std::int64_t>{5}, {1})), std::invalid_argument);
  BOOST_CHECK_THROW(e.forward(Tensor::from_vector(std::vector<float>{1.0f}, {1})), std::invalid_argument);
  try {
    e.forward(Tensor::from_vector(std::vector<std::int64_t>{-1}, {1}));
    BOOST_FAIL("id -1 must be refused");
  } catch (const std::invalid_argument& ex) {
    BOOST_TEST(std::string(ex.what()).find("id -1 is outside the table of 5 rows") != std::string::npos, ex.what());
  }
}

BOOST_AUTO_TEST_CASE(mode_guard_sets_the_tree_and_restores_it) {
  CrateModel m(wbtest::tiny_config());
  BOOST_TEST(m.training());
  {
    const ModeGuard eval(m, false);
    BOOST_TEST(!m.training());
    BOOST_TEST(!m.layers()[1]->training());  // children too
  }
  BOOST_TEST(m.training());
  BOOST_TEST(m.layers()[1]->training());
  m.train(false);
  try {
    const ModeGuard train(m, true);
    BOOST_TEST(m.training());
    throw std::runtime_error("leave the scope");
  } catch (const std::runtime_error&) {
  }
  BOOST_TEST(!m.training());
}

BOOST_AUTO_TEST_CASE(variant_names_are_the_json_and_cli_names) {
  BOOST_TEST(std::string(name_of(AttentionKind::standard)) == "standard");
  BOOST_TEST(std::string(name_of(MlpKind::ista)) == "ista");
  BOOST_TEST(std::string(name_of(OutputMap::paper)) == "paper");
  BOOST_TEST(std::string(name_of(Dictionary::overcomplete)) == "overcomplete");
  BOOST_TEST((enum_from_name<Dictionary>("complete", "dictionary") == Dictionary::complete));
  try {
    (void)enum_from_name<AttentionKind>("linear", "attention");
    BOOST_FAIL("an unknown variant must be refused");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()) == "attention must be 'mssa', 'standard' or 'tssa', got 'linear'");
  }
}

BOOST_AUTO_TEST_SUITE_END()
