#include "datasets/text/windows.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "tensor/rng.hpp"

namespace wb::data::text {
namespace {

LoaderOptions window_loader_options(const WindowOptions& w) {
  LoaderOptions lo;
  lo.batch_size = w.batch_size;
  lo.seed = w.seed;
  lo.shuffle = w.random;
  lo.prefetch = w.prefetch;
  return lo;
}

}  // namespace

WindowLoader::WindowLoader(std::shared_ptr<const std::vector<TokenId>> ids, std::int64_t vocab_size,
                           WindowOptions options, std::string name)
    : Loader(window_loader_options(options), name), ids_(std::move(ids)), w_(options) {
  if (!ids_) throw std::invalid_argument(fmt::format("WindowLoader({}): no token stream", name));
  if (w_.block_size <= 0) throw std::invalid_argument(fmt::format("WindowLoader({}): block size {} must be positive", name, w_.block_size));
  const auto n = static_cast<std::int64_t>(ids_->size());
  if (n < w_.block_size + 1)
    throw std::invalid_argument(fmt::format("WindowLoader({}): {} tokens, fewer than one window of the block size {} "
                                            "plus its next token",
                                            name, n, w_.block_size));
  if (w_.random && w_.steps <= 0)
    throw std::invalid_argument(fmt::format("WindowLoader({}): {} batches per epoch; expected at least 1", name, w_.steps));
  if (w_.limit < 0) throw std::invalid_argument(fmt::format("WindowLoader({}): limit {} is negative", name, w_.limit));
  for (std::size_t i = 0; i < ids_->size(); ++i)
    if ((*ids_)[i] < 0 || static_cast<std::int64_t>((*ids_)[i]) >= vocab_size)
      throw std::invalid_argument(fmt::format("WindowLoader({}): token {} at position {} is outside the vocabulary "
                                              "[0, {})",
                                              name, (*ids_)[i], i, vocab_size));
  tiles_ = (n - 1) / w_.block_size;
}

WindowLoader::~WindowLoader() { stop_worker(); }  // before the members the thread reads go

std::int64_t WindowLoader::windows() const {
  if (w_.random) return w_.steps * w_.batch_size;
  return w_.limit > 0 ? std::min(w_.limit, tiles_) : tiles_;
}

std::int64_t WindowLoader::batches_per_epoch() const {
  if (w_.random) return w_.steps;
  return (windows() + w_.batch_size - 1) / w_.batch_size;
}

std::vector<std::int64_t> WindowLoader::order(std::int64_t epoch) const {
  if (epoch < 0) throw std::invalid_argument(fmt::format("WindowLoader::order: epoch {} is negative", epoch));
  return {};  // windows are drawn per batch (starts)
}

std::vector<std::int64_t> WindowLoader::starts(std::int64_t epoch, std::int64_t batch_index) const {
  if (epoch < 0 || batch_index < 0 || batch_index >= batches_per_epoch())
    throw std::out_of_range(fmt::format("WindowLoader::starts({}, {}): expected epoch >= 0 and batch index in [0, {})",
                                        epoch, batch_index, batches_per_epoch()));
  const std::int64_t t = w_.block_size, b = w_.batch_size;
  std::vector<std::int64_t> s;
  if (w_.random) {
    Generator g(derive_seed(w_.seed, kWindowStream, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(batch_index)));
    const auto span = static_cast<std::uint64_t>(stream_size() - t);  // starts 0 .. len - T - 1
    for (std::int64_t i = 0; i < b; ++i) s.push_back(static_cast<std::int64_t>(g.below(span)));
    return s;
  }
  const std::int64_t count = windows(), first = batch_index * b, last = std::min(count, first + b);
  for (std::int64_t i = first; i < last; ++i) {
    const std::int64_t k = w_.limit > 0 && w_.limit < tiles_ ? i * tiles_ / count : i;
    s.push_back(k * t);
  }
  return s;
}

Batch WindowLoader::build(const std::vector<std::int64_t>& /*order*/, std::int64_t epoch, std::int64_t batch_index) const {
  Batch out;
  out.indices = starts(epoch, batch_index);
  const std::int64_t t = w_.block_size, b = static_cast<std::int64_t>(out.indices.size());
  out.x = Tensor::empty({b, t}, DType::i64);
  out.y = Tensor::empty({b, t}, DType::i64);
  std::int64_t* x = out.x.data<std::int64_t>();
  std::int64_t* y = out.y.data<std::int64_t>();
  for (std::int64_t i = 0; i < b; ++i) {
    const TokenId* src = ids_->data() + out.indices[static_cast<std::size_t>(i)];
    for (std::int64_t j = 0; j < t; ++j) {
      x[i * t + j] = src[j];
      y[i * t + j] = src[j + 1];
    }
  }
  out.epoch = epoch;
  out.index = batch_index;
  return out;
}

}  // namespace wb::data::text
