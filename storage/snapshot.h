// Snapshots of the SQLite store's state machine.
//
// A snapshot is a separate SQLite database, "<dir>/snapshots/snap-<term>-<index>.db", holding
// the key-value rows as of one applied index; raft::Snapshot.data carries only its
// SnapshotDescriptor (proto/storage.proto). It is built, streamed and received through
// SQLite alone (so a custom VFS such as the simulator's faulty disk covers it too), row by
// row, so memory stays bounded whatever the state machine's size. A snapshot database
// counts only once its "complete" marker row is committed: a crash while writing one leaves
// an incomplete file that is ignored and replaced.
#ifndef RAFTBADGER_STORAGE_SNAPSHOT_H_
#define RAFTBADGER_STORAGE_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/storage.pb.h"
#include "raft/types.h"
#include "storage/kv_rows.h"
#include "storage/snapshot_file.h"
#include "storage/sqlite.h"
#include "storage/store.h"

namespace rb::storage {

// Builds a snapshot of `store`'s state machine with SQLite's online backup API, on the
// store's own connection, a bounded number of pages per Step(). Between steps the store
// keeps taking writes; SQLite applies each one to the copy as well, so when the copy is
// finished it is one consistent state, and the snapshot's index is the applied index read
// from the copy itself. Memory stays bounded (pages go through SQLite's page cache).
class SnapshotBuilder {
 public:
  // REQUIRES: store->applied_index() > 0. The store must outlive the builder.
  static absl::StatusOr<std::unique_ptr<SnapshotBuilder>> Start(Store* store);
  ~SnapshotBuilder();
  // Copies up to max_pages pages. Returns true once the copy is complete.
  absl::StatusOr<bool> Step(int max_pages);
  // Turns the copy into a snapshot file, records it as the store's latest snapshot and
  // returns it. Does not compact the log: the caller decides how many entries to keep for
  // slow followers. REQUIRES: Step() returned true.
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> Finish();

 private:
  SnapshotBuilder() = default;

  Store* store_ = nullptr;
  std::string file_name_;
  std::unique_ptr<SqliteDb> copy_;
  sqlite3_backup* backup_ = nullptr;
  bool done_ = false;
};

// Reads a complete snapshot in chunks of at most max_bytes (at least one row each).
class SnapshotReader {
 public:
  static absl::StatusOr<std::unique_ptr<SnapshotReader>> Open(const Store& store,
                                                              const raft::Snapshot& snapshot);
  // The next chunk; chunk.last() is set on the final one.
  absl::StatusOr<raftbadger::storagepb::SnapshotChunk> Next(size_t max_bytes);

 private:
  SnapshotReader() = default;
  std::unique_ptr<SqliteDb> db_;
  KvForm form_ = KvForm::kSplit;  // a snapshot from before the split is inline-only
  std::string last_key_;
  bool started_ = false;
  bool done_ = false;
};

// Receives a snapshot's chunks into the local snapshot directory, verifying row order, row
// count and content checksum before marking it complete. Then the core may install it
// (WriteTxn::InstallSnapshot).
class SnapshotReceiver {
 public:
  static absl::StatusOr<std::unique_ptr<SnapshotReceiver>> Begin(const Store& store,
                                                                 const raft::Snapshot& snapshot);
  ~SnapshotReceiver();
  absl::Status Add(const raftbadger::storagepb::SnapshotChunk& chunk);
  // Fails with DataLoss if what arrived does not match the descriptor.
  absl::Status Finish();

 private:
  SnapshotReceiver() = default;
  std::unique_ptr<SqliteDb> db_;
  raftbadger::storagepb::SnapshotDescriptor descriptor_;
  raft::ConfState conf_state_;
  std::string last_key_;
  uint64_t rows_ = 0;
  uint64_t content_checksum_ = 0;
  bool finished_ = false;
};

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_SNAPSHOT_H_
