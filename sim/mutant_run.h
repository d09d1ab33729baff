// Running the simulator with a mutant (base/mutation.h) over many seeds, each seed in a
// child process, and summarizing what caught it. //sim:mutants prints the table; the
// short self-test (sim/mutants_test.cc) asserts the early catches.
//
// REQUIRES: a build with the mutants compiled in (base/mutation.bzl), and a single-threaded
// caller (seeds run in forked children).
#ifndef RAFTBADGER_SIM_MUTANT_RUN_H_
#define RAFTBADGER_SIM_MUTANT_RUN_H_

#include <cstdint>
#include <map>
#include <string>

#include "base/mutation.h"
#include "sim/simulation.h"

namespace rb::sim {

struct SeedVerdict {
  bool failed = false;
  // The check that failed the run ("linearizability", "invariants", ...), or "crash" when
  // the process died (a failed internal check of the node or core, an abort, a signal).
  std::string checker;
  std::string failure;  // its first line
};

// The options a mutant runs with: `base`, with the path the mutant lives on turned on
// where the default draw leaves it off (read_joins_sent_round lives in the batches of
// --batch_client_requests, read_joins_round_in_flight behind --one_read_round_in_flight
// with 8 clients).
// RunSeedWithMutant applies it; a run of the same seed without the mutant, to compare,
// should start from it too.
SimOptions OptionsForMutant(const SimOptions& base, mutation::Mutant mutant);
// The simulate flags that OptionsForMutant adds, for a replay line: "" or " --flag=value"
// (read off it; it may change only batch_client_requests, one_read_round_in_flight and
// clients).
std::string FlagsForMutant(mutation::Mutant mutant);

// Runs one seed of OptionsForMutant(base, mutant) with `mutant` in a child process; a crash
// is a verdict too.
SeedVerdict RunSeedWithMutant(const SimOptions& base, mutation::Mutant mutant, uint64_t seed);

struct MutantSummary {
  uint64_t seeds = 0;
  uint64_t failures = 0;
  uint64_t first_failing_seed = 0;  // 0: none
  SeedVerdict first;                // the first failing seed's verdict
  std::map<std::string, uint64_t> failures_by_checker;
};

// Seeds first_seed .. first_seed + count - 1, spread over `jobs` worker processes.
MutantSummary RunMutant(const SimOptions& base, mutation::Mutant mutant, uint64_t first_seed,
                        uint64_t count, int jobs);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_MUTANT_RUN_H_
