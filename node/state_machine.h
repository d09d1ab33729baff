// The replicated key-value state machine: how a committed entry changes the store.
//
// Commands carry (client_id, seq). Each client's newest applied seq and its result live in
// a session row inside the same key-value table (under a reserved prefix), so they commit
// atomically with the command's effect and travel inside snapshots. A command whose seq the
// session has already applied is not applied again: it gets the recorded result. That is
// what makes client retries safe (exactly-once effect).
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
};

// Applies the command encoded in `data`, committed at `index`.
absl::StatusOr<ApplyOutcome> ApplyCommand(KvTxn* txn, uint64_t index, absl::string_view data);

std::string SessionKey(uint64_t client_id);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_STATE_MACHINE_H_
