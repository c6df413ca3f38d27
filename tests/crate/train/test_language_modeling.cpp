// The language-modelling task through the training loop (crate/train/objectives/language_modeling.hpp)
// on a synthetic token stream (no corpus): a micro model learns a Markov chain, two runs of one seed
// agree, a run stopped and resumed (mid-epoch checkpoints included) equals the uninterrupted one bit
// for bit, and the metrics log carries the validation perplexity. Generation (models/text/generate):
// seeded sampling is deterministic, top-k 1 equals an argmax decoding computed here, and bad prompts
// are named.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "autograd/grad_mode.hpp"
#include "crate/io/safetensors.hpp"
#include "crate/io/text_checkpoint.hpp"
#include "crate/models/text/generate.hpp"
#include "crate/instruments/measure.hpp"
#include "ops/ops.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/objectives/language_modeling.hpp"
#include "datasets/text/windows.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

// x_{n+1} = sigma(x_n), except with probability 1/10 a uniform token: a chain a bigram model predicts.
data::text::TokenStream lm_markov_stream(std::int64_t n, std::uint64_t seed, const std::string& source) {
  data::text::TokenStream s;
  s.tokenizer = "synthetic";
  s.source = source;
  s.vocab_size = 11;
  const std::int64_t sigma[11] = {3, 7, 0, 9, 1, 10, 4, 2, 6, 5, 8};
  Generator g(seed);
  std::int64_t x = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    s.ids.push_back(static_cast<data::text::TokenId>(x));
    x = g.uniform() < 0.1 ? static_cast<std::int64_t>(g.below(11)) : sigma[x];
  }
  return s;
}

TrainOptions lm_micro_run(const std::string& out, TextFamily family = TextFamily::crate_gpt) {
  TrainOptions o;
  o.task = "lm";
  o.text_model = "micro";
  o.text.family = family;
  o.text.vocab_size = 11;
  o.text.block_size = 8;
  o.text.dim = 16;
  o.text.depth = 2;
  o.text.heads = 2;
  o.tokenizer = "synthetic";
  o.epochs = 3;
  o.steps_per_epoch = 20;
  o.warmup_steps = 5;
  o.batch_size = 8;
  o.lr = 1e-2;
  o.min_lr = 1e-3;
  o.weight_decay = 0.1;
  o.adam_beta2 = 0.95;
  o.label_smoothing = 0.0;
  o.test_limit = 32;
  o.out_dir = out;
  o.progress = false;
  o.plot = false;
  o.log_every = 5;
  o.seed = 3;
  return o;
}

TrainResult lm_micro_train(const TrainOptions& o) {
  LmTask task(o, lm_markov_stream(3000, 1, "markov/train"), lm_markov_stream(600, 2, "markov/validation"));
  return train(task, o);
}

std::vector<nlohmann::json> lm_logged(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    j.erase("seconds");
    BOOST_TEST(!j.contains("images_per_second"), "an LM record counts images: " << j.dump());
    j.erase("tokens_per_second");
    out.push_back(j);
  }
  return out;
}

void lm_same_weights(const std::string& a, const std::string& b) {
  const auto wa = read_safetensors(a), wb_ = read_safetensors(b);
  BOOST_REQUIRE(wa.tensors.size() == wb_.tensors.size());
  for (std::size_t i = 0; i < wa.tensors.size(); ++i)
    BOOST_TEST((wa.tensors[i].second.to_vector<float>() == wb_.tensors[i].second.to_vector<float>()), wa.tensors[i].first);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(language_modeling)

BOOST_AUTO_TEST_CASE(token_windows_are_pure_shifted_and_in_range) {
  auto ids = std::make_shared<const std::vector<data::text::TokenId>>(lm_markov_stream(100, 5, "s").ids);
  data::text::WindowOptions w;
  w.block_size = 8;
  w.batch_size = 4;
  w.seed = 9;
  w.steps = 3;
  data::text::WindowLoader a(ids, 11, w, "s"), b(ids, 11, w, "s");
  BOOST_TEST(a.batches_per_epoch() == 3);
  BOOST_TEST((a.starts(1, 2) == b.starts(1, 2)));
  BOOST_TEST((a.starts(1, 2) != a.starts(1, 1)));
  BOOST_TEST((a.starts(0, 0) != a.starts(1, 0)));
  a.start(1, 2);  // resumed at batch 2: the batch an uninterrupted epoch would give
  const auto batch = a.next();
  BOOST_REQUIRE(batch.has_value());
  BOOST_TEST((batch->indices == b.starts(1, 2)));
  BOOST_TEST((batch->x.shape() == Shape{4, 8}));
  const auto x = batch->x.to_vector<std::int64_t>(), y = batch->y.to_vector<std::int64_t>();
  for (std::size_t i = 0; i < 4; ++i) {
    const auto s = batch->indices[i];
    BOOST_TEST((s >= 0 && s + 8 < 100));
    for (std::size_t j = 0; j < 8; ++j) {
      BOOST_TEST(x[i * 8 + j] == (*ids)[static_cast<std::size_t>(s) + j]);
      BOOST_TEST(y[i * 8 + j] == (*ids)[static_cast<std::size_t>(s) + j + 1]);
    }
  }
  BOOST_TEST(!a.next().has_value());
  // Tiled: (100 - 1) / 8 = 12 windows, at most 5 of them, evenly spaced, the last batch partial.
  w.random = false;
  w.limit = 5;
  data::text::WindowLoader t(ids, 11, w, "s");
  BOOST_TEST(t.windows() == 5);
  BOOST_TEST(t.batches_per_epoch() == 2);
  BOOST_TEST((t.starts(0, 0) == std::vector<std::int64_t>{0, 16, 32, 56}));
  BOOST_TEST((t.starts(0, 1) == std::vector<std::int64_t>{72}));
  // A stream shorter than a window plus one, and an id outside V, are named.
  w.block_size = 100;
  BOOST_CHECK_EXCEPTION(data::text::WindowLoader(ids, 11, w, "short"), std::invalid_argument,
                        [](const auto& e) { return wbtest::contains(e.what(), "fewer than one window"); });
  w.block_size = 8;
  BOOST_CHECK_EXCEPTION(data::text::WindowLoader(ids, 7, w, "big"), std::invalid_argument,
                        [](const auto& e) { return wbtest::contains(e.what(), "outside the vocabulary [0, 7)"); });
}

BOOST_AUTO_TEST_CASE(trains_logs_perplexity_and_is_deterministic) {
  wbtest::TempDir dir;
  TrainOptions o = lm_micro_run(dir / "a");
  o.measure_every = 3;  // at init and after the last epoch (run b does not measure: same trajectory)
  o.measure_limit = 6;
  const TrainResult r = lm_micro_train(o);
  BOOST_REQUIRE(r.epochs.size() == 3u);
  // ln 11 = 2.40 at chance; the chain's entropy is about 0.6 nats; the micro model gets below 1.2.
  BOOST_TEST(r.epochs.front().train_loss > 1.5);
  BOOST_TEST(r.epochs.back().test_loss < 1.2);
  BOOST_TEST(r.epochs.back().test.at("perplexity") == std::exp(r.epochs.back().test_loss));
  const auto log = lm_logged(dir / "a/metrics.jsonl");
  BOOST_TEST(log.back().at("test_perplexity").get<double>() > 1.0);
  BOOST_TEST(log.back().at("step").get<std::int64_t>() == 60);
  const auto state = nlohmann::json::parse(std::ifstream(dir / "a/options.json"));
  BOOST_TEST(state.at("adam_beta2").get<double>() == 0.95);
  BOOST_TEST(state.at("task").get<std::string>() == "lm");
  std::ifstream ms(dir / "a/measurements.jsonl");
  std::string line;
  std::vector<std::int64_t> measured;
  while (std::getline(ms, line)) {
    const auto j = nlohmann::json::parse(line);
    measured.push_back(j.at("epoch").get<std::int64_t>());
    BOOST_TEST(j.at("images").get<std::int64_t>() == 6);  // windows
    BOOST_TEST(j.at("layers").size() == 2u);
    BOOST_TEST(std::isfinite(j.at("layers")[1].at("rc_out").at("mean").get<double>()));
  }
  BOOST_TEST((measured == std::vector<std::int64_t>{0, 3}));
  // The checkpoint is a text model file with its tokenizer.
  const auto file = read_safetensors(dir / "a/model.safetensors");
  BOOST_TEST(checkpoint_tokenizer(file) == "synthetic");
  BOOST_TEST(load_text_model(dir / "a/model.safetensors")->config().dim == 16);
  // The same seed, the same run.
  lm_micro_train(lm_micro_run(dir / "b"));
  BOOST_TEST((lm_logged(dir / "a/metrics.jsonl") == lm_logged(dir / "b/metrics.jsonl")));
  lm_same_weights(dir / "a/model.safetensors", dir / "b/model.safetensors");
}

BOOST_AUTO_TEST_CASE(resume_is_bit_for_bit_through_the_loop) {
  wbtest::TempDir dir;
  TrainOptions full = lm_micro_run(dir / "full", TextFamily::gpt2);
  lm_micro_train(full);
  TrainOptions first = lm_micro_run(dir / "split", TextFamily::gpt2);
  first.stop_after_epochs = 1;
  first.checkpoint_every = 7;  // and mid-epoch checkpoints
  lm_micro_train(first);
  TrainOptions rest = first;
  rest.stop_after_epochs = 0;
  rest.resume = true;
  lm_micro_train(rest);
  BOOST_TEST((lm_logged(dir / "full/metrics.jsonl") == lm_logged(dir / "split/metrics.jsonl")));
  lm_same_weights(dir / "full/model.safetensors", dir / "split/model.safetensors");
  // A resume that changes the block size (a trajectory option) is refused.
  TrainOptions other = rest;
  other.text.block_size = 6;
  BOOST_CHECK_THROW(lm_micro_train(other), std::exception);
}

BOOST_AUTO_TEST_CASE(causal_stacks_are_traced_for_the_measurement) {
  for (const TextFamily f : {TextFamily::crate_gpt, TextFamily::crate_lm, TextFamily::gpt2}) {
    TrainOptions o = lm_micro_run("unused", f);
    Generator gen(2);
    const auto model = make_text_model(o.text, gen);
    const Tensor ids = Tensor::from_vector(std::vector<std::int64_t>{1, 4, 2, 9, 0, 3, 3, 7, 5, 6}, {2, 5});
    std::vector<LayerTrace> traces;
    autograd::NoGradGuard ng;
    const Tensor logits = model->forward(ids, &traces);
    BOOST_TEST(wbtest::allclose(logits, model->forward(ids), 0.0));  // tracing changes nothing
    BOOST_REQUIRE(traces.size() == 2u);
    const auto u = model->layer_subspaces();
    BOOST_REQUIRE(u.size() == 2u);
    BOOST_TEST((u[0].shape() == Shape{2, 8, 16}));
    for (std::size_t l = 0; l < 2; ++l) {
      // qkv is U LN1(Z): the rows of U (K p, d) applied to the LayerNorm output (GPT-2: its keys, plus the bias 0).
      const Tensor expect = ops::matmul(traces[l].ln1, ops::transpose(ops::reshape(u[l], {16, 16}), 0, 1));
      BOOST_TEST(wbtest::allclose(traces[l].qkv, expect, 1e-6), name_of(f));
      BOOST_TEST((traces[l].output.shape() == Shape{2, 5, 16}));
    }
    BOOST_TEST(traces[1].input.is_same(traces[0].output) == true);
    if (f == TextFamily::crate_lm) BOOST_TEST((traces[0].code.shape() == Shape{2, 5, 64}));  // the sparse code A (r d)
    const auto v = measure_layers(model->layer_configs(), u, traces);
    BOOST_TEST(v.at("rc_out").size() == 2u);
    BOOST_TEST(v.at("rc_out")[0].size() == 2u);  // one value per window
    BOOST_TEST(v.at("nonzero")[1][0] <= 1.0);
  }
}

BOOST_AUTO_TEST_CASE(top_k_sampling_by_hand) {
  GenerateOptions g;
  g.top_k = 2;
  g.temperature = 0.5;
  const auto p = next_token_probabilities({1.0, 3.0, 2.0, -1.0}, g);
  // kept: ids 1 and 2, logits / 0.5 = 6 and 4: p = e^6 / (e^6 + e^4), e^4 / (...)
  const double z = std::exp(6.0) + std::exp(4.0);
  BOOST_TEST(p[0] == 0.0);
  BOOST_TEST(p[3] == 0.0);
  BOOST_TEST(std::abs(p[1] - std::exp(6.0) / z) < 1e-15);
  BOOST_TEST(std::abs(p[2] - std::exp(4.0) / z) < 1e-15);
  g.top_k = 0;
  g.temperature = 1.0;
  g.vocab_limit = 3;  // padding ids excluded
  const auto q = next_token_probabilities({0.0, 0.0, 0.0, 5.0}, g);
  BOOST_TEST(q[3] == 0.0);
  BOOST_TEST(std::abs(q[0] - 1.0 / 3) < 1e-15);
}

BOOST_AUTO_TEST_CASE(generation_is_seeded_and_top_k_1_is_greedy) {
  TrainOptions o = lm_micro_run("unused");
  Generator gen(4);
  const auto model = make_text_model(o.text, gen);
  const std::vector<std::int64_t> prompt{1, 2, 3};
  GenerateOptions g;
  g.max_tokens = 12;  // past the block size 8: the context slides
  g.seed = 5;
  const auto a = generate(*model, prompt, g), b = generate(*model, prompt, g);
  BOOST_TEST((a.tokens == b.tokens));
  g.seed = 6;
  const auto c = generate(*model, prompt, g);
  BOOST_TEST((a.tokens != c.tokens));  // 12 draws from a near-uniform 11-way distribution
  std::vector<std::int64_t> streamed;
  g.top_k = 1;
  const auto greedy = generate(*model, prompt, g, [&](std::int64_t t) { streamed.push_back(t); });
  BOOST_TEST((streamed == greedy.tokens));
  // The argmax decoding, independently: the full forward on the last <= 8 tokens, the largest logit.
  std::vector<std::int64_t> ctx = prompt, expect;
  autograd::NoGradGuard ng;
  for (int s = 0; s < 12; ++s) {
    const std::size_t n = std::min<std::size_t>(ctx.size(), 8);
    const std::vector<std::int64_t> window(ctx.end() - static_cast<std::ptrdiff_t>(n), ctx.end());
    const auto logits = model->forward(Tensor::from_vector(window, {1, static_cast<std::int64_t>(n)})).to_vector<float>();
    std::int64_t best = 0;
    for (std::int64_t v = 1; v < 11; ++v)
      if (logits[(n - 1) * 11 + static_cast<std::size_t>(v)] > logits[(n - 1) * 11 + static_cast<std::size_t>(best)]) best = v;
    expect.push_back(best);
    ctx.push_back(best);
  }
  BOOST_TEST((greedy.tokens == expect));
  // A long prompt is cropped to the block size; bad prompts are named.
  const auto long_run = generate(*model, std::vector<std::int64_t>(20, 4), g);
  BOOST_TEST(long_run.cropped == 12);
  BOOST_TEST(long_run.prompt.size() == 8u);
  BOOST_CHECK_EXCEPTION(generate(*model, {}, g), std::invalid_argument,
                        [](const auto& e) { return wbtest::contains(e.what(), "prompt is empty"); });
  BOOST_CHECK_EXCEPTION(generate(*model, {1, 11}, g), std::invalid_argument,
                        [](const auto& e) { return wbtest::contains(e.what(), "token 11 at position 1"); });
}

BOOST_AUTO_TEST_SUITE_END()
