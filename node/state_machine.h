// The replicated key-value state machine: how a committed entry changes the store.
//
// Commands carry (client_id, seq). A client opens a session with a RegisterSession command;
// its client id is the log index that command is applied at (Raft thesis 6.3). Each
// session's newest applied seq and its result live in a session row inside the same
// key-value table (under a reserved prefix), so they commit atomically with the command's
// effect and travel inside snapshots. A command whose seq the session has already applied
// is not applied again: it gets the recorded result. That is what makes client retries
// safe (exactly-once effect).
//
// Sessions expire by log time: the largest leader clock stamp applied so far, which every
// replica sees at the same entry, so all expire the same sessions. A session idle longer
// than the policy's timeout, or the least recently used one when there are more than the
// policy allows, is removed; its client's next command does nothing and reports it, and
// the client registers again. The table is bounded however many clients come and go.
#ifndef RAFTBADGER_NODE_STATE_MACHINE_H_
#define RAFTBADGER_NODE_STATE_MACHINE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "node/node_store.h"
#include "proto/kv.pb.h"

namespace rb::node {

// Keys starting with this byte are reserved for the state machine's own rows.
inline constexpr char kReservedKeyPrefix = '\0';

// Checks a client-supplied key: non-empty, not reserved, at most max_bytes.
absl::Status ValidateKey(absl::string_view key, size_t max_bytes = 4096);

// Cluster-wide session rules. Every member must apply the same ones, since they decide
// what the replicated state machine does: the server always uses the defaults; tests and
// the simulator may choose others, for every member alike.
struct SessionPolicy {
  uint64_t idle_timeout_ms = 60 * 60 * 1000;
  uint64_t max_sessions = 100'000;
  // Expired sessions removed per applied command at most (the rest go with later ones).
  int expire_per_command = 8;
};

struct ApplyOutcome {
  uint64_t client_id = 0;
  uint64_t seq = 0;
  raftbadger::kvpb::CommandResult result;
  // Already applied earlier (a retry): result is the recorded one, nothing changed.
  bool duplicate = false;
  // Older than the session's newest seq: the client has moved on; no result is known.
  bool stale = false;
  // The entry did not decode as a command; nothing changed.
  bool malformed = false;
  // The client's session is not registered (it expired, or never was); nothing changed.
  bool unknown_session = false;
};

// Applies the command encoded in `data`, committed at `index`.
absl::StatusOr<ApplyOutcome> ApplyCommand(KvTxn* txn, uint64_t index, absl::string_view data,
                                          const SessionPolicy& policy = {});

// Whether cmd's result is known before it is applied: no state ApplyCommand could find
// changes it. True for a put without a session or require_existing, whose result is only
// the index it is applied at (see NodeOptions::answer_writes_at_commit).
bool ResultKnownBeforeApply(const raftbadger::kvpb::Command& cmd);

std::string SessionKey(uint64_t client_id);

// The error a write gets when its session is unknown or expired: FailedPrecondition,
// marked so that IsSessionExpired() recognizes it (a client registers again).
absl::Status SessionExpiredError(uint64_t client_id);
bool IsSessionExpired(const absl::Status& status);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_STATE_MACHINE_H_
