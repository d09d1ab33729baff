// Changer: computes the configuration that results from a ConfChange, without touching the
// live tracker; the caller switches to the result only if it is valid.
#ifndef RAFTBADGER_RAFT_CONFCHANGE_H_
#define RAFTBADGER_RAFT_CONFCHANGE_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/tracker.h"
#include "raft/types.h"

namespace rb::raft {

struct ConfigAndProgress {
  TrackerConfig config;
  ProgressMap progress;
};

class Changer {
 public:
  // `tracker` is read, never modified. last_index is used as Next for new members.
  Changer(const ProgressTracker& tracker, uint64_t last_index)
      : tracker_(tracker), last_index_(last_index) {}

  // Enters joint consensus: the current voters become the outgoing half and `changes` are
  // applied to the incoming half. Fails if already joint or if there are no voters.
  absl::StatusOr<ConfigAndProgress> EnterJoint(bool auto_leave,
                                               const std::vector<ConfChangeSingle>& changes) const;
  // Leaves joint consensus: drops the outgoing half, turns learners_next into learners.
  absl::StatusOr<ConfigAndProgress> LeaveJoint() const;
  // A change of at most one voter, outside joint consensus.
  absl::StatusOr<ConfigAndProgress> Simple(const std::vector<ConfChangeSingle>& changes) const;
  // Whichever of the three `cc` asks for.
  absl::StatusOr<ConfigAndProgress> Apply(const ConfChange& cc) const;

 private:
  absl::StatusOr<ConfigAndProgress> CheckAndCopy() const;
  absl::Status ApplyChanges(const std::vector<ConfChangeSingle>& changes,
                            ConfigAndProgress* cp) const;
  void MakeVoter(uint64_t id, ConfigAndProgress* cp) const;
  void MakeLearner(uint64_t id, ConfigAndProgress* cp) const;
  void Remove(uint64_t id, ConfigAndProgress* cp) const;
  void InitProgress(uint64_t id, bool is_learner, ConfigAndProgress* cp) const;

  const ProgressTracker& tracker_;
  uint64_t last_index_;
};

// Checks the structural invariants of a configuration and its progress map.
absl::Status CheckConfigInvariants(const ConfigAndProgress& cp);

// Rebuilds the configuration a ConfState describes, starting from an empty tracker, by
// replaying the changes that lead to it (so the same validation applies).
absl::StatusOr<ConfigAndProgress> RestoreConfig(const ProgressTracker& empty_tracker,
                                                uint64_t last_index, const ConfState& cs);

// The configuration `cc` turns `cs` into, or the error the core's ApplyConfChange would
// give for it there (it would then leave the configuration as is). Pure: an application
// can know what a committed change does before it hands the change to the core, e.g.
// while applying the entry on a thread that must not touch the core.
absl::StatusOr<ConfState> NextConfState(const ConfState& cs, const ConfChange& cc);

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_CONFCHANGE_H_
