#include "raft/invariants.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace rb::raft {
namespace {

// A node whose storage failed to read (raft/log.h) is stopping: what its reads answered is
// not its log, so it is left out, like a crashed node.
bool Stopping(const Raft& r) { return !r.log().storage_failure().ok(); }

absl::Status Violation(const Raft& r, absl::string_view what) {
  return absl::InternalError(absl::StrCat("invariant violated on node ", r.id(), " (term ",
                                          r.term(), ", ", StateTypeName(r.state()), "): ", what,
                                          " [", r.log().DebugString(), "]"));
}

// A configuration takes effect when applied, so a node that campaigns (or wins) with a
// committed change unapplied counts votes in a configuration about to change. `known` is
// the commit index the node had before: it may learn of a commit from a vote rejection
// while it campaigns, and then stands down when it wins, so only changes it knew to be
// committed count.
absl::Status CheckNoUnappliedConfChange(const Raft& r, uint64_t known) {
  const RaftLog& log = r.log();
  const uint64_t hi = std::min(known, log.committed());
  if (log.applied() >= hi) return absl::OkStatus();
  std::vector<Entry> entries;
  const uint64_t lo = std::max(log.applied() + 1, log.FirstIndex());
  if (lo > hi || !log.Slice(lo, hi + 1, kNoLimit, &entries).ok()) return absl::OkStatus();
  for (const Entry& e : entries) {
    if (e.type == EntryType::kConfChange) {
      return Violation(r, absl::StrCat("campaigns with configuration change ", e.index,
                                       " committed but not applied"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

LogShape LogShape::Of(const RaftLog& log) {
  LogShape shape;
  shape.first = log.FirstIndex();
  shape.last = log.LastIndex();
  shape.last_term = log.LastTerm();
  return shape;
}

absl::Status CheckNode(const Raft& r) { return CheckNode(r, LogShape::Of(r.log())); }

absl::Status CheckNode(const Raft& r, const LogShape& shape) {
  const RaftLog& log = r.log();
  const uint64_t last = shape.last;
  if (log.applied() > log.committed()) return Violation(r, "applied > committed");
  if (log.committed() > last) return Violation(r, "committed > last index");
  if (shape.first > last + 1) return Violation(r, "first index > last index + 1");
  if (shape.last_term > r.term()) return Violation(r, "log has an entry from a future term");
  const auto& unstable = log.UnstableEntries();
  for (size_t i = 1; i < unstable.size(); ++i) {
    if (unstable[i].index != unstable[i - 1].index + 1) {
      return Violation(r, "unstable entries are not contiguous");
    }
    if (unstable[i].term < unstable[i - 1].term) {
      return Violation(r, "log terms decrease");
    }
  }
  switch (r.state()) {
    case StateType::kLeader: {
      if (r.lead() != r.id()) return Violation(r, "leader does not know itself as leader");
      if (r.vote() != r.id()) return Violation(r, "leader did not vote for itself");
      auto self = r.tracker().progress.find(r.id());
      if (self == r.tracker().progress.end()) {
        // Only possible when a removed leader keeps leading (step_down_on_removal off).
        break;
      }
      if (self->second.match > last) return Violation(r, "leader's own match > last index");
      if (self->second.match > r.log().StableLastIndex()) {
        return Violation(r, "leader counts entries it has not persisted");
      }
      for (const auto& [id, pr] : r.tracker().progress) {
        if (pr.match >= pr.next) {
          return Violation(r, absl::StrCat("progress of ", id, " has match >= next"));
        }
        if (pr.match > last) {
          return Violation(r, absl::StrCat("progress of ", id, " matches beyond our log"));
        }
      }
      if (r.pending_conf_index() > last) return Violation(r, "pending conf index > last index");
      break;
    }
    case StateType::kCandidate:
      if (r.vote() != r.id()) return Violation(r, "candidate did not vote for itself");
      if (r.lead() != kNone) return Violation(r, "candidate knows a leader");
      break;
    case StateType::kPreCandidate:
      if (r.lead() != kNone) return Violation(r, "pre-candidate knows a leader");
      break;
    case StateType::kFollower:
      break;
  }
  if (r.state() != StateType::kLeader && r.lead_transferee() != kNone) {
    return Violation(r, "non-leader has a transfer in progress");
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::CheckHistory(const Raft& r, const LogShape& shape) {
  NodeHistory& h = history_[r.id()];
  if (shape.last_term != h.last_term) commit_safety_due_ = true;
  h.last_term = shape.last_term;
  if (r.term() < h.term) return Violation(r, absl::StrCat("term went back from ", h.term));
  if (r.log().committed() < h.commit) {
    return Violation(r, absl::StrCat("commit went back from ", h.commit));
  }
  const uint64_t previous_commit = h.commit;
  const bool campaign_began =
      r.state() != StateType::kFollower && (r.state() != h.state || r.term() != h.term);
  h.term = r.term();
  h.commit = r.log().committed();
  h.state = r.state();
  if (campaign_began) RETURN_IF_ERROR(CheckNoUnappliedConfChange(r, previous_commit));
  if (r.state() == StateType::kLeader) {
    auto [it, inserted] = leader_of_term_.emplace(r.term(), r.id());
    if (!inserted && it->second != r.id()) {
      return Violation(
          r, absl::StrCat("two leaders in term ", r.term(), ": ", it->second, " and ", r.id()));
    }
    const uint64_t last = shape.last;
    if (h.leader_term == r.term() && h.commit > previous_commit) {
      // A leader commits by counting replicas only entries of its own term; earlier ones
      // are committed with them (Raft paper, section 5.4.2: Figure 8's lost entry).
      const uint64_t commit_term = r.log().TermOrZero(h.commit);
      if (commit_term != 0 && commit_term != r.term()) {
        return Violation(r, absl::StrCat("leader committed entry ", h.commit, " of term ",
                                         commit_term, " by counting replicas"));
      }
    }
    if (h.leader_term == r.term()) {
      // Still leader of the same term: its log only grows.
      if (last < h.leader_last_index) return Violation(r, "leader's log shrank");
      if (h.leader_last_index >= shape.first &&
          r.log().TermOrZero(h.leader_last_index) != h.leader_last_entry_term) {
        return Violation(r, "leader rewrote an entry of its own log");
      }
    }
    h.leader_term = r.term();
    h.leader_last_index = last;
    h.leader_last_entry_term = shape.last_term;
    // Leader completeness: a leader of a term after the commit has the newest entry known
    // committed anywhere. (A stale leader of an older term need not.)
    if (r.term() > max_committed_seen_in_term_ && max_committed_index_ >= shape.first &&
        r.log().TermOrZero(max_committed_index_) != max_committed_term_) {
      return Violation(r, absl::StrCat("leader lacks committed entry ", max_committed_index_,
                                       " of term ", max_committed_term_));
    }
  } else {
    h.leader_term = 0;
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::CheckLogsAgree(const Raft& a, const Raft& b) const {
  const uint64_t lo = std::max(a.log().FirstIndex(), b.log().FirstIndex());
  const uint64_t hi = std::min(a.log().LastIndex(), b.log().LastIndex());
  if (lo > hi) return absl::OkStatus();
  std::vector<Entry> ea, eb;
  if (!a.log().Slice(lo, hi + 1, kNoLimit, &ea).ok() ||
      !b.log().Slice(lo, hi + 1, kNoLimit, &eb).ok()) {
    return absl::OkStatus();
  }
  // Log matching: find the last index where the terms agree; everything before must too.
  size_t match_end = 0;
  for (size_t i = ea.size(); i > 0; --i) {
    if (ea[i - 1].term == eb[i - 1].term) {
      match_end = i;
      break;
    }
  }
  for (size_t i = 0; i < match_end; ++i) {
    if (!(ea[i] == eb[i])) {
      return absl::InternalError(absl::StrCat("log matching violated between nodes ", a.id(),
                                              " and ", b.id(), " at index ", ea[i].index));
    }
  }
  // State machine safety: both committed up to here, so both must hold the same entries.
  const uint64_t committed = std::min(a.log().committed(), b.log().committed());
  if (match_end < ea.size() && ea[match_end].index <= committed) {
    return absl::InternalError(absl::StrCat("nodes ", a.id(), " and ", b.id(),
                                            " committed different entries at index ",
                                            ea[match_end].index));
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::Observe(const std::vector<const Raft*>& nodes) {
  // Read each log's bounds once: every read may go through the storage interface, and this
  // runs after every event of a simulation.
  shapes_.clear();
  observed_.clear();
  for (const Raft* r : nodes) {
    const LogShape shape = LogShape::Of(r->log());
    if (Stopping(*r)) continue;
    absl::Status s = CheckNode(*r, shape);
    if (!s.ok() && !Stopping(*r)) return s;
    const uint64_t committed = r->log().committed();
    if (committed > max_committed_index_ && committed >= shape.first) {
      const uint64_t term = r->log().TermOrZero(committed);
      if (Stopping(*r)) continue;
      max_committed_index_ = committed;
      max_committed_term_ = term;
      commit_safety_due_ = true;
      // The commit happened in a term no later than the observer's current term.
      max_committed_seen_in_term_ = r->term();
    }
    observed_.push_back(r);
    shapes_.push_back(shape);
  }
  for (size_t i = 0; i < observed_.size(); ++i) {
    absl::Status s = CheckHistory(*observed_[i], shapes_[i]);
    if (!s.ok() && !Stopping(*observed_[i])) return s;
  }
  if (full_log_checks_) {
    for (size_t i = 0; i < observed_.size(); ++i) {
      for (size_t j = i + 1; j < observed_.size(); ++j) {
        absl::Status s = CheckLogsAgree(*observed_[i], *observed_[j]);
        if (!s.ok() && !Stopping(*observed_[i]) && !Stopping(*observed_[j])) return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status InvariantChecker::CheckCommitSafety(const std::vector<const Raft*>& nodes) {
  commit_safety_due_ = false;
  if (max_committed_index_ == 0 || nodes.empty()) return absl::OkStatus();
  const MajorityConfig& voters = nodes[0]->tracker().config.voters.incoming;
  for (const Raft* r : nodes) {
    const JointConfig& config = r->tracker().config.voters;
    if (config.IsJoint() || !(config.incoming == voters)) return absl::OkStatus();
  }
  const uint64_t c = max_committed_index_;
  shapes_.clear();
  observed_.clear();
  for (const Raft* r : nodes) {
    const LogShape shape = LogShape::Of(r->log());
    if (Stopping(*r)) continue;  // counts as crashed: it grants no vote and wins none
    observed_.push_back(r);
    shapes_.push_back(shape);
  }
  // Raft's election restriction: a voter grants its vote only to a log at least as up to
  // date as its own.
  auto at_least_as_up_to_date = [](const LogShape& a, const LogShape& b) {
    return a.last_term > b.last_term || (a.last_term == b.last_term && a.last >= b.last);
  };
  const size_t quorum = voters.size() / 2 + 1;
  for (size_t i = 0; i < observed_.size(); ++i) {
    const Raft& n = *observed_[i];
    if (!voters.Contains(n.id())) continue;
    // A log compacted past c holds it (only committed entries are compacted).
    const bool holds = shapes_[i].first > c || n.log().TermOrZero(c) == max_committed_term_;
    if (holds || Stopping(n)) continue;
    std::string granting;
    size_t grants = 0;
    for (size_t j = 0; j < observed_.size(); ++j) {
      if (!voters.Contains(observed_[j]->id()) || Stopping(*observed_[j])) continue;
      if (!at_least_as_up_to_date(shapes_[i], shapes_[j])) continue;
      ++grants;
      absl::StrAppend(&granting, " ", observed_[j]->id());
    }
    if (grants >= quorum) {
      return Violation(
          n, absl::StrCat("lacks committed entry ", c, " of term ", max_committed_term_,
                          " yet could win an election: its log (", shapes_[i].last_term, "@",
                          shapes_[i].last, ") is as up to date as those of voters", granting, " (",
                          grants, " of ", voters.size(), ")"));
    }
  }
  return absl::OkStatus();
}

void InvariantChecker::ForgetNode(uint64_t id) { history_.erase(id); }

}  // namespace rb::raft
