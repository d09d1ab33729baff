#include "raft/confchange.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace rb::raft {
namespace {

size_t SymmetricDifference(const MajorityConfig& a, const MajorityConfig& b) {
  size_t n = 0;
  for (uint64_t id : a.ids()) n += b.Contains(id) ? 0 : 1;
  for (uint64_t id : b.ids()) n += a.Contains(id) ? 0 : 1;
  return n;
}

}  // namespace

absl::Status CheckConfigInvariants(const ConfigAndProgress& cp) {
  const TrackerConfig& cfg = cp.config;
  auto has_progress = [&](uint64_t id) { return cp.progress.count(id) > 0; };
  for (const MajorityConfig* set :
       {&cfg.voters.incoming, &cfg.voters.outgoing, &cfg.learners, &cfg.learners_next}) {
    for (uint64_t id : set->ids()) {
      if (!has_progress(id)) return absl::InternalError(absl::StrCat("no progress for ", id));
    }
  }
  for (uint64_t id : cfg.learners_next.ids()) {
    if (!cfg.voters.outgoing.Contains(id)) {
      return absl::InternalError(absl::StrCat(id, " is in learners_next but not outgoing"));
    }
    if (cp.progress.at(id).is_learner) {
      return absl::InternalError(absl::StrCat(id, " is in learners_next but is a learner"));
    }
  }
  for (uint64_t id : cfg.learners.ids()) {
    if (cfg.voters.Contains(id)) {
      return absl::InternalError(absl::StrCat(id, " is both a learner and a voter"));
    }
    if (!cp.progress.at(id).is_learner) {
      return absl::InternalError(absl::StrCat(id, " is a learner without the learner flag"));
    }
  }
  if (!cfg.voters.IsJoint()) {
    if (!cfg.learners_next.empty()) return absl::InternalError("learners_next outside joint");
    if (cfg.auto_leave) return absl::InternalError("auto_leave outside joint");
  }
  if (cfg.voters.incoming.size() > kMaxVoters || cfg.voters.outgoing.size() > kMaxVoters) {
    return absl::InvalidArgumentError(absl::StrCat("more than ", kMaxVoters, " voters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfigAndProgress> Changer::CheckAndCopy() const {
  ConfigAndProgress cp{tracker_.config, tracker_.progress};
  RETURN_IF_ERROR(CheckConfigInvariants(cp));
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::EnterJoint(
    bool auto_leave, const std::vector<ConfChangeSingle>& changes) const {
  ASSIGN_OR_RETURN(ConfigAndProgress cp, CheckAndCopy());
  if (cp.config.voters.IsJoint()) {
    return absl::FailedPreconditionError("configuration is already joint");
  }
  if (cp.config.voters.incoming.empty()) {
    return absl::FailedPreconditionError("cannot make a zero-voter configuration joint");
  }
  cp.config.voters.outgoing = cp.config.voters.incoming;
  RETURN_IF_ERROR(ApplyChanges(changes, &cp));
  cp.config.auto_leave = auto_leave;
  RETURN_IF_ERROR(CheckConfigInvariants(cp));
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::LeaveJoint() const {
  ASSIGN_OR_RETURN(ConfigAndProgress cp, CheckAndCopy());
  if (!cp.config.voters.IsJoint()) {
    return absl::FailedPreconditionError("cannot leave a non-joint configuration");
  }
  for (uint64_t id : cp.config.learners_next.ids()) {
    cp.config.learners.Insert(id);
    cp.progress.at(id).is_learner = true;
  }
  cp.config.learners_next.Clear();
  for (uint64_t id : cp.config.voters.outgoing.ids()) {
    if (!cp.config.voters.incoming.Contains(id) && !cp.config.learners.Contains(id)) {
      cp.progress.erase(id);
    }
  }
  cp.config.voters.outgoing.Clear();
  cp.config.auto_leave = false;
  RETURN_IF_ERROR(CheckConfigInvariants(cp));
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::Simple(
    const std::vector<ConfChangeSingle>& changes) const {
  ASSIGN_OR_RETURN(ConfigAndProgress cp, CheckAndCopy());
  if (cp.config.voters.IsJoint()) {
    return absl::FailedPreconditionError(
        "cannot apply a simple configuration change in a joint configuration");
  }
  RETURN_IF_ERROR(ApplyChanges(changes, &cp));
  if (SymmetricDifference(tracker_.config.voters.incoming, cp.config.voters.incoming) > 1) {
    return absl::InvalidArgumentError(
        "more than one voter changed without entering joint consensus");
  }
  RETURN_IF_ERROR(CheckConfigInvariants(cp));
  return cp;
}

absl::StatusOr<ConfigAndProgress> Changer::Apply(const ConfChange& cc) const {
  if (cc.LeavesJoint()) return LeaveJoint();
  bool auto_leave = false;
  if (cc.EntersJoint(&auto_leave)) return EnterJoint(auto_leave, cc.changes);
  return Simple(cc.changes);
}

absl::Status Changer::ApplyChanges(const std::vector<ConfChangeSingle>& changes,
                                   ConfigAndProgress* cp) const {
  for (const ConfChangeSingle& change : changes) {
    if (change.node_id == kNone) {
      return absl::InvalidArgumentError("configuration change names node id 0");
    }
    switch (change.type) {
      case ConfChangeType::kAddNode:
        MakeVoter(change.node_id, cp);
        break;
      case ConfChangeType::kAddLearnerNode:
        MakeLearner(change.node_id, cp);
        break;
      case ConfChangeType::kRemoveNode:
        Remove(change.node_id, cp);
        break;
    }
  }
  if (cp->config.voters.incoming.empty()) {
    return absl::InvalidArgumentError("configuration change removes all voters");
  }
  return absl::OkStatus();
}

void Changer::MakeVoter(uint64_t id, ConfigAndProgress* cp) const {
  auto it = cp->progress.find(id);
  if (it == cp->progress.end()) {
    InitProgress(id, /*is_learner=*/false, cp);
    return;
  }
  it->second.is_learner = false;
  cp->config.learners.Erase(id);
  cp->config.learners_next.Erase(id);
  cp->config.voters.incoming.Insert(id);
}

void Changer::MakeLearner(uint64_t id, ConfigAndProgress* cp) const {
  auto it = cp->progress.find(id);
  if (it == cp->progress.end()) {
    InitProgress(id, /*is_learner=*/true, cp);
    return;
  }
  if (it->second.is_learner) return;
  // Keep the Progress: Remove() would drop it when id is not an outgoing voter.
  Progress saved = it->second;
  Remove(id, cp);
  auto [pos, inserted] = cp->progress.emplace(id, saved);
  (void)inserted;
  // A voter of the outgoing half keeps voting there until the joint config is left.
  if (cp->config.voters.outgoing.Contains(id)) {
    cp->config.learners_next.Insert(id);
  } else {
    pos->second.is_learner = true;
    cp->config.learners.Insert(id);
  }
}

void Changer::Remove(uint64_t id, ConfigAndProgress* cp) const {
  if (cp->progress.count(id) == 0) return;
  cp->config.voters.incoming.Erase(id);
  cp->config.learners.Erase(id);
  cp->config.learners_next.Erase(id);
  // An outgoing voter still votes until the joint configuration is left.
  if (!cp->config.voters.outgoing.Contains(id)) cp->progress.erase(id);
}

void Changer::InitProgress(uint64_t id, bool is_learner, ConfigAndProgress* cp) const {
  if (is_learner) {
    cp->config.learners.Insert(id);
  } else {
    cp->config.voters.incoming.Insert(id);
  }
  // Next starts at the last index so the first probe carries one entry; recent_active
  // so that CheckQuorum does not step the leader down before the newcomer is heard from.
  Progress pr = tracker_.NewProgress(std::max<uint64_t>(last_index_, 1), is_learner);
  pr.recent_active = true;
  cp->progress.emplace(id, std::move(pr));
}

absl::StatusOr<ConfigAndProgress> RestoreConfig(const ProgressTracker& empty_tracker,
                                                uint64_t last_index, const ConfState& cs) {
  ProgressTracker tracker(empty_tracker.max_inflight_msgs(), empty_tracker.max_inflight_bytes());
  auto step = [&](const absl::StatusOr<ConfigAndProgress>& result) -> absl::Status {
    RETURN_IF_ERROR(result.status());
    tracker.config = result->config;
    tracker.progress = result->progress;
    return absl::OkStatus();
  };
  auto add = [](ConfChangeType type, uint64_t id) { return ConfChangeSingle{type, id}; };
  if (cs.voters_outgoing.empty()) {
    // Not joint: add members one by one (each a valid simple change).
    for (uint64_t id : cs.voters) {
      RETURN_IF_ERROR(
          step(Changer(tracker, last_index).Simple({add(ConfChangeType::kAddNode, id)})));
    }
    for (uint64_t id : cs.learners) {
      RETURN_IF_ERROR(
          step(Changer(tracker, last_index).Simple({add(ConfChangeType::kAddLearnerNode, id)})));
    }
    if (!cs.learners_next.empty()) {
      return absl::InvalidArgumentError("learners_next in a non-joint configuration");
    }
  } else {
    // Joint: build the outgoing half, then enter joint with the incoming half.
    for (uint64_t id : cs.voters_outgoing) {
      RETURN_IF_ERROR(
          step(Changer(tracker, last_index).Simple({add(ConfChangeType::kAddNode, id)})));
    }
    std::vector<ConfChangeSingle> incoming;
    for (uint64_t id : cs.voters_outgoing) incoming.push_back(add(ConfChangeType::kRemoveNode, id));
    for (uint64_t id : cs.voters) incoming.push_back(add(ConfChangeType::kAddNode, id));
    for (uint64_t id : cs.learners) incoming.push_back(add(ConfChangeType::kAddLearnerNode, id));
    for (uint64_t id : cs.learners_next) {
      incoming.push_back(add(ConfChangeType::kAddLearnerNode, id));
    }
    RETURN_IF_ERROR(step(Changer(tracker, last_index).EnterJoint(cs.auto_leave, incoming)));
  }
  return ConfigAndProgress{tracker.config, tracker.progress};
}

absl::StatusOr<ConfState> NextConfState(const ConfState& cs, const ConfChange& cc) {
  // Progress does not enter into validation or the resulting ConfState: any limits and
  // last index will do.
  constexpr uint64_t kAnyLastIndex = 1;
  ProgressTracker tracker(/*max_inflight_msgs=*/1, /*max_inflight_bytes=*/0);
  ASSIGN_OR_RETURN(ConfigAndProgress current, RestoreConfig(tracker, kAnyLastIndex, cs));
  tracker.config = std::move(current.config);
  tracker.progress = std::move(current.progress);
  ASSIGN_OR_RETURN(ConfigAndProgress next, Changer(tracker, kAnyLastIndex).Apply(cc));
  tracker.config = std::move(next.config);
  tracker.progress = std::move(next.progress);
  return tracker.GetConfState();
}

}  // namespace rb::raft
