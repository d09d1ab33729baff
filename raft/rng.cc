#include "raft/rng.h"

#include "base/logging.h"

namespace rb::raft {
namespace {

inline uint64_t RotateLeft(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Rng::Rng(uint64_t seed) {
  uint64_t state = seed;
  for (uint64_t& word : s_) word = SplitMix64(&state);
}

uint64_t Rng::Next() {
  ++draws_;
  const uint64_t result = RotateLeft(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = RotateLeft(s_[3], 45);
  return result;
}

void Rng::Skip(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) Next();
}

uint64_t Rng::Uniform(uint64_t bound) {
  RB_CHECK(bound > 0);
  // Lemire's multiply-shift with rejection: unbiased and defined the same everywhere.
  unsigned __int128 product = static_cast<unsigned __int128>(Next()) * bound;
  uint64_t low = static_cast<uint64_t>(product);
  if (low < bound) {
    const uint64_t threshold = -bound % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(Next()) * bound;
      low = static_cast<uint64_t>(product);
    }
  }
  return static_cast<uint64_t>(product >> 64);
}

uint64_t Rng::Range(uint64_t lo, uint64_t hi) {
  RB_CHECK(lo <= hi, lo, " > ", hi);
  if (hi - lo == UINT64_MAX) return Next();
  return lo + Uniform(hi - lo + 1);
}

bool Rng::Chance(uint64_t numerator, uint64_t denominator) {
  RB_CHECK(denominator > 0);
  return Uniform(denominator) < numerator;
}

Rng Rng::Fork() { return Rng(Next()); }

}  // namespace rb::raft
