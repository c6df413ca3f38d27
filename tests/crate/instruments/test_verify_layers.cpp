// The ISTA check on a real layer stack (crate/instruments/verify/ista_prox.hpp): every ISTA layer of a
// small CrateModel, recomputed from its trace's LN2 output and its dictionary, agrees with the trace
// to the a-priori rounding bound; a dictionary changed after the forward makes the check fail.
#include <boost/test/unit_test.hpp>

#include <string>

#include "crate/instruments/verify.hpp"
#include "crate/models/vision/classifier.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

CrateConfig tiny(DType dtype, Dictionary dictionary, bool residual) {
  CrateConfig c;
  c.name = "tiny-verify";
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 1;
  c.num_classes = 3;
  c.dim = 32;
  c.depth = 3;
  c.heads = 2;
  c.dim_head = 16;
  c.dtype = dtype;
  c.dictionary = dictionary;
  c.overcomplete_ratio = 3;
  c.ista_residual = residual;
  c.seed = 7;
  return c;
}

std::vector<LayerTrace> run(const CrateModel& m, std::uint64_t seed) {
  std::vector<LayerTrace> traces;
  (void)m.forward(wbtest::randn({2, 1, 8, 8}, seed, m.config().dtype), &traces);
  return traces;
}

Tensor parameter(const CrateModel& m, const std::string& name) {
  for (const auto& [n, t] : m.named_parameters())
    if (n == name) return t;
  BOOST_FAIL("no parameter " << name);
  return {};
}

// Adds `by` to entry 0 of a parameter, in place (after the forward: the trace no longer matches).
void perturb(Tensor w, double by) {
  if (w.dtype() == DType::f32) w.data<float>()[0] += static_cast<float>(by);
  else w.data<double>()[0] += by;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(verify_layers)

BOOST_AUTO_TEST_CASE(every_ista_layer_is_its_prox_gradient_step) {
  // Complete and overcomplete dictionaries, with and without the residual, in f64 and f32: the
  // layer's code and output equal the independent step to rounding (f64 well below 1e-12 for the
  // O(1) entries of LN2's output; f32 within the bound 2 gamma_m scale, itself far below 1e-2).
  for (const Dictionary dict : {Dictionary::complete, Dictionary::overcomplete})
    for (const bool residual : {false, true})
      for (const DType dtype : {DType::f64, DType::f32}) {
        const CrateModel m(tiny(dtype, dict, residual));
        const auto rs = ista_layer_results(m.layers(), run(m, 3));
        BOOST_TEST_REQUIRE(rs.size() == 3u);
        for (std::size_t l = 0; l < rs.size(); ++l) {
          const auto& r = rs[l];
          BOOST_TEST_CONTEXT(name_of(dict) << (residual ? " residual " : " ") << dtype_name(dtype) << " layer " << r.layer) {
            BOOST_TEST(r.layer == static_cast<std::int64_t>(l) + 1);
            BOOST_TEST(r.dtype == dtype);
            BOOST_TEST(r.max_abs_diff <= r.error_bound);
            BOOST_TEST(r.error_bound < 1e-2);
            if (dtype == DType::f64) BOOST_TEST(r.max_abs_diff <= 1e-12);
            BOOST_TEST(r.zero_fraction > 0.0);  // the threshold is active on the code
            BOOST_TEST(r.zero_fraction < 1.0);
          }
        }
        BOOST_TEST(all_pass(ista_layer_checks(m.layers(), run(m, 4))));
      }
}

BOOST_AUTO_TEST_CASE(learnable_eta_and_lambda_are_read_from_the_block) {
  CrateConfig c = tiny(DType::f64, Dictionary::complete, false);
  c.learnable_ista = true;
  const CrateModel m(c);
  perturb(parameter(m, "transformer.layers.1.1.fn.eta"), 0.15);  // trained away from the config's 0.1
  perturb(parameter(m, "transformer.layers.1.1.fn.lambd"), 0.05);
  const auto rs = ista_layer_results(m.layers(), run(m, 5));
  for (const auto& r : rs) BOOST_TEST(r.max_abs_diff <= 1e-12, "layer " << r.layer << ": " << r.max_abs_diff);
  BOOST_TEST(rs[1].eta_lipschitz / rs[0].eta_lipschitz > 1.5);  // eta 0.25 against 0.1, similar dictionaries
}

BOOST_AUTO_TEST_CASE(a_dictionary_changed_after_the_forward_fails_the_check) {
  // Entry (0, 0) of D moves by 0.1: the recomputed step moves by about eta 0.1 |z| >> the rounding bound.
  for (const DType dtype : {DType::f64, DType::f32}) {
    const CrateModel m(tiny(dtype, Dictionary::complete, false));
    const auto traces = run(m, 6);
    perturb(parameter(m, "transformer.layers.1.1.fn.weight"), 0.1);
    const auto checks = ista_layer_checks(m.layers(), traces);
    BOOST_TEST_REQUIRE(checks.size() == 3u);
    BOOST_TEST(checks[0].pass);
    BOOST_TEST(!checks[1].pass, checks[1].detail);
    BOOST_TEST(checks[2].pass);
    BOOST_TEST(!all_pass(checks));
  }
  // Overcomplete: the output dictionary D1 only enters the output, so the code still agrees and the
  // output does not.
  const CrateModel m(tiny(DType::f64, Dictionary::overcomplete, true));
  const auto traces = run(m, 7);
  perturb(parameter(m, "transformer.layers.2.1.fn.weight_out"), 0.1);
  const auto rs = ista_layer_results(m.layers(), traces);
  BOOST_TEST(rs[2].max_abs_diff > 1e3 * rs[2].error_bound);
  BOOST_TEST(rs[0].max_abs_diff <= rs[0].error_bound);
}

BOOST_AUTO_TEST_CASE(mlp_layers_are_skipped_and_lengths_must_match) {
  CrateConfig c = tiny(DType::f64, Dictionary::complete, false);
  c.mlp = MlpKind::mlp;
  const CrateModel vit(c);
  BOOST_TEST(ista_layer_results(vit.layers(), run(vit, 8)).empty());
  const CrateModel m(tiny(DType::f64, Dictionary::complete, false));
  BOOST_CHECK_THROW(ista_layer_results(m.layers(), std::vector<LayerTrace>(2)), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
