// A step of the simulator's nemesis as data: one fault it injected (a crash, a partition,
// a pause, a membership change, a full disk, ...), written down as the choices the step
// made rather than the seed that made them. A run records its steps (SimResult::faults);
// a schedule file keeps them (sim/schedule.h); a replay makes the same choices from the
// record instead of drawing them, so it runs the same events even after the generator's
// draws change, and shrinking can drop steps one by one (a dropped step does nothing but
// move its generators past the draws it made, so the steps after it still line up).
#ifndef RAFTBADGER_SIM_FAULT_STEP_H_
#define RAFTBADGER_SIM_FAULT_STEP_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::sim {

// The generators a step may draw from (Simulation's streams), by number.
enum class FaultStream : uint8_t { kMain = 0, kStrand = 1, kBurst = 2, kDiskFull = 3 };
inline constexpr int kFaultStreams = 4;

struct FaultDecision {
  uint64_t value = 0;  // what the draw returned (Chance: 0 or 1)
  uint64_t draws = 0;  // the generator's Next() calls it took
  FaultStream stream = FaultStream::kMain;
};

struct FaultStep {
  // The steps follow one another in chains, each scheduling its next step.
  enum class Chain : uint8_t { kNemesis, kDiskFull };
  Chain chain = Chain::kNemesis;
  uint64_t at_us = 0;
  bool dropped = false;  // replay: do nothing (shrinking took it away)
  // In the order the step made them; the last is the delay to the chain's next step.
  std::vector<FaultDecision> decisions;
  // Next() calls per stream during the whole step (the decisions, and what the step's
  // effects drew, such as which unsynced writes a power loss keeps).
  uint64_t stream_draws[kFaultStreams] = {};
  std::string description;  // plain words, one line, from the step's trace lines
};

// One schedule line's value for the step ("nemesis at=... draws=... decisions=..."), and
// back. The description is not part of it (a schedule writes it as a comment).
std::string FaultStepText(const FaultStep& step);
absl::StatusOr<FaultStep> ParseFaultStep(absl::string_view text);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_FAULT_STEP_H_
