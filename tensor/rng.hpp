// Generator: the project's own seeded random number generator.
//
// xoshiro256** seeded through splitmix64, with our own uniform/normal/bernoulli/permutation built on
// integer arithmetic and IEEE double operations only, so a seed gives the same stream on every machine
// and standard library (std:: distributions differ between implementations).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace wb {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) { seed_(seed); }
  void seed_(std::uint64_t seed);

  std::uint64_t next_u64();
  double uniform();                      // [0, 1), 53 random bits
  double uniform(double lo, double hi);  // [lo, hi)
  double normal();                       // N(0, 1), Box-Muller (pairs cached)
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), unbiased
  bool bernoulli(double p);
  std::vector<std::int64_t> permutation(std::int64_t n);  // Fisher-Yates

  // The full state, for checkpoints: 4 words of xoshiro plus the cached normal.
  struct State {
    std::array<std::uint64_t, 4> s{};
    bool has_spare = false;
    double spare = 0.0;
  };
  State state() const { return {s_, has_spare_, spare_}; }
  void set_state(const State& st) {
    s_ = st.s;
    has_spare_ = st.has_spare;
    spare_ = st.spare;
  }

 private:
  std::array<std::uint64_t, 4> s_{};
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// The process-wide default generator (used when no generator is passed).
Generator& default_generator();
void manual_seed(std::uint64_t seed);

}  // namespace wb
