// Progress: what a leader knows about one follower's log, and how it sends to it.
//
//   kProbe:     unknown match; send one MsgApp per heartbeat interval until one is accepted.
//   kReplicate: known match; stream MsgApp optimistically, bounded by the inflights window.
//   kSnapshot:  follower is behind the compacted log; wait until the snapshot is applied.
#ifndef RAFTBADGER_RAFT_PROGRESS_H_
#define RAFTBADGER_RAFT_PROGRESS_H_

#include <cstdint>
#include <map>
#include <string>

#include "raft/inflights.h"

namespace rb::raft {

enum class ProgressState : uint8_t { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState state);

struct Progress {
  Progress(size_t max_inflight_msgs, uint64_t max_inflight_bytes)
      : inflights(max_inflight_msgs, max_inflight_bytes) {}

  uint64_t match = 0;  // highest index known to be in the follower's log
  uint64_t next = 0;   // next index to send
  ProgressState state = ProgressState::kProbe;
  uint64_t pending_snapshot = 0;  // index of the snapshot being sent, in kSnapshot
  bool recent_active = false;     // heard from within the last election timeout
  // In kProbe: a probe was sent, wait for its answer (or a heartbeat response).
  // In kReplicate: the inflights window is full.
  bool msg_app_flow_paused = false;
  Inflights inflights;
  bool is_learner = false;

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // Bookkeeping after sending a MsgApp with `entries` entries of `bytes` starting at next.
  void UpdateOnEntriesSend(size_t entries, uint64_t bytes, uint64_t next_index);
  // A MsgAppResp acknowledged index n. Returns whether match advanced.
  bool MaybeUpdate(uint64_t n);
  // A MsgApp at index `rejected` was refused; `match_hint` is the follower's guess of where
  // its log may match. Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  bool IsPaused() const;
  std::string DebugString() const;

 private:
  void ResetState(ProgressState state);
};

// Ordered by id so that visiting it is deterministic (no hash-order iteration).
using ProgressMap = std::map<uint64_t, Progress>;

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_PROGRESS_H_
