// FaultRecorder: the nemesis's choices (sim/fault_step.h), made and recorded, or replayed
// from a record. The simulator's fault code draws through it instead of from its
// generators: inside a step, each draw is recorded (or replayed); outside one (a restart
// scheduled by a leader-targeted crash, say) it is a plain draw. Recording changes no draw,
// so a run records the same events it would run anyway.
#ifndef RAFTBADGER_SIM_FAULT_RECORDER_H_
#define RAFTBADGER_SIM_FAULT_RECORDER_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/strings/string_view.h"
#include "raft/rng.h"
#include "sim/fault_step.h"

namespace rb::sim::internal {

class FaultRecorder {
 public:
  // streams[s] is the generator of FaultStream s; they must outlive the recorder. replay:
  // the steps to replay, each chain's in order (empty: record only). A chain that runs out
  // of recorded steps goes on drawing.
  FaultRecorder(std::array<raft::Rng*, kFaultStreams> streams, std::vector<FaultStep> replay);

  // Begins a step of `chain`. REQUIRES: no step active.
  void Begin(FaultStep::Chain chain, uint64_t now_us);
  bool active() const { return active_; }
  // Whether the step begun replays a dropped one: its caller then does nothing but
  // SkipDropped() and schedule the chain's next step.
  bool dropped() const { return replaying_ != nullptr && replaying_->dropped; }
  // Moves every stream past the dropped step's draws; returns the delay to the chain's next
  // step (the step's last decision). REQUIRES: dropped().
  uint64_t SkipDropped();
  // Ends the step and appends it, as recorded or replayed, to *out. REQUIRES: active().
  void End(std::vector<FaultStep>* out);
  // A line the step traced: the step's description, in plain words.
  void Describe(absl::string_view text);

  uint64_t Uniform(FaultStream s, uint64_t bound);
  uint64_t Range(FaultStream s, uint64_t lo, uint64_t hi);
  bool Chance(FaultStream s, uint64_t numerator, uint64_t denominator);

  // Replayed choices that did not fit the code that asked for them (another stream, a
  // value out of range, a step that drew a different amount, a step at another time):
  // nonzero means the replay was not exact.
  uint64_t mismatches() const { return mismatches_; }

 private:
  // The recorded value of the next decision if it fits (stream s, accepted by fits), after
  // moving the stream past its draws; else nullptr, and the step draws from here on.
  const FaultDecision* Replayed(FaultStream s, bool (*fits)(uint64_t, uint64_t, uint64_t),
                                uint64_t a, uint64_t b);
  void Record(FaultStream s, uint64_t value, uint64_t draws_before);
  // A decision: replayed if it fits, else drawn (and recorded inside a step).
  uint64_t Decide(FaultStream s, bool (*fits)(uint64_t, uint64_t, uint64_t), uint64_t a, uint64_t b,
                  uint64_t (*draw)(raft::Rng&, uint64_t, uint64_t));

  std::array<raft::Rng*, kFaultStreams> streams_;
  std::vector<FaultStep> replay_[2];  // by chain
  size_t next_[2] = {0, 0};
  bool active_ = false;
  FaultStep step_;
  uint64_t start_draws_[kFaultStreams] = {};
  const FaultStep* replaying_ = nullptr;
  size_t cursor_ = 0;           // into replaying_->decisions
  bool step_diverged_ = false;  // a decision did not fit: the rest of the step draws
  uint64_t mismatches_ = 0;
};

}  // namespace rb::sim::internal

#endif  // RAFTBADGER_SIM_FAULT_RECORDER_H_
