// Parity of the causal language models with my own PyTorch transcription of the official ones
// (tests/crate/models/text/text_peer.py, run with Debian's /usr/bin/python3 and python3-torch; skipped
// where torch is missing). On a fixed batch of a tiny config: the loss and every parameter gradient
// agree to 1e-10 in float64; ten AdamW steps (betas 0.9, 0.95; decay on >= 2-D tensors) give the same
// losses to 1e-5 in float32. Negative controls must fail: the causal mask missing, an ln_f added to
// CRATE-GPT, attn.bias loaded as a parameter. CRATE-GPT and CRATE-LM with attention tssa (ToST's causal
// TSSA, temp and denom_bias moved off their init) agree the same way; without denom_bias they must not.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdlib>
#include <sys/wait.h>
#include <filesystem>

#include <fmt/format.h>

#include "autograd/engine.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/models/text/text_model.hpp"
#include "ops/ops.hpp"
#include "ops/optim/adamw.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

const char* const kTextPeer = "tests/crate/models/text/text_peer.py";

// Whether /usr/bin/python3 imports torch, asked once per process (an import costs seconds here).
bool torch_importable() {
  static const bool ok = std::system("/usr/bin/python3 -c 'import torch' > /dev/null 2>&1") == 0;
  return ok;
}

boost::unit_test::decorator::precondition require_text_peer() {
  return boost::unit_test::decorator::precondition([](boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result r(torch_importable());
    if (!r) r.message() << "PyTorch is not installed for /usr/bin/python3 (apt-get install python3-torch)";
    else if (!std::filesystem::exists(kTextPeer)) {
      r = false;
      r.message() << kTextPeer << " not found (run from the repository root)";
    }
    return r;
  });
}

TextConfig parity_config(TextFamily f, DType dt) {
  TextConfig c;
  c.family = f;
  c.vocab_size = 13;
  c.block_size = 7;
  c.dim = 8;
  c.depth = 2;
  c.heads = 2;
  c.dtype = dt;
  return c;
}

Tensor parity_ids(std::uint64_t seed, std::int64_t v) {
  Generator g(seed);
  std::vector<std::int64_t> ids(2 * 7);
  for (auto& x : ids) x = static_cast<std::int64_t>(g.next_u64() % static_cast<std::uint64_t>(v));
  return Tensor::from_vector(ids, {2, 7});
}

std::string config_json(const TextConfig& c) {
  return fmt::format(R"({{"family": "{}", "vocab_size": {}, "block_size": {}, "dim": {}, "depth": {}, "heads": {}, )"
                     R"("bias": {}, "eta": {}, "lambda": {}, "ista_steps": {}, "attention": "{}"}})",
                     name_of(c.family), c.vocab_size, c.block_size, c.dim, c.depth, c.heads, c.bias ? "true" : "false",
                     c.eta, c.lambda, c.ista_steps, name_of(c.attention_kind()));
}

// One run of the peer: the model and batch written to IN, OUT written by the peer when the job succeeds.
struct PeerJob {
  std::string mode, control, in, out;
};

PeerJob write_peer_input(const std::string& mode, const std::string& control, const TextModel& m, const Tensor& ids,
                         const Tensor& y, const wbtest::TempDir& dir, int index) {
  NamedTensors all = m.named_parameters();
  all.emplace_back("ids", ids);
  all.emplace_back("targets", y);
  PeerJob job{mode, control, dir / fmt::format("in{}.safetensors", index), dir / fmt::format("out{}.safetensors", index)};
  write_safetensors(job.in, all, {{"config", config_json(m.config())}});
  return job;
}

// Runs every job in one python process (torch imported once). Returns the peer's exit status: the
// number of failed jobs, 99 when it did not exit normally.
int run_text_peer(const std::vector<PeerJob>& jobs, const wbtest::TempDir& dir) {
  std::string cmd = fmt::format("/usr/bin/python3 {}", kTextPeer);
  for (const PeerJob& j : jobs) cmd += fmt::format(" {}:{}:{}:{}", j.mode, j.in, j.out, j.control);
  cmd += fmt::format(" 2> {}", dir / "err.txt");
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 99;
}

// What the peer wrote on stderr ("" before it ran).
std::string peer_errors(const wbtest::TempDir& dir) {
  return std::filesystem::exists(dir / "err.txt") ? wbtest::read_bytes(dir / "err.txt") : std::string();
}

// One float64 gradient comparison: our model, its loss and gradients, and the peer's job.
struct GradCase {
  TextFamily family;
  std::unique_ptr<TextModel> model;
  double loss = 0;
  PeerJob job;
};

GradCase prepare_grads(TextFamily f, const std::string& control, const wbtest::TempDir& dir, int index,
                       AttentionKind attention = AttentionKind::mssa) {
  Generator g(21);
  TextConfig c = parity_config(f, DType::f64);
  c.attention = attention;
  GradCase gc{f, make_text_model(c, g), 0, {}};
  Generator r(24);  // TSSA's temp in [0.5, 1.5), denom_bias in [-0.5, 0.5): derivatives away from the init
  for (auto& [n, p] : gc.model->named_parameters())
    if (n.ends_with(".temp") || n.ends_with(".denom_bias")) {
      std::vector<double> v(static_cast<std::size_t>(p.numel()));
      for (double& x : v) x = r.uniform() + (n.ends_with(".temp") ? 0.5 : -0.5);
      prim::copy_(p, Tensor::from_vector(v, p.shape()));
    }
  const Tensor ids = parity_ids(22, c.vocab_size), y = parity_ids(23, c.vocab_size);
  const Tensor loss = gc.model->loss(ids, y);
  autograd::backward(loss);
  gc.loss = loss.item();
  gc.job = write_peer_input("grads", control, *gc.model, ids, y, dir, index);
  return gc;
}

// Max |ours - torch| over the loss and every gradient (f64); infinity when the peer wrote nothing.
double grad_gap(const GradCase& gc, bool* loaded) {
  *loaded = std::filesystem::exists(gc.job.out);
  if (!*loaded) return INFINITY;
  const SafeTensors out = read_safetensors(gc.job.out);
  double gap = std::abs(out.find("loss")->item() - gc.loss);
  for (const auto& [name, p] : gc.model->named_parameters()) {
    const Tensor* t = out.find("grad." + name);
    BOOST_TEST_REQUIRE(t != nullptr, "torch gives no gradient for " << name);
    const auto a = t->to_vector<double>(), b = p.grad().to_vector<double>();
    BOOST_TEST_REQUIRE(a.size() == b.size(), name);
    for (std::size_t k = 0; k < a.size(); ++k) gap = std::max(gap, std::abs(a[k] - b[k]));
  }
  return gap;
}

// Prepares every case, runs the peer once over all of them; returns the peer's exit status.
int run_grad_cases(std::vector<GradCase>& cases, const wbtest::TempDir& dir) {
  std::vector<PeerJob> jobs;
  for (const GradCase& gc : cases) jobs.push_back(gc.job);
  return run_text_peer(jobs, dir);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(text_parity)

BOOST_AUTO_TEST_CASE(loss_and_every_gradient_f64, *require_text_peer()) {
  wbtest::TempDir dir;
  std::vector<GradCase> cases;
  for (TextFamily f : {TextFamily::crate_gpt, TextFamily::crate_lm, TextFamily::gpt2})
    cases.push_back(prepare_grads(f, "none", dir, static_cast<int>(cases.size())));
  for (TextFamily f : {TextFamily::crate_gpt, TextFamily::crate_lm})
    cases.push_back(prepare_grads(f, "none", dir, static_cast<int>(cases.size()), AttentionKind::tssa));
  const int failed = run_grad_cases(cases, dir);
  BOOST_TEST(failed == 0, peer_errors(dir));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const GradCase& gc = cases[i];
    const char* att = i >= 3 ? " (tssa)" : "";
    bool loaded = false;
    const double gap = grad_gap(gc, &loaded);
    BOOST_TEST(loaded, name_of(gc.family) << att << ": the peer failed to load the weights");
    BOOST_TEST(gap < 1e-10, name_of(gc.family) << att << ": max gap " << gap);
  }
}

BOOST_AUTO_TEST_CASE(negative_controls_fail, *require_text_peer()) {
  wbtest::TempDir dir;
  std::vector<GradCase> cases;
  cases.push_back(prepare_grads(TextFamily::crate_gpt, "no-mask", dir, 0));
  cases.push_back(prepare_grads(TextFamily::gpt2, "no-mask", dir, 1));
  cases.push_back(prepare_grads(TextFamily::crate_gpt, "ln-f", dir, 2));
  // attn.bias as a parameter: the official state dict then expects a weight that our file lacks, so the
  // strict load refuses (a buffer is not a weight): exactly this one job fails.
  cases.push_back(prepare_grads(TextFamily::crate_gpt, "attn-bias-param", dir, 3));
  cases.push_back(prepare_grads(TextFamily::crate_gpt, "no-denom-bias", dir, 4, AttentionKind::tssa));
  const int failed = run_grad_cases(cases, dir);
  BOOST_TEST(failed == 1, peer_errors(dir));
  bool loaded = false;
  for (int k = 0; k < 2; ++k) {
    const double gap = grad_gap(cases[k], &loaded);
    BOOST_TEST(loaded);
    BOOST_TEST(gap > 1e-4, name_of(cases[k].family) << " without the causal mask still agrees (gap " << gap << ")");
  }
  const double ln_f = grad_gap(cases[2], &loaded);
  BOOST_TEST(loaded);
  BOOST_TEST(ln_f > 1e-4, "CRATE-GPT with an ln_f added still agrees (gap " << ln_f << ")");
  (void)grad_gap(cases[3], &loaded);
  BOOST_TEST(!loaded, "a strict load with attn.bias as a parameter succeeded");
  BOOST_TEST(wbtest::contains(peer_errors(dir), "attn.bias"));
  const double no_bias = grad_gap(cases[4], &loaded);
  BOOST_TEST(loaded);
  BOOST_TEST(no_bias > 1e-4, "TSSA without denom_bias still agrees (gap " << no_bias << ")");
}

BOOST_AUTO_TEST_CASE(ten_adamw_steps_f32, *require_text_peer()) {
  wbtest::TempDir dir;
  const std::vector<TextFamily> families = {TextFamily::crate_gpt, TextFamily::gpt2};
  struct AdamwCase {
    std::unique_ptr<TextModel> model;
    Tensor ids, y;
    PeerJob job;
  };
  std::vector<AdamwCase> cases;
  for (TextFamily f : families) {
    Generator g(31);
    TextConfig c = parity_config(f, DType::f32);
    AdamwCase ac{make_text_model(c, g), parity_ids(32, c.vocab_size), parity_ids(33, c.vocab_size), {}};
    // written before our steps move the weights
    ac.job = write_peer_input("adamw", "none", *ac.model, ac.ids, ac.y, dir, static_cast<int>(cases.size()));
    cases.push_back(std::move(ac));
  }
  std::vector<PeerJob> jobs;
  for (const AdamwCase& ac : cases) jobs.push_back(ac.job);
  const int failed = run_text_peer(jobs, dir);
  BOOST_TEST_REQUIRE(failed == 0, peer_errors(dir));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    AdamwCase& ac = cases[i];
    optim::AdamW opt(optim::split_decay(ac.model->named_parameters(), 1e-3, 0.1), optim::AdamWOptions{0.9, 0.95, 1e-8});
    std::vector<double> ours;
    for (int s = 0; s < 10; ++s) {
      opt.zero_grad();
      const Tensor loss = ac.model->loss(ac.ids, ac.y);
      ours.push_back(loss.item());
      autograd::backward(loss);
      opt.step();
    }
    const SafeTensors out = read_safetensors(ac.job.out);
    const auto theirs = out.find("losses")->to_vector<double>();
    BOOST_TEST_REQUIRE(theirs.size() == 10u);
    for (int s = 0; s < 10; ++s)
      BOOST_TEST(std::abs(ours[s] - theirs[s]) < 1e-5,
                 name_of(families[i]) << " step " << s << ": " << ours[s] << " vs " << theirs[s]);
    BOOST_TEST(ours.back() < ours.front());
  }
}

BOOST_AUTO_TEST_SUITE_END()
