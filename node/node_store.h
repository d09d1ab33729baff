// NodeStore: what the node logic (node.h) needs from durable storage, as one interface
// with two implementations: MemoryNodeStore (the simulator's model of the contract) and
// SqliteNodeStore (storage::Store, in production and, through a VFS, in the simulator).
#ifndef RAFTBADGER_NODE_NODE_STORE_H_
#define RAFTBADGER_NODE_NODE_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "raft/raw_node.h"
#include "raft/storage.h"

namespace rb::node {

// The key-value operations available while applying committed entries; everything done
// through one KvTxn commits atomically with the applied index.
class KvTxn {
 public:
  virtual ~KvTxn() = default;
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;
  virtual absl::Status Put(absl::string_view key, absl::string_view value, uint64_t index) = 0;
  virtual absl::StatusOr<bool> Delete(absl::string_view key) = 0;
  // Up to `limit` keys starting with prefix, in key order, with their values, as this
  // transaction sees them.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(
      absl::string_view prefix, size_t limit) = 0;
  virtual absl::Status SetApplied(uint64_t index, const raft::ConfState& cs) = 0;
  // The applied index as of this point of the transaction.
  virtual uint64_t applied_index() const = 0;
};

using ApplyFn = std::function<absl::Status(KvTxn*)>;

// What a state machine holds, in a few words: replicas at the same applied index must have
// equal digests (etcd's HashKV does this job). Rows are hashed in key order, the reserved
// session rows included.
struct StateDigest {
  uint64_t applied_index = 0;
  uint64_t rows = 0;
  uint64_t rows_hash = 0;
  raft::ConfState conf_state;  // recorded with the applied index

  bool SameState(const StateDigest& o) const {
    return rows == o.rows && rows_hash == o.rows_hash && conf_state == o.conf_state;
  }
};

// Hashes rows, one at a time in key order, into a StateDigest.
class StateDigestBuilder {
 public:
  StateDigestBuilder();
  ~StateDigestBuilder();
  StateDigestBuilder(const StateDigestBuilder&) = delete;
  StateDigestBuilder& operator=(const StateDigestBuilder&) = delete;
  void AddRow(absl::string_view key, absl::string_view value);
  StateDigest Finish(uint64_t applied_index, const raft::ConfState& conf_state);

 private:
  struct State;
  std::unique_ptr<State> state_;
  uint64_t rows_ = 0;
};

class NodeStore {
 public:
  virtual ~NodeStore() = default;

  // The core's read side.
  virtual const raft::Storage& raft_storage() const = 0;
  // Makes the Ready's hard state, entries and snapshot durable, then calls done (perhaps
  // later, from the driver's event loop; never after the store is destroyed). At most one
  // persist is in flight. REQUIRES: a snapshot in rd is complete locally.
  //
  // The write may run on another thread (SqliteNodeStore's Writer); done runs on the
  // node's. rd must stay unchanged until done has run.
  //
  // If apply is set, it runs inside the same atomic write, after the snapshot, entries and
  // hard state: the Ready's committed entries reach the state machine with the same single
  // fsync (group commit of log and state machine). Its error fails the whole write. It may
  // run before Persist returns or later, but always before done.
  //
  // A Ready with no entries, no snapshot, and no change of term or vote (one that only
  // advances the commit index and applies) need not be durable when done runs (etcd's
  // MustSync): it holds nothing the log does not, and a power loss that loses it only
  // makes the node apply those entries again. The store makes it durable before a read
  // (Get) shows it, so that no read shows what a power loss could undo, and no later than
  // its next write that must be durable.
  //
  // done gets ResourceExhausted only when the disk had no room and none of the write took
  // effect: the node may then hand the same Ready (and apply) to Persist again.
  //
  // If on_durable is set, it runs once the write has succeeded, as durable as done would
  // find it, and before done: on the writer's thread, if the store has one, the moment its
  // transaction ends. What waited for the write (a follower's answer to an append) can then
  // leave without first waiting for the node's thread to wake. It runs at most once per
  // persist, never for a write that failed, and must touch nothing the node's thread does
  // meanwhile.
  virtual void Persist(const raft::Ready& rd, ApplyFn apply, std::function<void()> on_durable,
                       std::function<void(absl::Status)> done) = 0;
  // Runs fn in one atomic transaction over the state machine, outside any Ready.
  virtual absl::Status Apply(const std::function<absl::Status(KvTxn*)>& fn) = 0;
  virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const = 0;
  virtual uint64_t applied_index() const = 0;
  // Digest of the whole state machine at its applied index (reads every row).
  virtual absl::StatusOr<StateDigest> Digest() const = 0;
  // Takes a snapshot of the state machine at its applied index and compacts the log up to
  // keep_entries before it. REQUIRES: no persist in flight.
  virtual absl::Status SnapshotAndCompact(uint64_t keep_entries) = 0;
  // Compacts the log up to keep_entries before the applied index. A store whose state
  // machine is durable need not take a snapshot for that (a snapshot copies the whole
  // state, so one per compaction makes the cost of writing grow with the data): it takes
  // one only once a follower needs it (snapshot_wanted). REQUIRES: no persist in flight.
  virtual absl::Status CompactLog(uint64_t keep_entries) = 0;
  // Whether the core asked for a snapshot that the store could not give (its latest one is
  // older than the log's start: the core was told to ask again later). Cleared by
  // SnapshotAndCompact.
  virtual bool snapshot_wanted() const = 0;
  // The index of the latest snapshot taken or installed (0: none).
  virtual uint64_t snapshot_index() const = 0;
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_NODE_STORE_H_
