// Shrinking a failing run (`simulate --seed=N --shrink`): a search for a smaller run that
// fails the same check, in two passes.
//   1. The scenario: it tries, one at a time, fewer voters, turning each fault class off,
//      fewer clients, shorter fault and quiet phases and rarer faults; it keeps each change
//      after which the run fails the same check with no more faults and no more events,
//      and repeats until nothing more can go. Each candidate draws its faults afresh.
//   2. The faults: the best run's recorded fault steps (sim/fault_step.h) are replayed
//      with some dropped, in halves, then quarters, down to one at a time; a drop is kept
//      if the same check still fails.
// Every candidate runs in a child process (a node's failed check is a verdict too).
// Deterministic: the same failing run always shrinks to the same schedule.
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
  uint64_t faults = 0;  // the nemesis's steps that did something
  uint64_t ops = 0;     // client operations issued
  std::string scenario_text;
  std::vector<FaultStep> fault_steps;  // the nemesis's steps, as the run recorded them
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
