#include "datasets/loader.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include <fmt/format.h>

#include "tensor/rng.hpp"

namespace wb::data {
namespace {

std::uint64_t mix64(std::uint64_t z) {  // the splitmix64 output function
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// table[c * 256 + v]: the f32 value of byte v in channel c (computed in double, rounded once).
std::vector<float> value_table(const Normalization& norm, std::int64_t channels, const std::string& where) {
  if (norm.mean.size() != norm.stddev.size())
    throw std::invalid_argument(fmt::format("{}: normalization has {} means but {} standard deviations", where,
                                            norm.mean.size(), norm.stddev.size()));
  const auto k = static_cast<std::int64_t>(norm.mean.size());
  if (k != 0 && k != 1 && k != channels)
    throw std::invalid_argument(fmt::format("{}: normalization has {} channels, expected 1 or the images' {}", where, k,
                                            channels));
  for (std::int64_t c = 0; c < k; ++c)
    if (!(norm.stddev[static_cast<std::size_t>(c)] > 0.0) || !std::isfinite(norm.mean[static_cast<std::size_t>(c)]))
      throw std::invalid_argument(fmt::format("{}: channel {} has mean {} and std {}; expected a finite mean and std > 0",
                                              where, c, norm.mean[static_cast<std::size_t>(c)],
                                              norm.stddev[static_cast<std::size_t>(c)]));
  std::vector<float> table(static_cast<std::size_t>(channels * 256));
  for (std::int64_t c = 0; c < channels; ++c) {
    const auto i = static_cast<std::size_t>(k == 1 ? 0 : c);
    const double mean = k == 0 ? 0.0 : norm.mean[i], sd = k == 0 ? 1.0 : norm.stddev[i];
    for (int v = 0; v < 256; ++v)
      table[static_cast<std::size_t>(c * 256 + v)] = static_cast<float>((v / 255.0 - mean) / sd);
  }
  return table;
}

// Writes image `src` (C x H x W bytes) through the augmentation into dst (C x H x W floats).
void render(const std::uint8_t* src, std::int64_t C, std::int64_t H, std::int64_t W, const Augmentation& a,
            const float* table, float* dst) {
  for (std::int64_t c = 0; c < C; ++c) {
    const float* t = table + c * 256;
    for (std::int64_t y = 0; y < H; ++y) {
      float* out = dst + (c * H + y) * W;
      const std::int64_t sy = y + a.shift_y;
      if (sy < 0 || sy >= H) {
        for (std::int64_t x = 0; x < W; ++x) out[x] = t[0];
        continue;
      }
      const std::uint8_t* row = src + (c * H + sy) * W;
      for (std::int64_t x = 0; x < W; ++x) {
        const std::int64_t sx = (a.flip ? W - 1 - x : x) + a.shift_x;
        out[x] = (sx >= 0 && sx < W) ? t[row[sx]] : t[0];
      }
    }
  }
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t a, std::uint64_t b) {
  std::uint64_t h = mix64(seed);
  h = mix64(h ^ mix64(stream + 0x243f6a8885a308d3ULL));
  h = mix64(h ^ mix64(a + 0x13198a2e03707344ULL));
  return mix64(h ^ mix64(b + 0xa4093822299f31d0ULL));
}

LoaderOptions eval_options(LoaderOptions options) {
  options.shuffle = false;
  options.drop_last = false;
  options.crop_padding = 0;
  options.horizontal_flip = false;
  return options;
}

Tensor transform_image(const Dataset& data, std::int64_t i, const Augmentation& aug, const Normalization& norm) {
  const auto table = value_table(norm, data.channels, "transform_image");
  Tensor out = Tensor::empty({data.channels, data.height, data.width}, DType::f32);
  render(data.image(i), data.channels, data.height, data.width, aug, table.data(), out.data<float>());
  return out;
}

Loader::Loader(Dataset data, LoaderOptions options)
    : Loader(std::make_shared<const Dataset>(std::move(data)), std::move(options)) {}

Loader::Loader(std::shared_ptr<const Dataset> data, LoaderOptions options)
    : data_(std::move(data)), options_(std::move(options)) {
  if (!data_) throw std::invalid_argument("Loader: no dataset given");
  try {
    data_->validate();
  } catch (const std::runtime_error& e) {
    throw std::invalid_argument(fmt::format("Loader: {}", e.what()));
  }
  const std::string where = fmt::format("Loader({})", data_->name);
  if (options_.batch_size <= 0)
    throw std::invalid_argument(fmt::format("{}: batch_size must be positive, got {}", where, options_.batch_size));
  if (options_.crop_padding < 0 || options_.crop_padding > std::min(data_->height, data_->width))
    throw std::invalid_argument(fmt::format("{}: crop_padding {} must be in [0, min(H, W)] = [0, {}]", where,
                                            options_.crop_padding, std::min(data_->height, data_->width)));
  if (options_.prefetch < 0)
    throw std::invalid_argument(fmt::format("{}: prefetch must be >= 0, got {}", where, options_.prefetch));
  table_ = value_table(options_.normalization, data_->channels, where);
}

Loader::Loader(LoaderOptions options, std::string name) : source_name_(std::move(name)), options_(std::move(options)) {
  if (options_.batch_size <= 0)
    throw std::invalid_argument(
        fmt::format("Loader({}): batch_size must be positive, got {}", source_name_, options_.batch_size));
  if (options_.prefetch < 0)
    throw std::invalid_argument(fmt::format("Loader({}): prefetch must be >= 0, got {}", source_name_, options_.prefetch));
}

Loader::~Loader() { stop_worker(); }

const Dataset& Loader::dataset() const {
  if (!data_) throw std::logic_error(fmt::format("Loader({}): this batch source has no image dataset", source_name_));
  return *data_;
}

std::string Loader::name() const { return data_ ? data_->name : source_name_; }

std::int64_t Loader::batches_per_epoch() const {
  const std::int64_t n = data_->size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<std::int64_t> Loader::order(std::int64_t epoch) const {
  if (epoch < 0) throw std::invalid_argument(fmt::format("Loader::order: epoch {} is negative", epoch));
  if (!options_.shuffle) {
    std::vector<std::int64_t> id(static_cast<std::size_t>(data_->size()));
    std::iota(id.begin(), id.end(), std::int64_t{0});
    return id;
  }
  Generator g(derive_seed(options_.seed, kOrderStream, static_cast<std::uint64_t>(epoch), 0));
  return g.permutation(data_->size());
}

std::vector<Augmentation> Loader::augmentations(std::int64_t epoch, std::int64_t batch_index) const {
  if (epoch < 0 || batch_index < 0 || batch_index >= batches_per_epoch())
    throw std::out_of_range(fmt::format("Loader({}): batch ({}, {}) does not exist; batches per epoch: {}",
                                        data_->name, epoch, batch_index, batches_per_epoch()));
  const std::int64_t first = batch_index * options_.batch_size;
  const std::int64_t count = std::min(options_.batch_size, data_->size() - first);
  Generator g(derive_seed(options_.seed, kAugmentStream, static_cast<std::uint64_t>(epoch),
                          static_cast<std::uint64_t>(batch_index)));
  const auto pad = options_.crop_padding;
  std::vector<Augmentation> augs(static_cast<std::size_t>(count));
  for (auto& a : augs) {
    if (pad > 0) {
      a.shift_y = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(2 * pad + 1))) - pad;
      a.shift_x = static_cast<std::int64_t>(g.below(static_cast<std::uint64_t>(2 * pad + 1))) - pad;
    }
    if (options_.horizontal_flip) a.flip = g.bernoulli(0.5);
  }
  return augs;
}

Batch Loader::build(const std::vector<std::int64_t>& order, std::int64_t epoch, std::int64_t batch_index) const {
  const auto augs = augmentations(epoch, batch_index);
  const auto B = static_cast<std::int64_t>(augs.size());
  const Dataset& d = *data_;
  Batch out;
  out.epoch = epoch;
  out.index = batch_index;
  out.x = Tensor::empty({B, d.channels, d.height, d.width}, DType::f32);
  out.indices.assign(order.begin() + batch_index * options_.batch_size,
                     order.begin() + batch_index * options_.batch_size + B);
  std::vector<std::int64_t> labels(static_cast<std::size_t>(B));
  float* x = out.x.data<float>();
  for (std::int64_t j = 0; j < B; ++j) {
    const std::int64_t i = out.indices[static_cast<std::size_t>(j)];
    labels[static_cast<std::size_t>(j)] = d.labels[static_cast<std::size_t>(i)];
    render(d.image(i), d.channels, d.height, d.width, augs[static_cast<std::size_t>(j)], table_.data(),
           x + j * d.image_bytes());
  }
  out.y = Tensor::from_vector(labels, {B});
  return out;
}

Batch Loader::batch(std::int64_t epoch, std::int64_t batch_index) const {
  return build(order(epoch), epoch, batch_index);
}

void Loader::start(std::int64_t epoch, std::int64_t batch_index) {
  if (epoch < 0 || batch_index < 0 || batch_index > batches_per_epoch())
    throw std::out_of_range(fmt::format("Loader({})::start({}, {}): expected epoch >= 0 and batch index in [0, {}]",
                                        name(), epoch, batch_index, batches_per_epoch()));
  stop_worker();
  epoch_ = epoch;
  position_ = batch_index;
  started_ = true;
  order_ = std::make_shared<const std::vector<std::int64_t>>(order(epoch));
  if (options_.prefetch > 0 && batch_index < batches_per_epoch())
    thread_ = std::thread(&Loader::worker, this, order_, epoch, batch_index);
}

std::optional<Batch> Loader::next() {
  if (!started_) start(epoch_, position_);
  if (position_ >= batches_per_epoch()) return std::nullopt;
  if (options_.prefetch == 0) return build(*order_, epoch_, position_++);
  std::unique_lock lock(mu_);
  ready_cv_.wait(lock, [&] { return !queue_.empty() || error_; });
  if (queue_.empty()) {
    const std::exception_ptr e = error_;
    lock.unlock();
    stop_worker();
    started_ = false;  // the next call retries from the same position
    std::rethrow_exception(e);
  }
  Batch b = std::move(queue_.front());
  queue_.pop_front();
  lock.unlock();
  space_cv_.notify_one();
  if (++position_ == batches_per_epoch()) stop_worker();  // the thread has finished: join it now
  return b;
}

void Loader::worker(std::shared_ptr<const std::vector<std::int64_t>> order, std::int64_t epoch, std::int64_t first) {
  try {
    for (std::int64_t b = first; b < batches_per_epoch(); ++b) {
      {
        std::unique_lock lock(mu_);
        space_cv_.wait(lock, [&] { return stop_ || static_cast<std::int64_t>(queue_.size()) < options_.prefetch; });
        if (stop_) return;
      }
      Batch batch = build(*order, epoch, b);  // outside the lock: the consumer keeps going meanwhile
      {
        std::lock_guard lock(mu_);
        if (stop_) return;
        queue_.push_back(std::move(batch));
      }
      ready_cv_.notify_one();
    }
  } catch (...) {
    {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
    }
    ready_cv_.notify_one();
  }
}

void Loader::stop_worker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  queue_.clear();
  stop_ = false;
  error_ = nullptr;
}

}  // namespace wb::data
