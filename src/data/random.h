// A tiny, fast random generator whose whole state is one integer, so data-pipeline randomness
// (the train/val split, batch windows) is reproducible and trivially saved in checkpoints. It is
// independent of torch's global generator on purpose: model initialisation or dropout never shift
// which batches come next.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace gptforge {

// splitmix64 (Steele, Lea and Flood, 2014): a Weyl sequence through a 64-bit finaliser.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state = 0) : state_(state) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n > 0, without modulo bias (rejects the short top range).
  uint64_t below(uint64_t n) {
    uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }

 private:
  uint64_t state_;
};

// A seed for an independent stream `stream` derived from `seed` (ranks, purposes).
inline uint64_t derive_seed(uint64_t seed, uint64_t stream) {
  SplitMix64 a(seed), b(stream ^ 0x5DEECE66DULL);
  return a.next() ^ (b.next() * 0x9E3779B97F4A7C15ULL);
}

// Fisher-Yates: puts `v` in an order drawn uniformly from `rng` (the same seed, the same order).
template <class T>
void shuffle(std::vector<T>& v, SplitMix64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

}  // namespace gptforge
