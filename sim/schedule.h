// Schedule files: a run written down so that it replays even after the scenario
// generator's draws change. `simulate --save_schedule=FILE` writes one; `--schedule=FILE`
// replays it.
//
// A schedule holds the seed, every option the run used, the scenario itself (every field,
// as name=value lines) rather than the draw that produced it, and every step of the
// nemesis as the choices it made (sim/fault_step.h), each under a comment saying what it
// did. A replay asks neither the scenario generator nor the nemesis's: a new fault class,
// a changed rate or a change to how faults are drawn leaves old schedules alone. (What is
// not a fault, such as each message's delay, still comes from the seed's streams.)
//
//   # comment lines
//   version=1
//   option.seed=30
//   option.storage=memory
//   ...
//   scenario.voters=7
//   scenario.straggler_per_mille=0
//   # 0.412345s: node 3 crashes (kill -9)
//   fault=nemesis at=412345 draws=9,0,0,0 decisions=0:1:0,1:1:0,...
//
// A schedule without fault lines (an older one) draws its faults from the seed.
#ifndef RAFTBADGER_SIM_SCHEDULE_H_
#define RAFTBADGER_SIM_SCHEDULE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "sim/simulation.h"

namespace rb::sim {

// REQUIRES: `result` is the result of running `options`.
std::string WriteSchedule(const SimOptions& options, const SimResult& result);
// The same from the scenario (ScenarioText lines), the nemesis's steps and a one-line
// outcome for the header comment ("passed", "failed (linearizability check): ...").
std::string WriteSchedule(const SimOptions& options, absl::string_view scenario_text,
                          const std::vector<FaultStep>& faults, absl::string_view outcome);

// How a run's outcome reads in a schedule's header.
std::string OutcomeLine(bool failed, absl::string_view checker, absl::string_view failure);

// "off", "drawn" or "always", as the --leader_faults and --skip_broadcast_commit flags and
// schedules spell them.
const char* DrawName(SimOptions::Draw d);
// `option` names the option in the error ("leader_faults must be off, drawn or always").
absl::Status ParseDraw(absl::string_view option, absl::string_view value, SimOptions::Draw* out);

// The options that replay the schedule. An unknown line, a bad value, a newer version or
// a mutant in a build without mutants is an error naming the line.
absl::StatusOr<SimOptions> ReadSchedule(absl::string_view text);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_SCHEDULE_H_
