// CRATE-MAE (crate/models/mae, crate/train/objectives/masked_autoencoding): parameter counts of the
// named configs, official state-dict names, the position table, the mask, the in-place refill, the
// decoder layer (a hand case and a float64 random-direction check), the loss (hand values and a
// gradcheck), a whole-model directional gradcheck, overfitting a tiny batch, seeded determinism and
// bad input. The PyTorch parity lives in tests/compat/check_mae_parity.py.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>

#include "autograd/engine.hpp"
#include "crate/instruments/mae_profile.hpp"
#include "crate/io/checkpoint.hpp"
#include "crate/models/mae/autoencoder.hpp"
#include "crate/models/registry.hpp"
#include "crate/train/loop.hpp"
#include "crate/train/objectives/masked_autoencoding.hpp"
#include "ops/ops.hpp"
#include "ops/optim/adamw.hpp"
#include "tensor/prim.hpp"
#include "tests/crate/module_check.hpp"
#include "tests/crate/train/synthetic_task.hpp"
#include "tests/support/check.hpp"
#include "tests/support/datasets.hpp"
#include "tests/support/files.hpp"

using namespace wb;
using namespace wb::crate;

namespace {

// 8 x 8 images, 1 channel, 4 x 4 patches (N = 4, one kept at r = 0.75), d 8 in 2 heads, 1 + 1 layers.
MaeConfig mae_test_config(DType dtype = DType::f64, std::uint64_t seed = 3) {
  MaeConfig c;
  c.name = "mae-test";
  c.image_size = 8;
  c.patch_size = 4;
  c.channels = 1;
  c.dim = 8;
  c.heads = 2;
  c.dim_head = 4;
  c.depth = 1;
  c.decoder_depth = 1;
  c.dtype = dtype;
  c.seed = seed;
  return c;
}

Tensor mask_of(const std::vector<double>& v, std::int64_t b, std::int64_t n, DType dtype) {
  return prim::cast(Tensor::from_vector(v, {b, n}), dtype);
}

std::int64_t trainable_count(const Module& m) {
  std::int64_t n = 0;
  for (const auto& [name, t] : m.named_parameters())
    if (t.requires_grad()) n += t.numel();
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(mae)

BOOST_AUTO_TEST_CASE(parameter_counts_of_the_named_configs) {
  // crate-family.md §2.1: fixed tables and decoder_embed included.
  BOOST_TEST(count_parameters(named_mae_config("crate-mae-tiny")) == 11555328);
  BOOST_TEST(count_parameters(named_mae_config("crate-mae-small")) == 25405824);
  BOOST_TEST(count_parameters(named_mae_config("crate-mae-base")) == 44638464);
  BOOST_TEST(count_parameters(named_mae_config("crate-mae-large")) == 154274560);
  // The family notes' "trainable" (requires_grad in PyTorch) keeps decoder_embed, which never gets a
  // gradient; whitebox's trainable count leaves it out as well (d^2 + d).
  BOOST_TEST(count_trainable_parameters(named_mae_config("crate-mae-tiny")) == 11404032 - (384 * 384 + 384));
  BOOST_TEST(count_trainable_parameters(named_mae_config("crate-mae-large")) == 153871104 - (1024 * 1024 + 1024));
  BOOST_TEST(count_trainable_parameters(named_mae_config("crate-mae-small-28")) == 899920);  // the CPU idea, 4 + 4
  // The built models agree with the closed forms (the tiny one at full size; the others small).
  const MaskedAutoencoder tiny(named_mae_config("crate-mae-tiny"));
  BOOST_TEST(tiny.parameter_count() == 11555328);
  BOOST_TEST(trainable_count(tiny) == 11404032 - (384 * 384 + 384));
  for (const auto& name : {"crate-mae-mini-28", "crate-mae-small-28", "crate-mae-mini-32", "vit-mae-mini-28"}) {
    const MaskedAutoencoder m(named_mae_config(name));
    BOOST_TEST(m.parameter_count() == count_parameters(m.config()), name);
    BOOST_TEST(trainable_count(m) == count_trainable_parameters(m.config()), name);
  }
  BOOST_CHECK_THROW(named_mae_config("crate-mae-huge"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(official_state_dict_names_and_shapes) {
  const MaskedAutoencoder m(named_mae_config("crate-mae-mini-28"));
  std::map<std::string, Shape> shapes;
  for (const auto& [n, t] : m.named_parameters()) shapes[n] = t.shape();
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"cls_token", {1, 1, 96}},
      {"pos_embed", {1, 50, 96}},
      {"patch_embed.proj.weight", {96, 1, 4, 4}},
      {"patch_embed.proj.bias", {96}},
      {"blocks.0.layers.0.0.norm.weight", {96}},
      {"blocks.0.layers.0.0.fn.qkv.weight", {96, 96}},
      {"blocks.0.layers.0.0.fn.to_out.0.bias", {96}},
      {"blocks.3.layers.0.1.fn.weight", {96, 96}},
      {"norm.weight", {96}},
      {"decoder_embed.weight", {96, 96}},
      {"decoder_embed.bias", {96}},
      {"mask_token", {1, 1, 96}},
      {"decoder_pos_embed", {1, 50, 96}},
      {"decoder_blocks.0.layers.0.0.norm.bias", {96}},
      {"decoder_blocks.0.layers.0.0.fn.weight", {96, 96}},
      {"decoder_blocks.3.layers.0.1.fn.qkv.weight", {96, 96}},
      {"decoder_blocks.3.layers.0.1.fn.to_out.0.weight", {96, 96}},
      {"decoder_norm.weight", {96}},
      {"decoder_pred.weight", {16, 96}},
      {"decoder_pred.bias", {16}}};
  for (const auto& [name, shape] : expected) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(shapes.count(name) == 1);
      BOOST_TEST(shapes[name] == shape);
    }
  }
  BOOST_TEST(shapes.size() == 4 + 4 * 8 + 2 + 2 + 2 + 4 * 8 + 2 + 2);
}

BOOST_AUTO_TEST_CASE(position_table_is_fixed_sincos_with_a_zero_class_row) {
  const Tensor t = sincos_position_table(8, 3, DType::f64);  // d 8: quarter 2, omega = (1, 1/100)
  BOOST_TEST(t.shape() == (Shape{1, 10, 8}));
  const auto v = t.to_vector<double>();
  for (int j = 0; j < 8; ++j) BOOST_TEST(v[static_cast<std::size_t>(j)] == 0.0);
  // token 1 + row * 3 + col for (row 2, col 1): channels 0..3 encode the column, 4..7 the row
  const double* e = &v[static_cast<std::size_t>((1 + 2 * 3 + 1) * 8)];
  const double expect[8] = {std::sin(1.0), std::sin(0.01), std::cos(1.0), std::cos(0.01),
                            std::sin(2.0), std::sin(0.02), std::cos(2.0), std::cos(0.02)};
  for (int j = 0; j < 8; ++j) BOOST_TEST(std::abs(e[j] - expect[j]) < 1e-6, j);
  const MaskedAutoencoder m(mae_test_config());
  for (const auto& [n, p] : m.named_parameters())
    if (n == "pos_embed" || n == "decoder_pos_embed" || n.rfind("decoder_embed.", 0) == 0) BOOST_TEST(!p.requires_grad(), n);
}

BOOST_AUTO_TEST_CASE(mask_keeps_int_n_times_one_minus_r_patches_with_the_smallest_noise) {
  MaeConfig c = named_mae_config("crate-mae-tiny");
  BOOST_TEST(c.kept() == 49);  // N 196
  BOOST_TEST(named_mae_config("crate-mae-mini-28").kept() == 12);  // N 49
  c.image_size = 64;                                             // N 16
  BOOST_TEST(c.kept() == 4);
  const Tensor noise = Tensor::from_vector(std::vector<double>{0.5, 0.1, 0.9, 0.3, 0.2, 0.8, 0.7, 0.05}, {2, 4});
  const auto m = mask_from_noise(noise, 2, DType::f64).to_vector<double>();
  BOOST_TEST(m == (std::vector<double>{1, 0, 1, 0, 0, 1, 1, 0}), boost::test_tools::per_element());
  Generator g(1);
  const MaeConfig mc = named_mae_config("crate-mae-mini-28");
  const auto drawn = draw_mask(5, mc, g).to_vector<float>();
  for (int i = 0; i < 5; ++i) {
    double masked = 0;
    for (int j = 0; j < 49; ++j) masked += drawn[static_cast<std::size_t>(i * 49 + j)];
    BOOST_TEST(masked == 37.0);
  }
}

BOOST_AUTO_TEST_CASE(masked_patches_are_refilled_so_their_pixels_do_not_matter) {
  const MaskedAutoencoder m(mae_test_config());
  const Tensor x = wbtest::randn({2, 1, 8, 8}, 7);
  const Tensor mask = mask_of({1, 0, 1, 1, 0, 1, 1, 1}, 2, 4, DType::f64);
  Tensor y = prim::clone(x);
  // change the pixels of patch 0 (rows 0-3, cols 0-3) of image 0, which is masked; and of patch 1 of
  // image 0, which is kept: only the second change may move the output
  auto v = y.to_vector<double>();
  for (int r = 0; r < 4; ++r) v[static_cast<std::size_t>(r * 8)] += 5.0;
  const Tensor y_masked = Tensor::from_vector(v, x.shape());
  v = x.to_vector<double>();
  v[4] += 5.0;
  const Tensor y_kept = Tensor::from_vector(v, x.shape());
  const auto a = m.forward(x, mask).to_vector<double>();
  const auto b = m.forward(y_masked, mask).to_vector<double>();
  const auto k = m.forward(y_kept, mask).to_vector<double>();
  BOOST_TEST(a == b, boost::test_tools::per_element());
  double moved = 0;
  for (std::size_t i = 0; i < a.size(); ++i) moved = std::max(moved, std::abs(a[i] - k[i]));
  BOOST_TEST(moved > 1e-6);
  BOOST_TEST(m.forward(x, mask).shape() == (Shape{2, 4, 16}));
}

BOOST_AUTO_TEST_CASE(decoder_layer_hand_case_and_random_direction) {
  BlockConfig c;
  c.dim = 4;
  c.heads = 2;
  c.dim_head = 2;
  c.dtype = DType::f64;
  Generator gen(4);
  CrateDecoderLayer layer(c, gen);
  // With D~ = I and the MSSA's output map zero (W_o = 0, b_o = 0), the layer is LN_a(Z) exactly; with
  // b_o = 1 it is LN_a(Z) - 1 (the minus sign of the structured-diffusion step).
  for (auto& [n, p] : layer.named_parameters()) {
    if (n == "0.fn.weight") prim::copy_(p, Tensor::from_vector(std::vector<double>{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {4, 4}));
    if (n == "1.fn.to_out.0.weight") prim::fill_(p, 0.0);
    if (n == "1.fn.to_out.0.bias") prim::fill_(p, 1.0);
  }
  const Tensor z = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, -1, 0, 1, 6}, {1, 2, 4});
  const auto out = layer.forward(z).to_vector<double>();
  const double rows[2][4] = {{1, 2, 3, 4}, {-1, 0, 1, 6}};
  for (int r = 0; r < 2; ++r) {
    double mean = 0, var = 0;
    for (double x : rows[r]) mean += x / 4;
    for (double x : rows[r]) var += (x - mean) * (x - mean) / 4;
    for (int j = 0; j < 4; ++j) {
      const double ln = (rows[r][j] - mean) / std::sqrt(var + 1e-5);
      BOOST_TEST(std::abs(out[static_cast<std::size_t>(r * 4 + j)] - (ln - 1.0)) < 1e-12);
    }
  }
  // random-direction check of the whole block in float64 (fresh random weights)
  Generator gen2(9);
  CrateDecoderLayer fresh(c, gen2);
  const Tensor x = wbtest::param(wbtest::randn({2, 5, 4}, 41));
  const Tensor r = wbtest::randn({2, 5, 4}, 43);
  check_module_direction(fresh, {x}, [&] { return ops::sum(ops::mul(fresh.forward(x), r)); });
  wbtest::check_grad([&](const std::vector<Tensor>& in) { return fresh.forward(in[0]); },
                     {wbtest::param(wbtest::randn({1, 3, 4}, 42))});
}

BOOST_AUTO_TEST_CASE(loss_counts_masked_patches_only_and_norm_pix_uses_the_unbiased_variance) {
  // pred - target = 1 on patch 0, 2 on patch 1, 3 on patch 2 (k = 2 values each); mask {1, 0, 1}:
  // loss = (1 + 9) / 2 = 5
  const Tensor target = Tensor::from_vector(std::vector<double>{0, 0, 1, 1, 2, 2}, {1, 3, 2});
  const Tensor pred = Tensor::from_vector(std::vector<double>{1, 1, 3, 3, 5, 5}, {1, 3, 2});
  const Tensor mask = mask_of({1, 0, 1}, 1, 3, DType::f64);
  BOOST_TEST(masked_reconstruction_loss(pred, target, mask).item() == 5.0);
  // norm_pix of the patch (1, 3): mean 2, unbiased var 2: ((1 - 2), (3 - 2)) / sqrt(2 + 1e-6)
  const auto t = norm_pix_target(Tensor::from_vector(std::vector<double>{1, 3}, {1, 1, 2})).to_vector<double>();
  BOOST_TEST(std::abs(t[0] + 1.0 / std::sqrt(2.0 + 1e-6)) < 1e-15);
  BOOST_TEST(std::abs(t[1] - 1.0 / std::sqrt(2.0 + 1e-6)) < 1e-15);
  const auto biased = norm_pix_target(Tensor::from_vector(std::vector<double>{1, 3}, {1, 1, 2}), false).to_vector<double>();
  BOOST_TEST(std::abs(biased[1] - 1.0 / std::sqrt(1.0 + 1e-6)) < 1e-15);
  wbtest::check_grad([&](const std::vector<Tensor>& in) { return masked_reconstruction_loss(in[0], target, mask); },
                     {wbtest::param(wbtest::randn({1, 3, 2}, 5))});
  BOOST_CHECK_THROW(masked_reconstruction_loss(pred, target, mask_of({1, 0}, 1, 2, DType::f64)), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(whole_model_random_direction_gradcheck_in_float64) {
  for (const MaeBackbone backbone : {MaeBackbone::crate, MaeBackbone::vit}) {
    MaeConfig c = mae_test_config();
    c.backbone = backbone;
    c.norm_pix = backbone == MaeBackbone::vit;
    MaskedAutoencoder m(c);
    // the fixed tables and decoder_embed take part too (their gradients: the tables' is the token
    // gradient, decoder_embed's zero)
    for (auto& p : m.parameters()) p.requires_grad_(true);
    const Tensor x = wbtest::randn({2, 1, 8, 8}, 11);
    const Tensor mask = mask_of({1, 0, 1, 1, 1, 1, 0, 1}, 2, 4, DType::f64);
    const Tensor target = mae_target(x, c);
    check_module_direction(m, {}, [&] { return masked_reconstruction_loss(m.forward(x, mask), target, mask); });
  }
}

BOOST_AUTO_TEST_CASE(overfits_a_tiny_batch) {
  MaeConfig c = mae_test_config(DType::f32);
  c.dim = 32;
  c.heads = 4;
  c.dim_head = 8;
  MaskedAutoencoder m(c);
  const Tensor x = wbtest::randn({4, 1, 8, 8}, 4, DType::f32);
  const Tensor mask = mask_of({1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0}, 4, 4, DType::f32);
  const Tensor target = mae_target(x, c);
  std::vector<Tensor> params;
  for (const auto& p : m.parameters())
    if (p.requires_grad()) params.push_back(p);
  optim::AdamW opt({optim::ParamGroup{params, 3e-3, 0.0}});
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    const Tensor loss = masked_reconstruction_loss(m.forward(x, mask), target, mask);
    if (step == 0) first = loss.item();
    last = loss.item();
    autograd::backward(loss);
    opt.step();
  }
  BOOST_TEST(first > 0.5);
  BOOST_TEST(last < 0.05 * first, "loss " << first << " -> " << last);
}

BOOST_AUTO_TEST_CASE(seeded_determinism) {
  const MaskedAutoencoder a(mae_test_config(DType::f32, 7)), b(mae_test_config(DType::f32, 7)),
      other(mae_test_config(DType::f32, 8));
  const Tensor x = wbtest::randn({2, 1, 8, 8}, 3, DType::f32);
  Generator g1(5), g2(5);
  const MaeConfig c = mae_test_config(DType::f32, 7);
  const Tensor m1 = draw_mask(2, c, g1), m2 = draw_mask(2, c, g2);
  BOOST_TEST(m1.to_vector<float>() == m2.to_vector<float>(), boost::test_tools::per_element());
  const auto ya = a.forward(x, m1).to_vector<float>(), yb = b.forward(x, m2).to_vector<float>();
  BOOST_TEST(ya == yb, boost::test_tools::per_element());
  BOOST_TEST(ya != other.forward(x, m1).to_vector<float>());
  // evaluation masks are a function of the image index alone
  const auto e1 = evaluation_mask({3, 9}, c, 0).to_vector<float>();
  const auto e2 = evaluation_mask({7, 3}, c, 0).to_vector<float>();
  BOOST_TEST(std::vector<float>(e1.begin(), e1.begin() + 4) == std::vector<float>(e2.begin() + 4, e2.end()),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_input_gets_a_clear_error) {
  auto message_of = [](auto&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  for (const double r : {0.0, 1.0, -0.5, 1.5}) {
    MaeConfig c = mae_test_config();
    c.mask_ratio = r;
    BOOST_TEST(wbtest::contains(message_of([&] { c.validate(); }), "mask_ratio"), r);
  }
  MaeConfig c = mae_test_config();
  c.image_size = 10;  // not a multiple of 4
  BOOST_TEST(wbtest::contains(message_of([&] { MaskedAutoencoder m(c); }), "multiple of patch_size"));
  const MaskedAutoencoder m(mae_test_config());
  BOOST_TEST(wbtest::contains(message_of([&] { (void)m.forward(wbtest::randn({1, 1, 12, 12}, 1), mask_of({1, 0, 1, 1}, 1, 4, DType::f64)); }),
                              "expects images"));
  BOOST_TEST(wbtest::contains(message_of([&] { (void)m.forward(wbtest::randn({1, 1, 8, 8}, 1), mask_of({1, 0, 1}, 1, 3, DType::f64)); }),
                              "mask"));
  // a checkpoint of another family, both ways
  wbtest::TempDir dir;
  CrateModel classifier(named_config("crate-mini-28"));
  save_model(dir / "classifier.safetensors", classifier);
  BOOST_TEST(wbtest::contains(message_of([&] { (void)load_mae(dir / "classifier.safetensors"); }), "another model family"));
  MaeTask task(std::make_unique<MaskedAutoencoder>(mae_test_config()), 0);
  BOOST_TEST(wbtest::contains(message_of([&] {
                                (void)task.load_weights(read_safetensors(dir / "classifier.safetensors"),
                                                        dir / "classifier.safetensors", LoadMode::partial);
                              }),
                              "another model family"));
  save_mae(dir / "mae.safetensors", m);
  BOOST_TEST(wbtest::contains(message_of([&] { (void)load_model(dir / "mae.safetensors"); }), "'mae' model family"));
  // and a round trip of the MAE file itself
  const auto back = load_mae(dir / "mae.safetensors");
  BOOST_TEST(back->config().name == "mae-test");
  const Tensor x = wbtest::randn({1, 1, 8, 8}, 2);
  const Tensor mk = mask_of({1, 0, 1, 1}, 1, 4, DType::f64);
  BOOST_TEST(back->forward(x, mk).to_vector<double>() == m.forward(x, mk).to_vector<double>(),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(profile_measures_both_halves) {
  // 8 x 8 synthetic images through the test config: one R^c per encoder and decoder layer, finite and
  // within the head-rate bounds' range (R^c >= 0), the sparsity a fraction; a ViT decoder is refused.
  MaeConfig c = mae_test_config(DType::f32);
  c.depth = c.decoder_depth = 2;
  const MaskedAutoencoder m(c);
  auto set = std::make_shared<const data::Dataset>(wbtest::synthetic_images(12, 1));
  data::LoaderOptions lo;
  lo.batch_size = 5;
  lo.prefetch = 0;
  data::Loader loader(set, data::eval_options(lo));
  const MaeProfile p = measure_mae(m, loader, "init", [&](const data::Batch& b) { return evaluation_mask(b.indices, c, 0); });
  BOOST_TEST(p.images == 12);
  BOOST_REQUIRE(p.encoder_rc.size() == 2);
  BOOST_REQUIRE(p.decoder_rc.size() == 2);
  for (const auto& s : p.encoder_rc) BOOST_TEST((std::isfinite(s.mean) && s.mean > 0));
  for (const auto& s : p.decoder_rc) BOOST_TEST((std::isfinite(s.mean) && s.mean > 0));
  for (const auto& s : p.encoder_nonzero) BOOST_TEST((s.mean > 0 && s.mean <= 1));
  wbtest::TempDir dir;
  write_mae_profiles(dir / "prof", {p}, false);
  BOOST_TEST(std::filesystem::exists(dir / "prof.csv"));
  MaeConfig v = c;
  v.backbone = MaeBackbone::vit;
  const MaskedAutoencoder vit(v);
  BOOST_CHECK_THROW(measure_mae(vit, loader, "vit", [&](const data::Batch& b) { return evaluation_mask(b.indices, v, 0); }),
                    std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(trains_writes_the_grid_and_resumes_bit_for_bit, *wbtest::require_dataset("fashion-mnist")) {
  wbtest::TempDir dir;
  auto options = [&](const std::string& out) {
    TrainOptions o;
    o.task = "mae";
    o.mae = named_mae_config("crate-mae-mini-28");
    o.mae.depth = o.mae.decoder_depth = 1;
    o.epochs = 2;
    o.batch_size = 16;
    o.train_limit = 64;
    o.test_limit = 16;
    o.lr = 1e-3;
    o.warmup_epochs = 0;
    o.progress = false;
    o.plot = false;
    o.out_dir = dir / out;
    return o;
  };
  const TrainResult full = train(options("full"));
  BOOST_REQUIRE(full.epochs.size() == 2);
  BOOST_TEST(std::filesystem::exists(dir / "full/reconstructions.png"));
  BOOST_TEST(std::filesystem::exists(dir / "full/reconstructions-epoch2.png"));
  BOOST_TEST(full.epochs.back().test.at("mse") == full.epochs.back().test_loss);
  TrainOptions first = options("split");
  first.stop_after_epochs = 1;
  (void)train(first);
  TrainOptions rest = options("split");
  rest.resume = true;
  const TrainResult resumed = train(rest);
  BOOST_REQUIRE(resumed.epochs.size() == 2);
  BOOST_TEST(resumed.epochs.back().train_loss == full.epochs.back().train_loss);
  BOOST_TEST(resumed.epochs.back().test_loss == full.epochs.back().test_loss);
}

BOOST_AUTO_TEST_SUITE_END()
