#include "raft/tracker.h"

#include "absl/strings/str_cat.h"

namespace rb::raft {

std::string TrackerConfig::DebugString() const {
  std::string s = absl::StrCat("voters=", voters.incoming.DebugString());
  if (voters.IsJoint()) absl::StrAppend(&s, "&&", voters.outgoing.DebugString());
  if (!learners.empty()) absl::StrAppend(&s, " learners=", learners.DebugString());
  if (!learners_next.empty()) absl::StrAppend(&s, " learners_next=", learners_next.DebugString());
  if (auto_leave) absl::StrAppend(&s, " autoleave");
  return s;
}

ConfState ProgressTracker::GetConfState() const {
  ConfState cs;
  cs.voters = config.voters.incoming.ids();
  cs.voters_outgoing = config.voters.outgoing.ids();
  cs.learners = config.learners.ids();
  cs.learners_next = config.learners_next.ids();
  cs.auto_leave = config.auto_leave;
  return cs;
}

bool ProgressTracker::IsSingleton() const {
  return config.voters.incoming.size() == 1 && !config.voters.IsJoint();
}

uint64_t ProgressTracker::Committed() const {
  return config.voters.CommittedIndex([this](uint64_t id, uint64_t* index) {
    auto it = progress.find(id);
    if (it == progress.end()) return false;
    *index = it->second.match;
    return true;
  });
}

bool ProgressTracker::QuorumActive() const {
  std::map<uint64_t, bool> active;
  for (const auto& [id, pr] : progress) {
    if (!pr.is_learner) active[id] = pr.recent_active;
  }
  return config.voters.Vote(active) == VoteResult::kWon;
}

void ProgressTracker::RecordVote(uint64_t id, bool granted) { votes_.emplace(id, granted); }

TallyResult ProgressTracker::TallyVotes() const {
  TallyResult tally;
  for (const auto& [id, pr] : progress) {
    if (pr.is_learner) continue;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    if (it->second) {
      ++tally.granted;
    } else {
      ++tally.rejected;
    }
  }
  tally.result = config.voters.Vote(votes_);
  return tally;
}

Progress ProgressTracker::NewProgress(uint64_t next, bool is_learner) const {
  Progress pr(max_inflight_msgs_, max_inflight_bytes_);
  pr.next = next;
  pr.is_learner = is_learner;
  return pr;
}

}  // namespace rb::raft
