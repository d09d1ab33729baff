#include "raft/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace rb::raft {

const char* ProgressStateName(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe:
      return "probe";
    case ProgressState::kReplicate:
      return "replicate";
    case ProgressState::kSnapshot:
      return "snapshot";
  }
  return "unknown";
}

void Progress::ResetState(ProgressState new_state) {
  msg_app_flow_paused = false;
  pending_snapshot = 0;
  state = new_state;
  inflights.Reset();
}

void Progress::BecomeProbe() {
  // Leaving kSnapshot: the snapshot (if it was applied) moved the follower to at least
  // pending_snapshot, so probe from just after it.
  if (state == ProgressState::kSnapshot) {
    const uint64_t snapshot_index = pending_snapshot;
    ResetState(ProgressState::kProbe);
    next = std::max(match + 1, snapshot_index + 1);
  } else {
    ResetState(ProgressState::kProbe);
    next = match + 1;
  }
}

void Progress::BecomeReplicate() {
  ResetState(ProgressState::kReplicate);
  next = match + 1;
}

void Progress::BecomeSnapshot(uint64_t snapshot_index) {
  ResetState(ProgressState::kSnapshot);
  pending_snapshot = snapshot_index;
}

void Progress::UpdateOnEntriesSend(size_t entries, uint64_t bytes, uint64_t next_index) {
  switch (state) {
    case ProgressState::kReplicate:
      if (entries > 0) {
        const uint64_t last = next_index + entries - 1;
        RB_CHECK(last >= next - 1 || next_index == next, "sending behind next");
        next = std::max(next, last + 1);  // optimistic: assume it will be accepted
        inflights.Add(last, bytes);
      }
      msg_app_flow_paused = inflights.Full();
      break;
    case ProgressState::kProbe:
      // One probe at a time: the next waits for an answer or the next heartbeat.
      if (entries > 0) msg_app_flow_paused = true;
      break;
    case ProgressState::kSnapshot:
      RB_FATAL("sending entries to a follower in snapshot state: ", DebugString());
  }
}

bool Progress::MaybeUpdate(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    msg_app_flow_paused = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

bool Progress::MaybeDecrTo(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::kReplicate) {
    // A rejection at or below match is stale: the follower has since accepted more.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe state only the rejection of the probe in flight (at next - 1) counts.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max<uint64_t>(std::min(rejected, match_hint + 1), match + 1);
  msg_app_flow_paused = false;
  return true;
}

bool Progress::IsPaused() const {
  switch (state) {
    case ProgressState::kProbe:
    case ProgressState::kReplicate:
      return msg_app_flow_paused;
    case ProgressState::kSnapshot:
      return true;
  }
  return true;
}

std::string Progress::DebugString() const {
  return absl::StrCat(ProgressStateName(state), " match=", match, " next=", next,
                      is_learner ? " learner" : "", pending_snapshot ? " pending_snapshot=" : "",
                      pending_snapshot ? absl::StrCat(pending_snapshot) : "",
                      msg_app_flow_paused ? " paused" : "", " inflight=", inflights.Count());
}

}  // namespace rb::raft
