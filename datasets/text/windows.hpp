// WindowLoader: batches of token windows from a token stream (token_cache.hpp), for causal language
// modelling. A batch is x = ids[s .. s + T) and y = ids[s + 1 .. s + T + 1) for B window starts s
// (Batch::x and Batch::y, (B, T) i64; Batch::indices the starts), T the block size.
//
// Two kinds, both pure functions of (seed, epoch, batch index), so a resumed run draws exactly the
// windows an uninterrupted one would (the loop's checkpoint carries the position; the seed is a
// trajectory option):
//   random   training: `steps` batches per epoch, each start uniform in [0, len - T - 1] from
//            Generator(derive_seed(seed, kWindowStream, epoch, batch)) (nanoGPT's get_batch)
//   tiled    evaluation: the non-overlapping windows s = k T, k = 0 .. floor((len - 1) / T) - 1, in
//            order; with `limit` > 0 only `limit` of them, evenly spaced over the stream
//            (k_i = floor(i * count / limit)), so a small evaluation still sees the whole split
// The stream must hold at least T + 1 tokens; every id must be < V (std::invalid_argument otherwise).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "datasets/loader.hpp"
#include "datasets/text/bpe.hpp"

namespace wb::data::text {

inline constexpr std::uint64_t kWindowStream = 3;  // derive_seed stream of the random windows

struct WindowOptions {
  std::int64_t block_size = 256;  // T
  std::int64_t batch_size = 16;   // B
  std::uint64_t seed = 0;
  bool random = true;             // random (training) or tiled (evaluation) windows
  std::int64_t steps = 100;       // random: batches per epoch
  std::int64_t limit = 0;         // tiled: at most this many windows (0: all)
  std::int64_t prefetch = 2;
};

class WindowLoader : public Loader {
 public:
  // `name` is what messages call the stream (e.g. "brown/validation").
  WindowLoader(std::shared_ptr<const std::vector<TokenId>> ids, std::int64_t vocab_size, WindowOptions options,
               std::string name);
  ~WindowLoader() override;
  std::int64_t batches_per_epoch() const override;
  std::int64_t windows() const;  // windows per epoch (tiled: the last batch may be partial)
  // The window starts of batch (epoch, batch_index), a pure function.
  std::vector<std::int64_t> starts(std::int64_t epoch, std::int64_t batch_index) const;
  const WindowOptions& window_options() const { return w_; }
  std::int64_t stream_size() const { return static_cast<std::int64_t>(ids_->size()); }

 protected:
  std::vector<std::int64_t> order(std::int64_t epoch) const override;
  Batch build(const std::vector<std::int64_t>& order, std::int64_t epoch, std::int64_t batch_index) const override;

 private:
  std::shared_ptr<const std::vector<TokenId>> ids_;
  WindowOptions w_;
  std::int64_t tiles_ = 0;  // tiled: non-overlapping windows in the stream
};

}  // namespace wb::data::text
