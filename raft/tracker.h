// ProgressTracker: the active configuration, every member's Progress, and election votes.
#ifndef RAFTBADGER_RAFT_TRACKER_H_
#define RAFTBADGER_RAFT_TRACKER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "raft/progress.h"
#include "raft/quorum.h"
#include "raft/types.h"

namespace rb::raft {

struct TrackerConfig {
  JointConfig voters;
  // Non-voting members. Never also voters.
  MajorityConfig learners;
  // Voters of the outgoing half that become learners when the joint configuration is left
  // (a voter cannot turn into a learner in one step while it still votes in the outgoing half).
  MajorityConfig learners_next;
  bool auto_leave = false;

  std::string DebugString() const;
};

struct TallyResult {
  size_t granted = 0;
  size_t rejected = 0;
  VoteResult result = VoteResult::kPending;
};

class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight_msgs, uint64_t max_inflight_bytes)
      : max_inflight_msgs_(max_inflight_msgs), max_inflight_bytes_(max_inflight_bytes) {}

  TrackerConfig config;
  ProgressMap progress;

  ConfState GetConfState() const;
  // True when this is a one-voter, non-joint configuration.
  bool IsSingleton() const;
  // Largest index acknowledged by a quorum (joint-aware).
  uint64_t Committed() const;
  // Whether a quorum has been recently active (each Progress.recent_active).
  bool QuorumActive() const;

  void ResetVotes() { votes_.clear(); }
  // Records the first vote from id; later ones are ignored.
  void RecordVote(uint64_t id, bool granted);
  TallyResult TallyVotes() const;

  Progress NewProgress(uint64_t next, bool is_learner) const;
  size_t max_inflight_msgs() const { return max_inflight_msgs_; }
  uint64_t max_inflight_bytes() const { return max_inflight_bytes_; }

 private:
  size_t max_inflight_msgs_;
  uint64_t max_inflight_bytes_;
  std::map<uint64_t, bool> votes_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_TRACKER_H_
