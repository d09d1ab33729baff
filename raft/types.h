// The core's value types: log entries, persistent state, configuration, messages.
//
// Plain structs rather than generated protobuf classes: they move cheaply, carry no arena or
// reflection, and keep the steady-state replicate path free of allocations beyond the entry
// payloads (bench/raft_bench.cc counts them). raft/codec converts to and from
// proto/raft.proto at the edge and validates what arrives from peers.
#ifndef RAFTBADGER_RAFT_TYPES_H_
#define RAFTBADGER_RAFT_TYPES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "raft/payload.h"

namespace rb::raft {

// Node ids are never 0: kNone means "no node" (no vote, no leader).
inline constexpr uint64_t kNone = 0;

enum class EntryType : uint8_t {
  kNormal = 0,
  kConfChange = 1,  // data holds a serialized raftpb::ConfChange (see confchange.h)
};

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  EntryType type = EntryType::kNormal;
  Payload data;  // shared and immutable: copying an Entry does not copy its bytes

  // Bytes counted against size limits (message size, uncommitted bytes): the payload plus a
  // fixed overhead, so that empty entries are not free.
  size_t SizeBytes() const { return data.size() + 16; }
  bool operator==(const Entry& o) const {
    return term == o.term && index == o.index && type == o.type && data == o.data;
  }
};

// State that must be durable before any message that depends on it is sent.
struct HardState {
  uint64_t term = 0;
  uint64_t vote = kNone;
  uint64_t commit = 0;

  bool IsEmpty() const { return term == 0 && vote == kNone && commit == 0; }
  bool operator==(const HardState& o) const {
    return term == o.term && vote == o.vote && commit == o.commit;
  }
  bool operator!=(const HardState& o) const { return !(*this == o); }
};

// A cluster configuration. voters_outgoing is non-empty only while in joint consensus.
// Every list is sorted ascending (the core keeps them so; codec enforces it on input).
struct ConfState {
  std::vector<uint64_t> voters;
  std::vector<uint64_t> learners;
  std::vector<uint64_t> voters_outgoing;
  std::vector<uint64_t> learners_next;
  bool auto_leave = false;

  bool operator==(const ConfState& o) const {
    return voters == o.voters && learners == o.learners && voters_outgoing == o.voters_outgoing &&
           learners_next == o.learners_next && auto_leave == o.auto_leave;
  }
};

struct SnapshotMetadata {
  ConfState conf_state;
  uint64_t index = 0;
  uint64_t term = 0;
};

struct Snapshot {
  std::string data;
  SnapshotMetadata metadata;

  bool IsEmpty() const { return metadata.index == 0; }
};

enum class MessageType : uint8_t {
  kHup = 0,   // local: start an election
  kBeat = 1,  // local: leader sends heartbeats
  kProp = 2,  // proposal (local, or forwarded by a follower)
  kApp = 3,   // append entries
  kAppResp = 4,
  kVote = 5,
  kVoteResp = 6,
  kSnap = 7,  // install snapshot
  kHeartbeat = 8,
  kHeartbeatResp = 9,
  kUnreachable = 10,  // local: transport could not reach a peer
  kSnapStatus = 11,   // local: result of sending a snapshot
  kCheckQuorum = 12,  // local: leader checks it still hears a quorum
  kTransferLeader = 13,
  kTimeoutNow = 14,  // leader tells the transfer target to campaign now
  kReadIndex = 15,
  kReadIndexResp = 16,
  kPreVote = 17,
  kPreVoteResp = 18,
};

const char* MessageTypeName(MessageType type);

// True for the types only a node sends to itself; peers must never send them.
bool IsLocalMessage(MessageType type);
// True for responses (the term check treats them differently).
bool IsResponseMessage(MessageType type);

// A message's entries. Up to four live inline: a steady-state MsgApp (a few new entries) or a
// proposal allocates nothing beyond the payloads, which are shared (payload.h).
using MessageEntries = absl::InlinedVector<Entry, 4>;

struct Message {
  MessageType type = MessageType::kHup;
  uint64_t to = kNone;
  uint64_t from = kNone;
  uint64_t term = 0;
  uint64_t log_term = 0;
  uint64_t index = 0;
  MessageEntries entries;
  uint64_t commit = 0;
  // Only for kSnap. Shared because a snapshot may be large and is sent, kept and retried.
  std::shared_ptr<const Snapshot> snapshot;
  bool reject = false;
  uint64_t reject_hint = 0;
  std::string context;
};

// The node's volatile role, reported in Ready when it changes.
enum class StateType : uint8_t { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateTypeName(StateType state);

struct SoftState {
  uint64_t lead = kNone;
  StateType state = StateType::kFollower;
  bool operator==(const SoftState& o) const { return lead == o.lead && state == o.state; }
  bool operator!=(const SoftState& o) const { return !(*this == o); }
};

// A linearizable read point: once the application has applied up to `index`, the read
// identified by `request_ctx` may be served.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

enum class ConfChangeType : uint8_t { kAddNode = 0, kRemoveNode = 1, kAddLearnerNode = 2 };

struct ConfChangeSingle {
  ConfChangeType type = ConfChangeType::kAddNode;
  uint64_t node_id = kNone;
};

enum class ConfChangeTransition : uint8_t {
  // One change: a single-server change. Several: joint consensus, left automatically.
  kAuto = 0,
  // Joint consensus, left automatically once the joint configuration is applied.
  kJointImplicit = 1,
  // Joint consensus, left only when the application proposes an empty ConfChange.
  kJointExplicit = 2,
};

// A membership change, carried in an entry of type kConfChange (see codec.h for the bytes).
struct ConfChange {
  ConfChangeTransition transition = ConfChangeTransition::kAuto;
  std::vector<ConfChangeSingle> changes;
  std::string context;

  // An empty change leaves a joint configuration.
  bool LeavesJoint() const { return changes.empty(); }
  // Whether this change enters a joint configuration, and if so whether it leaves it
  // automatically.
  bool EntersJoint(bool* auto_leave) const;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_TYPES_H_
