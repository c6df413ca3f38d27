// TSSA against my own PyTorch transcription of ToST's operators (tests/crate/blocks/tssa_peer.py, run
// with Debian's /usr/bin/python3 and python3-torch; skipped where torch is missing): the vision op, the
// causal op and the vision block (qkv with bias, temp, to_out) agree with torch in value and in every
// gradient of a randomly weighted sum to 1e-10 in float64. Negative controls must fail: no column
// normalisation, Pi over tokens instead of heads, whole-sequence statistics in the causal form, the
// causal bias not summed over the channels.
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "crate/blocks/tssa.hpp"
#include "crate/io/safetensors.hpp"
#include "ops/ops.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

const char* const kTssaPeer = "tests/crate/blocks/tssa_peer.py";

boost::unit_test::decorator::precondition require_tssa_peer() {
  return boost::unit_test::decorator::precondition([](boost::unit_test::test_unit_id) {
    // found without importing it (the import costs seconds; the peer pays it once)
    boost::test_tools::assertion_result r(
        std::system("/usr/bin/python3 -c \"import importlib.util as u, sys; sys.exit(u.find_spec('torch') is None)\" "
                    "> /dev/null 2>&1") == 0);
    if (!r) r.message() << "PyTorch is not installed for /usr/bin/python3 (apt-get install python3-torch)";
    else if (!std::filesystem::exists(kTssaPeer)) {
      r = false;
      r.message() << kTssaPeer << " not found (run from the repository root)";
    }
    return r;
  });
}

double max_gap(const Tensor& a, const Tensor& b) {
  BOOST_TEST_REQUIRE((a.shape() == b.shape()));
  const auto x = prim::cast(a, DType::f64).to_vector<double>(), y = prim::cast(b, DType::f64).to_vector<double>();
  double g = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) g = std::max(g, std::abs(x[i] - y[i]));
  return g;
}

const char* const kTssaControls[] = {"none", "no-colnorm", "softmax-tokens", "full-statistics", "no-bias-sum"};

// Runs everything here and, once for all controls, in the peer; returns the largest gap over outputs
// and gradients per control ("none" is the faithful transcription).
std::map<std::string, double> compute_tssa_gaps() {
  const std::int64_t heads = 2;
  const Tensor w0 = wbtest::randn({2, 6, 8}, 301), g = wbtest::randn({2, 6, 8}, 302), x = wbtest::randn({2, 6, 8}, 303);
  const Tensor temp0 = Tensor::from_vector(std::vector<double>{0.8, 1.7}, {2});
  const Tensor bias0 = prim::unary(prim::Unary::mul_scalar, wbtest::randn({2, 9, 1}, 304), 0.3);
  Tensor w = wbtest::param(prim::clone(w0)), temp = wbtest::param(prim::clone(temp0));
  const Tensor yv = ops::tssa(w, temp, heads);
  autograd::backward(ops::sum(ops::mul(yv, g)));
  NamedTensors ours{{"y.vision", yv}, {"grad.vision.w", w.grad()}, {"grad.vision.temp", temp.grad()}};

  Tensor wc = wbtest::param(prim::clone(w0)), tc = wbtest::param(prim::clone(temp0)), bc = wbtest::param(prim::clone(bias0));
  const Tensor yc = ops::causal_tssa(wc, tc, bc, heads);
  autograd::backward(ops::sum(ops::mul(yc, g)));
  ours.emplace_back("y.causal", yc);
  ours.emplace_back("grad.causal.w", wc.grad());
  ours.emplace_back("grad.causal.temp", tc.grad());
  ours.emplace_back("grad.causal.bias", bc.grad());

  BlockConfig c;
  c.dim = 8;
  c.heads = heads;
  c.dim_head = 4;
  c.dtype = DType::f64;
  c.attention = AttentionKind::tssa;
  Generator gen(305);
  TSSA block(c, gen);
  // a temperature away from its initial 1 so that its gradient path is exercised
  prim::copy_(block.temperature(), temp0);
  const Tensor yb = block.forward(x);
  autograd::backward(ops::sum(ops::mul(yb, g)));
  ours.emplace_back("y.block", yb);
  NamedTensors in{{"w", w0}, {"temp", temp0}, {"bias", bias0}, {"g", g}, {"x", x}};
  for (const auto& [name, p] : block.named_parameters()) {
    in.emplace_back("block." + name, p);
    ours.emplace_back("grad.block." + name, p.grad());
  }

  wbtest::TempDir dir;
  write_safetensors(dir / "in.safetensors", in, {{"heads", std::to_string(heads)}});
  std::string controls;
  for (const char* k : kTssaControls) controls += (controls.empty() ? "" : ",") + std::string(k);
  const std::string cmd = fmt::format("/usr/bin/python3 {} {} {} --controls {} 2> {}", kTssaPeer,
                                      dir / "in.safetensors", dir / "out.safetensors", controls, dir / "err.txt");
  const int rc = std::system(cmd.c_str());
  BOOST_TEST_REQUIRE((WIFEXITED(rc) && WEXITSTATUS(rc) == 0), "tssa_peer failed: " << wbtest::read_bytes(dir / "err.txt"));
  const SafeTensors out = read_safetensors(dir / "out.safetensors");
  std::map<std::string, double> gaps;
  for (const char* k : kTssaControls) {
    double gap = 0.0;
    for (const auto& [name, t] : ours) {
      const Tensor* theirs = out.find(std::string(k) + "/" + name);
      BOOST_TEST_REQUIRE(theirs != nullptr, "the peer gives no " << k << "/" << name);
      gap = std::max(gap, max_gap(t, *theirs));
    }
    gaps[k] = gap;
  }
  return gaps;
}

const std::map<std::string, double>& tssa_gaps() {
  static const std::map<std::string, double> gaps = compute_tssa_gaps();
  return gaps;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tssa_parity)

BOOST_AUTO_TEST_CASE(vision_causal_and_block_f64, *require_tssa_peer()) {
  const double gap = tssa_gaps().at("none");
  BOOST_TEST(gap < 1e-10, "max gap over outputs and gradients " << gap);
}

BOOST_AUTO_TEST_CASE(negative_controls_fail, *require_tssa_peer()) {
  for (const char* control : {"no-colnorm", "softmax-tokens", "full-statistics", "no-bias-sum"}) {
    const double gap = tssa_gaps().at(control);
    BOOST_TEST(gap > 1e-4, control << " still agrees (gap " << gap << ")");
  }
}

BOOST_AUTO_TEST_SUITE_END()
