// A small, seeded, reproducible random generator (xoshiro256**, seeded by splitmix64).
//
// The core must make the same choices for the same seed on every build and machine, so it
// cannot use std::uniform_int_distribution (implementation-defined) or absl::BitGen (seeded
// per process). Each node owns one Rng; the simulator derives every seed from its run seed.
#ifndef RAFTBADGER_RAFT_RNG_H_
#define RAFTBADGER_RAFT_RNG_H_

#include <cstdint>

namespace rb::raft {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, bound). REQUIRES: bound > 0.
  uint64_t Uniform(uint64_t bound);
  // Uniform in [lo, hi]. REQUIRES: lo <= hi.
  uint64_t Range(uint64_t lo, uint64_t hi);
  // True with probability numerator/denominator. REQUIRES: denominator > 0.
  bool Chance(uint64_t numerator, uint64_t denominator);
  // A new independent generator, for deriving per-component streams from one seed.
  Rng Fork();
  // Next() calls so far, and n more whose results are dropped: the simulator replays a
  // recorded choice by moving its stream past the draws that made it.
  uint64_t draws() const { return draws_; }
  void Skip(uint64_t n);

 private:
  uint64_t s_[4];
  uint64_t draws_ = 0;
};

// One step of splitmix64: also a good mixer for combining seeds.
uint64_t SplitMix64(uint64_t* state);

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_RNG_H_
