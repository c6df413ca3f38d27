#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <numeric>
#include <set>
#include <thread>

#include "datasets/loader.hpp"
#include "tensor/parallel.hpp"
#include "tensor/prim.hpp"
#include "tests/support/check.hpp"

using namespace wb;
using namespace wb::data;

BOOST_AUTO_TEST_SUITE(loader)

namespace {
// n images of c x h x w; image i, byte j holds (i * 31 + j * 7) % 256; label i % 10.
Dataset make_dataset(std::int64_t n, std::int64_t c = 1, std::int64_t h = 5, std::int64_t w = 5) {
  Dataset d;
  d.name = "synthetic";
  d.channels = c;
  d.height = h;
  d.width = w;
  d.num_classes = 10;
  for (std::int64_t i = 0; i < n; ++i) {
    d.labels.push_back(i % 10);
    for (std::int64_t j = 0; j < c * h * w; ++j) d.pixels.push_back(static_cast<std::uint8_t>((i * 31 + j * 7) % 256));
  }
  return d;
}

std::vector<Batch> run_epoch(Loader& l, std::int64_t epoch, std::int64_t first = 0) {
  l.start(epoch, first);
  std::vector<Batch> out;
  while (auto b = l.next()) out.push_back(std::move(*b));
  return out;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.x.shape() == b.x.shape() && a.x.to_vector<float>() == b.x.to_vector<float>() &&
         a.y.to_vector<std::int64_t>() == b.y.to_vector<std::int64_t>() && a.indices == b.indices &&
         a.epoch == b.epoch && a.index == b.index;
}

std::vector<std::int64_t> all_indices(const std::vector<Batch>& batches) {
  std::vector<std::int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
  return out;
}

std::int64_t thread_count() {
  std::int64_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

// Runs f on a helper thread and fails (ending the process) if it has not returned after 60 s: a
// deadlocked loader shutdown must fail the test, not hang the suite.
template <class F>
void within_deadline(const char* what, F f) {
  std::packaged_task<void()> task(f);
  auto done = task.get_future();
  std::thread t(std::move(task));
  if (done.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    BOOST_ERROR(what << ": did not return within 60 s (deadlock)");
    std::_Exit(3);
  }
  t.join();
  done.get();  // rethrows an exception raised by f
}

std::vector<double> scaled(std::vector<double> v, double s) {
  for (auto& x : v) x *= s;
  return v;
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_index_once_per_epoch) {
  LoaderOptions o;
  o.batch_size = 10;
  o.seed = 5;
  Loader l(make_dataset(103), o);
  BOOST_TEST(l.batches_per_epoch() == 11);
  const auto batches = run_epoch(l, 0);
  BOOST_TEST(batches.size() == 11u);
  BOOST_TEST((batches.back().x.shape() == Shape{3, 1, 5, 5}));
  BOOST_TEST((batches.front().x.shape() == Shape{10, 1, 5, 5}));
  BOOST_TEST(batches.front().x.is_contiguous());
  BOOST_TEST(batches.front().x.dtype() == DType::f32);
  BOOST_TEST(batches.front().y.dtype() == DType::i64);
  auto idx = all_indices(batches);
  BOOST_TEST(idx == l.order(0));
  std::sort(idx.begin(), idx.end());
  std::vector<std::int64_t> expect(103);
  std::iota(expect.begin(), expect.end(), 0);
  BOOST_TEST(idx == expect);
  // labels follow the indices
  for (const auto& b : batches) {
    const auto y = b.y.to_vector<std::int64_t>();
    for (std::size_t j = 0; j < y.size(); ++j) BOOST_TEST(y[j] == b.indices[j] % 10);
  }
  BOOST_TEST(!l.next().has_value());  // the epoch stays done until start()

  o.drop_last = true;
  Loader d(make_dataset(103), o);
  BOOST_TEST(d.batches_per_epoch() == 10);
  const auto dropped = run_epoch(d, 0);
  BOOST_TEST(dropped.size() == 10u);
  auto didx = all_indices(dropped);
  BOOST_TEST(std::set<std::int64_t>(didx.begin(), didx.end()).size() == 100u);
  o.batch_size = 200;
  BOOST_TEST(Loader(make_dataset(103), o).batches_per_epoch() == 0);
}

BOOST_AUTO_TEST_CASE(order_depends_on_seed_and_epoch_only) {
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 42;
  Loader a(make_dataset(64), o), b(make_dataset(64), o);
  BOOST_TEST(a.order(0) != a.order(1));
  BOOST_TEST(a.order(1) != a.order(2));
  BOOST_TEST(a.order(0) != std::vector<std::int64_t>(a.order(0).size()));
  // same seed, same order, whatever was run before
  run_epoch(b, 3);
  BOOST_TEST(all_indices(run_epoch(a, 1)) == all_indices(run_epoch(b, 1)));
  BOOST_TEST(a.order(7) == b.order(7));
  o.seed = 43;
  Loader c(make_dataset(64), o);
  BOOST_TEST(c.order(1) != a.order(1));
  BOOST_TEST(derive_seed(1, kOrderStream, 2, 3) != derive_seed(1, kOrderStream, 3, 2));
  BOOST_TEST(derive_seed(1, kOrderStream, 0, 0) != derive_seed(1, kAugmentStream, 0, 0));
}

BOOST_AUTO_TEST_CASE(resume_matches_an_uninterrupted_run_bit_for_bit) {
  LoaderOptions o;
  o.batch_size = 7;
  o.seed = 9;
  o.crop_padding = 2;
  o.horizontal_flip = true;
  o.normalization = {{0.3, 0.4, 0.5}, {0.2, 0.25, 0.3}};
  const auto data = std::make_shared<const Dataset>(make_dataset(50, 3, 6, 6));
  Loader full(data, o);
  std::vector<std::vector<Batch>> epochs;
  for (std::int64_t e = 0; e < 3; ++e) epochs.push_back(run_epoch(full, e));
  BOOST_TEST(epochs[0].size() == 8u);

  // interrupted after epoch 1, batch 3: a fresh loader resumes there
  Loader resumed(data, o);
  auto rest = run_epoch(resumed, 1, 4);
  BOOST_REQUIRE(rest.size() == 4u);
  for (std::size_t i = 0; i < rest.size(); ++i) BOOST_TEST(same_batch(rest[i], epochs[1][4 + i]), "batch " << i + 4);
  const auto next_epoch = run_epoch(resumed, 2);
  for (std::size_t i = 0; i < next_epoch.size(); ++i) BOOST_TEST(same_batch(next_epoch[i], epochs[2][i]));
  // restarting mid-epoch on a running loader, and the synchronous path, give the same batches
  Loader restarted(data, o);
  restarted.start(0);
  BOOST_TEST(same_batch(*restarted.next(), epochs[0][0]));
  restarted.start(0, 6);
  BOOST_TEST(restarted.position() == 6);
  BOOST_TEST(same_batch(*restarted.next(), epochs[0][6]));
  BOOST_TEST(same_batch(restarted.batch(2, 5), epochs[2][5]));
  o.prefetch = 0;
  Loader sync(data, o);
  const auto s = run_epoch(sync, 0);
  for (std::size_t i = 0; i < s.size(); ++i) BOOST_TEST(same_batch(s[i], epochs[0][i]));
  // augmentation differs between epochs and between batches
  BOOST_TEST(full.augmentations(0, 0) != full.augmentations(1, 0));
  BOOST_TEST(full.augmentations(0, 0) != full.augmentations(0, 1));
  BOOST_CHECK_THROW(full.start(0, 9), std::out_of_range);
  BOOST_CHECK_THROW(full.augmentations(0, 8), std::out_of_range);
}

BOOST_AUTO_TEST_CASE(normalization_values) {
  Dataset d = make_dataset(1, 1, 1, 3);
  d.pixels = {0, 255, 51};
  // Fashion-MNIST statistics: (v/255 - 0.2860) / 0.3530
  //   0 -> -0.2860/0.3530 = -0.81019830, 255 -> 0.7140/0.3530 = 2.02266289, 51 -> -0.0860/0.3530 = -0.24362606
  LoaderOptions o = eval_options({});
  o.normalization = fashion_mnist_normalization();
  BOOST_TEST(wbtest::allclose(Loader(d, o).batch(0, 0).x, {-0.81019830, 2.02266289, -0.24362606}, 1e-6, 0.0));
  o.normalization = {};  // v / 255
  BOOST_TEST(wbtest::allclose(Loader(d, o).batch(0, 0).x, {0.0, 1.0, 0.2}, 1e-7, 0.0));
  // per channel: three 1x1 channels of value 255 with means (0.5, 0, 1) and std (0.5, 2, 0.25)
  Dataset rgb = make_dataset(1, 3, 1, 1);
  rgb.pixels = {255, 255, 255};
  o.normalization = {{0.5, 0.0, 1.0}, {0.5, 2.0, 0.25}};
  BOOST_TEST(wbtest::allclose(Loader(rgb, o).batch(0, 0).x, {1.0, 0.5, 0.0}, 1e-7, 0.0));
  // channel statistics of a two-value image: mean 0.5, std 0.5
  Dataset two = make_dataset(2, 1, 1, 1);
  two.pixels = {0, 255};
  const Normalization s = channel_stats(two);
  BOOST_TEST(std::abs(s.mean[0] - 0.5) < 1e-12);
  BOOST_TEST(std::abs(s.stddev[0] - 0.5) < 1e-12);
  // mismatched or invalid statistics are refused
  o.normalization = {{0.5, 0.5}, {0.5, 0.5}};
  BOOST_CHECK_THROW(Loader(rgb, o), std::invalid_argument);
  o.normalization = {{0.5}, {0.0}};
  BOOST_CHECK_THROW(Loader(rgb, o), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(crop_and_flip_on_a_hand_made_image) {
  // 3x3 image   1 2 3      values v/255 without normalization
  //             4 5 6
  //             7 8 9
  Dataset d = make_dataset(1, 1, 3, 3);
  d.pixels = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const Normalization none;
  const double s = 1.0 / 255.0;
  BOOST_TEST(wbtest::allclose(transform_image(d, 0, {}, none), scaled({1, 2, 3, 4, 5, 6, 7, 8, 9}, s), 1e-7, 0.0));
  // flip: out(y, x) = src(y, 2 - x)
  BOOST_TEST(wbtest::allclose(transform_image(d, 0, {0, 0, true}, none), scaled({3, 2, 1, 6, 5, 4, 9, 8, 7}, s), 1e-7, 0.0));
  // shift_y = 1: out(y, x) = src(y + 1, x), the last row from the zero padding
  BOOST_TEST(wbtest::allclose(transform_image(d, 0, {1, 0, false}, none), scaled({4, 5, 6, 7, 8, 9, 0, 0, 0}, s), 1e-7, 0.0));
  // shift (-1, 1) then flip: out(y, x) = src(y - 1, 2 - x + 1)
  //   row 0 <- padding; row 1 <- src row 0 at columns 3 (pad), 2, 1; row 2 <- src row 1
  const std::vector<double> expect = scaled({0, 0, 0, 0, 3, 2, 0, 6, 5}, s);
  BOOST_TEST(wbtest::allclose(transform_image(d, 0, {-1, 1, true}, none), expect, 1e-7, 0.0));
  // shift_y = 2: out(0, x) = src(2, x), rows 1 and 2 from the padding, which is the byte 0 *before*
  // normalization: (v/255 - 0.5) / 0.5 = 2 v/255 - 1
  const Normalization n{{0.5}, {0.5}};
  BOOST_TEST(wbtest::allclose(transform_image(d, 0, {2, 0, false}, n), {14 * s - 1, 16 * s - 1, 18 * s - 1, -1, -1, -1, -1, -1, -1}, 1e-6, 0.0));

  // Through the loader: pad 1 and flips draw all 3 x 3 x 2 augmentations, and each batch is the
  // image transformed by the augmentation the loader reports.
  LoaderOptions o;
  o.batch_size = 1;
  o.crop_padding = 1;
  o.horizontal_flip = true;
  o.seed = 1;
  Loader l(d, o);
  std::set<std::tuple<std::int64_t, std::int64_t, bool>> seen;
  bool checked_literal = false;
  for (std::int64_t e = 0; e < 200; ++e) {
    const auto augs = l.augmentations(e, 0);
    BOOST_REQUIRE(augs.size() == 1u);
    const Augmentation a = augs[0];
    BOOST_TEST(std::abs(a.shift_y) <= 1);
    BOOST_TEST(std::abs(a.shift_x) <= 1);
    seen.insert({a.shift_y, a.shift_x, a.flip});
    const Tensor x = l.batch(e, 0).x;
    BOOST_TEST(wbtest::allclose(prim::reshape(x, {1, 3, 3}), transform_image(d, 0, a, none), 0.0, 0.0));
    if (a == Augmentation{-1, 1, true} && !checked_literal) {
      BOOST_TEST(wbtest::allclose(x, expect, 1e-7, 0.0));
      checked_literal = true;
    }
  }
  BOOST_TEST(seen.size() == 18u);
  BOOST_TEST(checked_literal);
}

BOOST_AUTO_TEST_CASE(eval_mode_keeps_order_and_pixels) {
  LoaderOptions train;
  train.batch_size = 4;
  train.crop_padding = 2;
  train.horizontal_flip = true;
  train.drop_last = true;
  train.normalization = {{0.25}, {0.5}};
  const Dataset d = make_dataset(10);
  Loader l(d, eval_options(train));
  BOOST_TEST(l.batches_per_epoch() == 3);
  for (std::int64_t e = 0; e < 2; ++e) {
    const auto batches = run_epoch(l, e);
    BOOST_REQUIRE(batches.size() == 3u);
    std::vector<std::int64_t> expect(10);
    std::iota(expect.begin(), expect.end(), 0);
    BOOST_TEST(all_indices(batches) == expect);
    for (const auto& b : batches)
      for (std::size_t j = 0; j < b.indices.size(); ++j)
        BOOST_TEST(wbtest::allclose(prim::select(b.x, 0, static_cast<std::int64_t>(j)),
                                    transform_image(d, b.indices[j], {}, train.normalization), 0.0, 0.0));
  }
}

BOOST_AUTO_TEST_CASE(destroying_mid_epoch_is_clean) {
  wb::num_threads();  // start the compute pool first so that only loader threads come and go below
  const auto data = std::make_shared<const Dataset>(make_dataset(4000, 1, 28, 28));
  const std::int64_t before = thread_count();
  LoaderOptions o;
  o.batch_size = 16;
  o.crop_padding = 2;
  o.horizontal_flip = true;
  o.prefetch = 3;
  within_deadline("destroy after one batch", [&] {
    Loader l(data, o);
    BOOST_TEST(l.next().has_value());
    BOOST_TEST(thread_count() == before + 2);  // within_deadline's helper and the prefetch thread
  });
  BOOST_TEST(thread_count() == before);
  within_deadline("destroy before any batch", [&] {
    Loader l(data, o);
    l.start(2, 5);
  });
  within_deadline("restart repeatedly", [&] {
    Loader l(data, o);
    for (std::int64_t e = 0; e < 20; ++e) {
      l.start(e, e % 7);
      l.next();
    }
  });
  within_deadline("destroy after the epoch", [&] {
    o.batch_size = 1000;
    Loader l(data, o);
    const auto n = run_epoch(l, 0).size();
    BOOST_TEST(n == 4u);
    BOOST_TEST(thread_count() == before + 1);  // only the helper: the prefetch thread was joined at the end
  });
  BOOST_TEST(thread_count() == before);
}

BOOST_AUTO_TEST_CASE(invalid_options_are_refused) {
  LoaderOptions o;
  o.batch_size = 0;
  BOOST_CHECK_THROW(Loader(make_dataset(4), o), std::invalid_argument);
  o = {};
  o.crop_padding = -1;
  BOOST_CHECK_THROW(Loader(make_dataset(4), o), std::invalid_argument);
  o = {};
  Dataset bad = make_dataset(4);
  bad.labels[2] = 10;
  BOOST_CHECK_THROW(Loader(bad, o), std::invalid_argument);
  bad = make_dataset(4);
  bad.pixels.pop_back();
  BOOST_CHECK_THROW(Loader(bad, o), std::invalid_argument);
  Loader l(make_dataset(4), o);
  BOOST_CHECK_THROW(l.start(-1), std::out_of_range);
  BOOST_CHECK_THROW(l.order(-1), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
