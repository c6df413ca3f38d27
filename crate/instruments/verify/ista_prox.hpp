// Claim 1 of `whitebox verify` (crate-spec §2.4): the ISTA block (blocks/ista.hpp) is one
// proximal-gradient step of the nonnegative LASSO  lambda ||A||_1 + 1/2 ||Z - D A||^2  from A = Z,
// checked against that step written from its definition (gradient step on the smooth part, then the
// prox ReLU(. - eta lambda)) with prim:: ops in the column form: tokens as columns, Z (d, N).
//   complete      A+ = ReLU(Z + eta D^T (Z - D Z) - eta lambda)                       D (d, d)
//   overcomplete  A1 = ReLU(eta D^T Z - eta lambda); A2 = ReLU(A1 - eta D^T (D A1 - Z) - eta lambda);
//                 out = D1 A2  (CRATE-alpha, two steps from A = 0)                   D, D1 (d, r d)
// On a synthetic block (ista_prox_check) or on the ISTA blocks of a real layer stack, from the
// forward's trace (ista_layer_results: trace.ln2 in, trace.code and trace.output compared).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "crate/instruments/layer_stack.hpp"
#include "crate/instruments/verify/check.hpp"
#include "crate/models/vision/config.hpp"
#include "tensor/dtype.hpp"

namespace wb::crate {

struct IstaProxOptions {
  std::int64_t dim = 64;     // D
  std::int64_t tokens = 50;  // N per batch element
  std::int64_t batch = 2;    // B
  double eta = 0.1;
  double lambda = 0.1;
  std::uint64_t seed = 0;
  // The block variant (crate/blocks/config.hpp): dictionary complete (one step from A = Z, above) or
  // "overcomplete" (CRATE-alpha: two steps of the nonnegative LASSO lambda ||A||_1 + 1/2 ||z - D A||^2
  // from A = 0, then the output dictionary D1 A), learnable_ista (eta, lambda as parameters, at their
  // initial values). dim, eta and lambda above override the config's.
  Dictionary dictionary = Dictionary::complete;
  std::int64_t overcomplete_ratio = 4;
  bool learnable_ista = false;
};
// The options for a model configuration's ISTA block (its d, eta, lambda and variant switches).
IstaProxOptions ista_options_for(const CrateConfig& c);
struct IstaProxResult {
  DType dtype = DType::f64;
  std::int64_t layer = 0;      // 1-based layer of a real stack (ista_layer_results); 0 for the synthetic block
  double max_abs_diff = 0.0;   // max |ISTA(X) - prox step| over all entries
  double error_bound = 0.0;    // a-priori rounding bound on that difference (see ista_prox_check)
  double max_abs_value = 0.0;  // max |ISTA(X)|, for scale (of the code, for a layer)
  double zero_fraction = 0.0;  // exact zeros of the output (of the code, for a layer): the threshold is active
  double eta_lipschitz = 0.0;  // eta ||D^T D||_2: the step is a descent step of the LASSO when <= 1
};
// Runs in `dtype` (f32 or f64): the ISTA block and the independent step in the same precision.
// The bound: each side evaluates two dot products of length d in a row plus a few scalar operations,
// so each entry's rounding error is at most gamma_m (|z| + eta |D^T| (|z| + |D| |z|) + eta lambda)
// (column form) with gamma_m = m u / (1 - m u), m = 2d + 8, u the unit roundoff; the difference of the
// two results is at most twice that (the ReLU is 1-Lipschitz).
IstaProxResult ista_prox_check(const IstaProxOptions& options, DType dtype);
std::vector<Check> ista_checks(const std::vector<IstaProxResult>& r);

// The same derivation on every layer of `layers` with an ISTA block (MLP layers are skipped), from
// what the forward recorded: the step is recomputed from traces[l].ln2 and the layer's dictionary
// (eta and lambda the block's, trained ones for learnable_ista) in the trace's dtype, and compared
// with traces[l].code and with traces[l].output (after the residual, where the layer has one). The
// bound is the one above, with one more rounded addition and |Z^{l+1/2}| for the residual.
// Throws std::invalid_argument when layers and traces differ in length.
std::vector<IstaProxResult> ista_layer_results(LayerStack layers, const std::vector<LayerTrace>& traces);
// One check per ISTA layer: max |diff| <= its rounding bound.
std::vector<Check> ista_layer_checks(const std::vector<IstaProxResult>& r);
std::vector<Check> ista_layer_checks(LayerStack layers, const std::vector<LayerTrace>& traces);

// Plain text, as `whitebox verify` prints it.
std::string format_ista(const std::vector<IstaProxResult>& r, const IstaProxOptions& o);
nlohmann::json to_json(const IstaProxResult& r);

}  // namespace wb::crate
