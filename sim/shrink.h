// Shrinking a failing run (`simulate --seed=N --shrink`): a search for a smaller scenario
// that fails the same check. It tries, one at a time, fewer voters, turning each fault
// class off, fewer clients, shorter fault and quiet phases and rarer faults; it keeps each change
// after which the run fails the same check with no more faults and no more events, and repeats
// until nothing more can go. Every candidate runs
// in a child process (a node's failed check is a verdict too). Deterministic: the same
// failing run always shrinks to the same schedule.
//
// This shrinks the scenario, not yet the run's individual faults: each candidate is a new
// run of the same seed, whose events are drawn afresh (see sim/schedule.h).
#ifndef RAFTBADGER_SIM_SHRINK_H_
#define RAFTBADGER_SIM_SHRINK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "sim/simulation.h"

namespace rb::sim {

struct RunSummary {
  bool failed = false;
  std::string checker;  // "crash" when the process died
  std::string failure;  // first line
  uint64_t events = 0;
  uint64_t faults = 0;
  uint64_t ops = 0;  // client operations issued
  std::string scenario_text;
};

// Runs `options` in a child process.
RunSummary RunSummarized(const SimOptions& options);

struct ShrinkResult {
  RunSummary original, shrunk;
  SimOptions options;              // the shrunk run (scenario set): WriteSchedule writes it
  std::vector<std::string> steps;  // what was taken away, in order
  int runs = 0;                    // candidates tried
};

// REQUIRES: `failing` fails (RunSummarized(failing).failed); a single-threaded caller.
ShrinkResult Shrink(const SimOptions& failing, int max_runs = 400);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_SHRINK_H_
