// RawNode: the driver-facing API of the Raft core, after etcd's RawNode.
//
// The driver (server or simulator) loops:
//   1. feeds input: Tick(), Step(peer message), Propose(), ReadIndex(), ...;
//   2. if HasReady(): GetReady(&rd), then, in this order,
//        a. persists rd.hard_state, rd.entries and rd.snapshot (fsync if rd.must_sync),
//        b. sends rd.messages (only now: a vote or an append acknowledgment must not leave
//           the node before what it promises is durable),
//        c. applies rd.snapshot and rd.committed_entries to the state machine (calling
//           ApplyConfChange for configuration entries), serves rd.read_states once applied;
//   3. Advance().
// Nothing here reads a clock, a socket, a file or a global random source.
#ifndef RAFTBADGER_RAFT_RAW_NODE_H_
#define RAFTBADGER_RAFT_RAW_NODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raft.h"
#include "raft/types.h"

namespace rb::raft {

struct Ready {
  // Set when the role or leader changed since the previous Ready.
  std::optional<SoftState> soft_state;
  // Set when term, vote or commit changed: persist before sending messages.
  std::optional<HardState> hard_state;
  std::vector<ReadState> read_states;
  // Entries to append to stable storage (may overwrite a conflicting suffix).
  std::vector<Entry> entries;
  // Snapshot to persist and apply, or null.
  std::shared_ptr<const Snapshot> snapshot;
  // Committed entries to apply, in order.
  std::vector<Entry> committed_entries;
  // Messages to send after persisting.
  std::vector<Message> messages;
  // Whether persisting must be synchronous (fsync): true when entries, term or vote change.
  bool must_sync = false;

  // Empties every field, keeping vector capacity for reuse.
  void Clear();
};

struct NodeStatus {
  uint64_t id = kNone;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  uint64_t lead_transferee = kNone;
  ConfState config;
  // Followers' progress; only on the leader. Ordered by id.
  std::map<uint64_t, Progress> progress;
};

class RawNode {
 public:
  // Starts from the state in config.storage. A new cluster's members share an initial
  // configuration written to storage by the application (see MemoryStorage::SetConfState).
  static absl::StatusOr<std::unique_ptr<RawNode>> Create(const Config& config);

  void Tick();
  // Starts an election now (e.g. for a single-node cluster or in tests).
  void Campaign();
  // Proposes data to be appended. Errors: no leader / transfer in progress (Unavailable),
  // uncommitted limit (ResourceExhausted). Success means appended or forwarded, not
  // committed: watch committed entries for it.
  absl::Status Propose(std::string data);
  // Proposes several entries as one proposal: they are appended together, and a follower
  // gets them in one append (one message and one answer), not one per entry. All or none:
  // an error refuses every one of them. REQUIRES: data is not empty.
  absl::Status ProposeBatch(std::vector<Payload> data);
  // Proposes a membership change. One may be pending at a time (FailedPrecondition).
  absl::Status ProposeConfChange(const ConfChange& cc);
  // Applies a committed membership change; returns the new configuration.
  absl::StatusOr<ConfState> ApplyConfChange(const ConfChange& cc);
  // Feeds a message from a peer. Local-only types and responses from non-members are
  // refused with InvalidArgument / NotFound (the caller counts and drops them).
  absl::Status Step(Message m);
  // Requests a linearizable read point; it comes back as a ReadState with the same ctx.
  // ctx should be unique per request.
  void ReadIndex(std::string ctx);
  // Asks the leader to hand leadership to transferee.
  void TransferLeader(uint64_t transferee);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool failed);

  // False once storage failed (storage_failure()): the node must stop.
  bool HasReady() const;
  // Non-OK once a read from storage failed (raft/log.h): the driver stops the node, which
  // restarts from disk.
  const absl::Status& storage_failure() const { return raft_->log().storage_failure(); }
  // Fills *rd (cleared first; pass the same Ready every time to reuse its buffers).
  // REQUIRES: HasReady(); no other Ready outstanding (Advance() was called).
  // If reading storage fails while the Ready is built, it comes back empty and
  // storage_failure() is set: check it before acting on the Ready.
  void GetReady(Ready* rd);
  // Tells the node the last Ready was handled (persisted, sent, applied).
  void Advance();

  NodeStatus Status() const;
  // Read access for tests, invariant checks and drivers' metrics.
  const Raft& raft() const { return *raft_; }
  Raft& mutable_raft() { return *raft_; }

 private:
  explicit RawNode(std::unique_ptr<Raft> raft);

  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_state_;
  HardState prev_hard_state_;
  // Bookkeeping of the outstanding Ready, consumed by Advance().
  bool ready_outstanding_ = false;
  uint64_t stable_index_ = 0;
  uint64_t stable_term_ = 0;
  uint64_t stable_snapshot_index_ = 0;
  uint64_t applied_cursor_ = 0;
  uint64_t applied_payload_bytes_ = 0;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_RAW_NODE_H_
