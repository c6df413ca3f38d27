// Loader: turns a Dataset (uint8, N x C x H x W) into shuffled, augmented, normalized f32 batches,
// with a background thread preparing the next batches while the current one is used.
//
// Determinism: everything a batch contains is a function of (seed, epoch, batch index) alone:
//   order(e)        the sample order of epoch e: Generator(derive_seed(seed, kOrderStream, e, 0))
//                   .permutation(N) when shuffling, else 0..N-1
//   batch (e, b)    samples order(e)[b*B .. b*B + B), with augmentations drawn, sample by sample, from
//                   Generator(derive_seed(seed, kAugmentStream, e, b))
// so the prefetch thread's timing never changes a value, and start(e, b) resumes exactly where an
// uninterrupted run would be (bit for bit, augmentations included).
//
// Per-sample pipeline, in the order torchvision recipes apply it (RandomCrop(padding) ->
// RandomHorizontalFlip -> ToTensor -> Normalize):
//   crop   shift (sy, sx) uniform in [-pad, pad]^2 over the image zero-padded by `crop_padding`
//   flip   with probability 1/2 when `horizontal_flip`
//   value  v/255, then (v/255 - mean[c]) / std[c] when a Normalization is given; padding pixels are
//          v = 0 before normalization
//   out(c, y, x) = value(src(c, y + sy, xs + sx)) with xs = flip ? W-1-x : x, value(0) outside the image
//
// Use: loader.start(epoch, first_batch) then `while (auto b = loader.next()) { ... }` for each epoch;
// next() returns std::nullopt once the epoch is done. Destroying or restarting a loader mid-epoch
// stops and joins its thread.
//
// Other batch sources (datasets/text/windows.hpp: token windows) derive from Loader and override
// batches_per_epoch(), order() and build(), keeping the prefetch thread and the start/next contract;
// such a loader has no Dataset (dataset() throws), and its destructor must call stop_worker() first,
// since the thread calls its build().
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "datasets/dataset.hpp"
#include "tensor/tensor.hpp"

namespace wb::data {

struct Batch {
  Tensor x;                           // (B, C, H, W) f32, contiguous (token windows: (B, T) i64 ids)
  Tensor y;                           // (B) i64 class indices (token windows: (B, T) i64 next tokens)
  std::vector<std::int64_t> indices;  // (B) dataset index of each sample (token windows: start offsets)
  std::int64_t epoch = 0, index = 0;  // where in the sequence this batch is
};

// One sample's geometric augmentation (see the header comment); {0, 0, false} is the identity.
struct Augmentation {
  std::int64_t shift_y = 0, shift_x = 0;  // in [-crop_padding, crop_padding]
  bool flip = false;
  bool operator==(const Augmentation&) const = default;
};

struct LoaderOptions {
  std::int64_t batch_size = 128;  // B
  std::uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;             // drop the last batch when it has fewer than B samples
  Normalization normalization;        // one (mean, std) per channel, or one for all; empty: v/255 only
  std::int64_t crop_padding = 0;      // random crop with this much zero padding (4 for CIFAR, 2 for 28x28)
  bool horizontal_flip = false;
  std::int64_t prefetch = 2;          // batches prepared ahead by the background thread; 0: no thread
};
// The same options for evaluation: no shuffling, no augmentation, the last partial batch kept.
LoaderOptions eval_options(LoaderOptions options);

// Seeds of the loader's generators: a splitmix64 hash of (seed, stream, a, b).
inline constexpr std::uint64_t kOrderStream = 1, kAugmentStream = 2;
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b);

// Image i of `data` through the pipeline above with a given augmentation: (C, H, W) f32.
Tensor transform_image(const Dataset& data, std::int64_t i, const Augmentation& aug, const Normalization& norm);

class Loader {
 public:
  // Validates the dataset and options (std::invalid_argument naming the problem).
  Loader(std::shared_ptr<const Dataset> data, LoaderOptions options);
  Loader(Dataset data, LoaderOptions options);
  virtual ~Loader();  // stops and joins the prefetch thread, mid-epoch or not
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const Dataset& dataset() const;  // throws std::logic_error for a loader without a Dataset
  const LoaderOptions& options() const { return options_; }
  virtual std::int64_t batches_per_epoch() const;

  // Positions the loader at batch `batch_index` (0 <= batch_index <= batches_per_epoch()) of `epoch`,
  // dropping prefetched batches, and starts preparing from there. Without a call, next() starts at
  // (0, 0).
  void start(std::int64_t epoch, std::int64_t batch_index = 0);
  // The next batch of the current epoch, or std::nullopt when the epoch is done. Rethrows an
  // exception raised while the background thread built the batch.
  std::optional<Batch> next();
  std::int64_t epoch() const { return epoch_; }
  std::int64_t position() const { return position_; }  // index of the batch next() returns

  // Pure functions of (seed, epoch, batch index), usable at any time from the consuming thread:
  virtual std::vector<std::int64_t> order(std::int64_t epoch) const;
  std::vector<Augmentation> augmentations(std::int64_t epoch, std::int64_t batch_index) const;
  Batch batch(std::int64_t epoch, std::int64_t batch_index) const;  // built synchronously

 protected:
  // For derived batch sources without a Dataset (checks batch_size > 0 and prefetch >= 0; `name` is
  // what messages call the loader).
  Loader(LoaderOptions options, std::string name);
  virtual Batch build(const std::vector<std::int64_t>& order, std::int64_t epoch, std::int64_t batch_index) const;
  void stop_worker();

 private:
  void worker(std::shared_ptr<const std::vector<std::int64_t>> order, std::int64_t epoch, std::int64_t first);
  std::string name() const;

  std::shared_ptr<const Dataset> data_;  // null for a derived source
  std::string source_name_;
  LoaderOptions options_;
  std::vector<float> table_;  // C x 256: value of byte v in channel c

  std::int64_t epoch_ = 0, position_ = 0;
  bool started_ = false;
  std::shared_ptr<const std::vector<std::int64_t>> order_;  // order(epoch_)

  // Prefetch thread and the queue it fills (guarded by mu_).
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable ready_cv_, space_cv_;
  std::deque<Batch> queue_;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace wb::data
