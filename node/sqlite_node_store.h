// SqliteNodeStore: the NodeStore over storage::Store (SQLite, WAL). What the server runs,
// and what the simulator can run in place of the in-memory model.
//
// Persist() is one write transaction per Ready (group commit): the log, the hard state and,
// through its apply function, the state machine's changes with the applied index, under
// one fsync. A snapshot in a
// Ready must already be complete in the snapshot directory (the transport receives it with
// storage::SnapshotReceiver before handing MsgSnap to the node).
#ifndef RAFTBADGER_NODE_SQLITE_NODE_STORE_H_
#define RAFTBADGER_NODE_SQLITE_NODE_STORE_H_

#include <memory>

#include "node/node_store.h"
#include "storage/store.h"

namespace rb::node {

class SqliteNodeStore : public NodeStore {
 public:
  // Opens (or creates) the store. A new store gets `bootstrap` as its initial
  // configuration; an existing one keeps its own.
  // Runs a persist's completion now or later (the simulator delays it by a disk latency).
  using Scheduler = std::function<void(std::function<void()> work)>;

  static absl::StatusOr<std::unique_ptr<SqliteNodeStore>> Open(const storage::StoreOptions& options,
                                                               const raft::ConfState& bootstrap,
                                                               Scheduler scheduler = nullptr);

  const raft::Storage& raft_storage() const override { return *store_; }
  void Persist(const raft::Ready& rd, ApplyFn apply,
               std::function<void(absl::Status)> done) override;
  absl::Status Apply(const std::function<absl::Status(KvTxn*)>& fn) override;
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
  uint64_t applied_index() const override { return store_->applied_index(); }
  absl::Status SnapshotAndCompact(uint64_t keep_entries) override;

  storage::Store& store() { return *store_; }

 private:
  SqliteNodeStore(std::unique_ptr<storage::Store> store, Scheduler scheduler)
      : store_(std::move(store)), scheduler_(std::move(scheduler)) {}
  std::unique_ptr<storage::Store> store_;
  Scheduler scheduler_;
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_SQLITE_NODE_STORE_H_
