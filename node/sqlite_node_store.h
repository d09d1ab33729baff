// SqliteNodeStore: the NodeStore over storage::Store (SQLite, WAL). What the server runs,
// and what the simulator can run in place of the in-memory model.
//
// Persist() is one write transaction per Ready (group commit): the log, the hard state and,
// through its apply function, the state machine's changes with the applied index, under
// one fsync. A Ready that only commits and applies (NodeStore::Persist) commits without an
// fsync of its own: the next synced commit's fsync covers it, so a lone client's write
// costs the leader one fsync, not two. A client read (Get, Scan) syncs it first, if it
// comes before that commit: no power loss may undo what a client saw. At most one commit
// is left so, since the WAL's checks read more unsynced commits at its end as damage
// (storage/wal_frames.h): a second such Ready in a row is synced. A snapshot in a Ready must
// already be complete in the snapshot directory (the transport receives it with
// storage::SnapshotReceiver before handing MsgSnap to the node).
//
// THREADS. The node's thread calls everything here. With a Writer, the write transaction
// (fsync included) runs on the writer's thread instead, beside the node's (etcd's leader
// writes its WAL while it keeps stepping messages). Only a small Ready that only applies
// and skips its fsync is written on the node's thread, which saves it two hand-offs. The
// core reads its log from a LogCache kept in memory, which learns of each write only when
// its completion runs on the node's thread. Everything else that reads the database
// (older log entries, snapshots, client reads through Get and Scan, from any thread)
// shares one connection under a mutex, and so may wait for a write in flight.
#ifndef RAFTBADGER_NODE_SQLITE_NODE_STORE_H_
#define RAFTBADGER_NODE_SQLITE_NODE_STORE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "node/log_cache.h"
#include "node/node_store.h"
#include "storage/store.h"

namespace rb::node {

class SqliteNodeStore : public NodeStore {
 public:
  // Runs a persist's completion on the node's thread, now or later (the server posts it to
  // its loop; the simulator delays it by a disk latency). Called once per persist.
  using Scheduler = std::function<void(std::function<void()> work)>;
  // Runs a write job on another thread; the job ends by handing its completion to the
  // Scheduler, which is then required.
  using Writer = std::function<void(std::function<void()> job)>;

  // Opens (or creates) the store. A new store gets `bootstrap` as its initial
  // configuration; an existing one keeps its own. Without a scheduler, a persist completes
  // before Persist returns; without a writer, it writes before Persist returns.
  static absl::StatusOr<std::unique_ptr<SqliteNodeStore>> Open(const storage::StoreOptions& options,
                                                               const raft::ConfState& bootstrap,
                                                               Scheduler scheduler = nullptr,
                                                               Writer writer = nullptr);
  ~SqliteNodeStore() override;

  // Sets where persists run and complete, for a driver that comes after Open (the server's
  // loop). REQUIRES: no persist yet.
  void SetThreads(Scheduler scheduler, Writer writer);

  const raft::Storage& raft_storage() const override { return *cache_; }
  void Persist(const raft::Ready& rd, ApplyFn apply, std::function<void()> on_durable,
               std::function<void(absl::Status)> done) override;
  absl::Status Apply(const std::function<absl::Status(KvTxn*)>& fn) override;
  // Thread-safe.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
  // As storage::Store::Scan. Thread-safe.
  absl::StatusOr<std::vector<storage::KeyValue>> Scan(absl::string_view prefix, size_t limit,
                                                      absl::string_view start_after = {}) const;
  // Checkpoints the WAL into the database and truncates it; returns its size in bytes
  // before and after. Unavailable if a reader pins it. Thread-safe.
  absl::StatusOr<std::pair<int64_t, int64_t>> CheckpointWal();
  // The latest snapshot. Thread-safe.
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> LatestSnapshot() const;
  // What reads of the database see (a write in flight may already have moved it, before
  // its completion runs). Thread-safe.
  uint64_t applied_index() const override { return applied_index_.load(std::memory_order_acquire); }
  // Reads the state as it is, synced or not: the simulator's checks call it, and must not
  // change what a power loss keeps. Thread-safe.
  absl::StatusOr<StateDigest> Digest() const override;
  // REQUIRES: no persist in flight.
  absl::Status SnapshotAndCompact(uint64_t keep_entries) override;
  // Compacts without a snapshot: the state machine is durable in the database. The core
  // then gets a snapshot only once one is built for a follower (snapshot_wanted).
  // REQUIRES: no persist in flight.
  absl::Status CompactLog(uint64_t keep_entries) override;
  bool snapshot_wanted() const override { return snapshot_wanted_.load(std::memory_order_relaxed); }
  uint64_t snapshot_index() const override;
  bool persist_in_flight() const { return persist_in_flight_; }
  // Tests only: runs inside each persist's transaction with its Ready, holding the store
  // (on the writer's thread if there is one), so a test can hold a write in flight.
  void SetWriteHookForTesting(std::function<void(const raft::Ready&)> hook) {
    write_hook_ = std::move(hook);
  }

  // The database itself, bypassing the mutex. REQUIRES: nothing else uses the store at the
  // time (before the node's driver starts, or single-threaded use), except for what never
  // changes after Open (its directory, snapshot paths and options). After writing the log
  // through it, call ReloadLog before the node reads it.
  storage::Store& store() ABSL_NO_THREAD_SAFETY_ANALYSIS { return *store_; }
  // Reads the log's bounds again (after a write through store(), such as a bootstrap).
  // REQUIRES: no node over this store yet.
  absl::Status ReloadLog();

 private:
  // Serializes the node's reads of older entries with the writer (see THREADS).
  class LockedLog;

  SqliteNodeStore(std::unique_ptr<storage::Store> store, Scheduler scheduler, Writer writer);
  // Syncs an apply left unsynced (see the top) before a client read shows it.
  absl::Status SyncBeforeRead() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether rd may commit without an fsync of its own (see the top).
  bool MaySkipFsync(const raft::Ready& rd, bool applies) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The write transaction of one Ready. Runs on the writer's thread, if there is one.
  absl::Status WriteReady(const raft::Ready& rd, const ApplyFn& apply, bool sync)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes and completes a small Ready that may skip its fsync on the calling thread; false
  // (doing nothing) for any other Ready.
  bool PersistInline(const raft::Ready& rd, const ApplyFn& apply,
                     const std::function<void()>& on_durable,
                     const std::function<void(absl::Status)>& done);
  // Discards the log before index - keep_entries, if that is past its start.
  absl::Status CompactLocked(uint64_t index, uint64_t keep_entries)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  const std::unique_ptr<storage::Store> store_ ABSL_PT_GUARDED_BY(mu_);
  std::unique_ptr<LockedLog> locked_log_;
  std::unique_ptr<LogCache> cache_;
  Scheduler scheduler_;
  Writer writer_;
  std::function<void(const raft::Ready&)> write_hook_;
  std::atomic<uint64_t> applied_index_{0};  // the database's, set under mu_
  // Set by the core's GetSnapshot (under mu_) when the latest snapshot is older than the
  // log's start; cleared once a snapshot is taken.
  mutable std::atomic<bool> snapshot_wanted_{false};
  bool persist_in_flight_ = false;  // the node's thread only
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_SQLITE_NODE_STORE_H_
