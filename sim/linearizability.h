// Linearizability checking of a key-value history (Wing & Gong's search with Lowe's
// memoization, as in Knossos and Porcupine), partitioned per key: operations on different
// keys commute, so each key's sub-history is checked alone.
//
// Operations that timed out may or may not have taken effect: they are given an infinite
// return time, so the search may place them anywhere after their call, including after
// everything else (the same as never), and their outputs are not checked. Timed-out reads
// have no effect and are ignored.
#ifndef RAFTBADGER_SIM_LINEARIZABILITY_H_
#define RAFTBADGER_SIM_LINEARIZABILITY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/history.h"

namespace rb::sim {

struct LinearizabilityResult {
  bool linearizable = true;
  // The search hit its step bound on some key: neither proved nor refuted there. Never a
  // pass: the simulator fails the seed.
  bool inconclusive = false;
  std::string inconclusive_key;  // the first such key
  std::string failed_key;
  std::string explanation;
  // For the failed key, the longest order of its operations the search found legal
  // (indexes into the history, in that order), and the operation that could not follow
  // it before its return.
  std::vector<size_t> longest_order;
  std::optional<size_t> unorderable_op;
  uint64_t steps = 0;
};

LinearizabilityResult CheckLinearizable(const std::vector<Operation>& history,
                                        uint64_t max_steps_per_key = 20'000'000);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_LINEARIZABILITY_H_
