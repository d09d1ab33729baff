// Store: a node's durable state in one SQLite database (WAL mode): the Raft log, the hard
// state, the latest snapshot's metadata and the key-value state machine with its applied
// index. It implements raft::Storage for the core's reads; writes go through Write().
//
// DURABILITY CONTRACT. When Write() returns OK, everything its function wrote survives a
// kill -9 of the process and a power loss: the transaction is committed to the WAL with
// synchronous=FULL, so the WAL is fsynced before COMMIT returns. A Write() that returns an
// error wrote nothing (the transaction is rolled back), and after an I/O error the store
// refuses further writes (FailedPrecondition): after a failed fsync the kernel may have
// dropped the dirty pages, so continuing could acknowledge data that is not on disk.
//
// Write(fn, /*sync=*/false) is the one exception: it commits without an fsync, so a kill
// -9 keeps it but a power loss may lose it (never half of it: the WAL's checksums end the
// log at the last whole commit). It is for what can be rebuilt, such as applying entries
// the log already holds durably. SyncWal() (or the next synced Write()) makes it durable;
// durable_hard_state() and durable_applied_index() say what a power loss keeps. At most
// wal::kMaxUnsyncedCommits commits may lack an fsync, the one being written included: the
// WAL frame checks (wal_frames.h) tell a torn frame from a damaged one by assuming so. So
// after an unsynced Write(), the next Write() must sync, or SyncWal() must come first
// (REQUIRES, checked). Opening the store syncs whatever it finds, so what a restart sees is
// durable.
//
// One Write() per Ready is group commit: the Ready's entries, hard state and snapshot (and,
// if the driver wishes, the application of its committed entries) cost one fsync.
//
// Opening never starts empty over something it could not read: a file that is not a
// RaftBadger database, a newer schema, or a corrupted file fail Open() with a message
// naming the file. A missing data directory is created.
//
// Nothing here reads a clock or sleeps (no SQLite busy handler). Not thread-safe: one
// Store per node, and its users serialize their calls (node::SqliteNodeStore holds a mutex
// across each, so that its writer thread and readers take turns); SnapshotBuilder reads on
// its own connection.
#ifndef RAFTBADGER_STORAGE_STORE_H_
#define RAFTBADGER_STORAGE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "storage/sqlite.h"

namespace rb::storage {

// Schema version written by this build. Opening a database with a higher one fails; one
// with a lower one is upgraded in place. 2: large values in a table of their own
// (storage/kv_rows.h).
inline constexpr int kSchemaVersion = 2;
// PRAGMA application_id of RaftBadger databases: "RBdr".
inline constexpr int kApplicationId = 0x52426472;
inline constexpr char kDatabaseFileName[] = "raftbadger.db";
inline constexpr char kSnapshotDirName[] = "snapshots";

struct StoreOptions {
  // Data directory; created if missing (only on the real disk: a custom VFS owns its paths).
  std::string dir;
  // SQLite VFS to use: empty for the real disk, else a PageChecksumVfs (the simulator's
  // wraps its fault-injecting one). The database's pages carry checksums, verified on
  // every read; Open refuses a VFS that would not check them.
  std::string vfs;
  // When opening, check SQLite's structure (PRAGMA quick_check) and every row's checksum:
  // damage anywhere in the file fails Open() instead of surfacing on a later read. Reads the
  // whole database once.
  bool verify_on_open = true;
  // WAL pages after which a commit runs a passive checkpoint.
  int wal_autocheckpoint_pages = 1000;
  // After a checkpoint, the WAL file is truncated down to this size.
  int64_t journal_size_limit_bytes = 16 << 20;
  // SQLite's page cache for this connection. Reads that hit it cost no system call.
  int64_t page_cache_bytes = 64 << 20;
  // fsync on every commit (synchronous=FULL). Only the simulator turns this off: its
  // crashes are process crashes, after which the OS still holds every write, so the
  // contract it tests is unchanged. Never off in production.
  bool sync = true;
};

struct KeyValue {
  std::string key;
  std::string value;
  uint64_t mod_index = 0;  // log index of the last write to the key
};

struct LogPosition {
  uint64_t index = 0;
  uint64_t term = 0;
};

class Store;

// The operations available inside one Write() transaction. Changes become visible to the
// Store's readers (and the core) only once the transaction commits.
class WriteTxn {
 public:
  // Appends entries, truncating any stored suffix from entries[0].index on (a conflicting
  // suffix replaced by a new leader). Entries at or before the compacted prefix are skipped.
  // REQUIRES: contiguous; entries[0].index <= LastIndex() + 1.
  absl::Status AppendEntries(absl::Span<const raft::Entry> entries);
  absl::Status SetHardState(const raft::HardState& hs);
  // The configuration of a new cluster (used when there is no snapshot yet).
  absl::Status SetConfState(const raft::ConfState& cs);
  // Replaces the state machine and the log with a snapshot received from the leader. Its
  // file must be complete in the snapshot directory (SnapshotReceiver). Atomic with the rest
  // of the transaction: a crash leaves the previous state.
  absl::Status InstallSnapshot(const raft::Snapshot& snapshot);
  // Discards log entries before compact_index (which becomes the new dummy entry).
  // REQUIRES: compact_index <= last index and <= applied index.
  absl::Status Compact(uint64_t compact_index);

  // State machine. `index` is the log index of the command doing the write.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key);
  absl::Status Put(absl::string_view key, absl::string_view value, uint64_t index);
  // Returns whether the key existed.
  absl::StatusOr<bool> Delete(absl::string_view key);
  // As Store::Scan, seeing this transaction's own writes.
  absl::StatusOr<std::vector<KeyValue>> Scan(absl::string_view prefix, size_t limit);
  // Writes only if the key exists; returns whether it did.
  absl::StatusOr<bool> UpdateIfExists(absl::string_view key, absl::string_view value,
                                      uint64_t index);
  // Writes `value` only if the current value equals *expected (or the key is absent when
  // expected is nullopt); returns whether it wrote.
  absl::StatusOr<bool> CompareAndSwap(absl::string_view key,
                                      std::optional<absl::string_view> expected,
                                      absl::string_view value, uint64_t index);
  // Records that entries up to `index` are applied, with the configuration in force then.
  absl::Status SetApplied(uint64_t index, const raft::ConfState& conf_state);
  // The applied index as this transaction leaves it so far (a snapshot installed in it
  // moves it).
  uint64_t applied_index() const { return applied_index_; }

 private:
  friend class Store;
  explicit WriteTxn(Store* store);

  Store* store_;
  // Cached state as it will be once committed.
  raft::HardState hard_state_;
  std::optional<raft::ConfState> conf_state_;
  std::shared_ptr<const raft::Snapshot> snapshot_;
  LogPosition log_start_;
  uint64_t last_index_;
  uint64_t applied_index_;
  raft::ConfState applied_conf_state_;
};

class Store : public raft::Storage {
 public:
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store() override;

  // raft::Storage.
  absl::StatusOr<raft::InitialState> GetInitialState() const override;
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<raft::Entry>* out) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> FirstIndex() const override;
  absl::StatusOr<uint64_t> LastIndex() const override;
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> GetSnapshot() const override;

  // Runs fn inside one transaction and commits it (see the durability contract above),
  // with an fsync unless sync is false. If fn returns an error, nothing is written and
  // that error is returned.
  // REQUIRES: sync, or unsynced_commits() + 1 < wal::kMaxUnsyncedCommits.
  absl::Status Write(const std::function<absl::Status(WriteTxn*)>& fn, bool sync = true);
  // Makes every committed write durable (an fsync of the WAL), if any is not yet. After a
  // failure the store refuses writes, as after a failed commit.
  absl::Status SyncWal();
  // Commits since the last fsync (each skipped its own).
  uint64_t unsynced_commits() const { return unsynced_commits_; }
  // The WAL's fsyncs since Open (a synced commit that wrote, or a SyncWal that had work):
  // what the benchmarks count writes per fsync by.
  uint64_t wal_syncs() const { return wal_syncs_; }

  // State machine reads (committed state). Refused, like writes, after an I/O failure.
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const;
  // Keys starting with prefix, in key order, at most `limit` of them; only keys after
  // start_after if it is given (a page's continuation).
  absl::StatusOr<std::vector<KeyValue>> Scan(absl::string_view prefix, size_t limit,
                                             absl::string_view start_after = {}) const;
  uint64_t applied_index() const { return applied_index_; }
  const raft::ConfState& applied_conf_state() const { return applied_conf_state_; }
  const raft::HardState& hard_state() const { return hard_state_; }
  // What a power loss now would keep (see Write's sync).
  const raft::HardState& durable_hard_state() const { return durable_hard_state_; }
  uint64_t durable_applied_index() const { return durable_applied_index_; }

  // Size of the WAL file in bytes (0 if there is none), and a checkpoint on demand that
  // truncates it when no reader pins it.
  absl::StatusOr<int64_t> WalSizeBytes() const;
  absl::Status Checkpoint();
  // For a process going down hard (the simulator's crashes): closing then neither reads nor
  // writes the database, as after kill -9. By default, closing runs a checkpoint.
  void SkipCheckpointOnClose();
  // Drops the clean pages of the page cache (under memory pressure, say): later reads go
  // to the disk, and its checks, again.
  void ReleaseMemory();

  const std::string& dir() const { return options_.dir; }
  const std::string& db_path() const { return db_path_; }
  std::string snapshot_path(absl::string_view file_name) const;
  const StoreOptions& options() const { return options_; }
  // Records snap as the latest snapshot if it is newer (SnapshotBuilder calls this).
  absl::Status RecordSnapshot(std::shared_ptr<const raft::Snapshot> snap);
  // Deletes snapshot files older than the latest one (through the VFS).
  void DeleteOldSnapshotFiles(absl::Span<const std::string> file_names);
  // The store's connection, for SQLite's backup API (SnapshotBuilder). Writes made through
  // the store are applied to an ongoing backup by SQLite itself.
  sqlite3* db_handle() { return db_->handle(); }

 private:
  friend class WriteTxn;
  Store(StoreOptions options, std::string db_path, std::unique_ptr<SqliteDb> db);

  // On the real disk, a new database is built under a temporary name and renamed into
  // place once its schema is durable: a database file that exists always holds the
  // schema, so one that reads as empty was damaged (truncated, zeroed) and Open refuses
  // it instead of starting over it.
  static absl::Status CreateDatabase(const StoreOptions& options, const std::string& path);
  // fresh_allowed: a file without tables may be given the schema (a file CreateDatabase
  // is building, or any file of a custom VFS, which owns its paths).
  absl::Status Initialize(bool fresh_allowed);
  absl::Status CheckIdentity(bool fresh);
  absl::Status LoadState();
  // The tables are exactly the ones schema `version` creates (always checked).
  absl::Status CheckSchema(int64_t version) const;
  // Brings the schema from version `from` (0: a file without tables) to kSchemaVersion, in
  // one transaction.
  absl::Status UpgradeSchema(int64_t from);
  // A new file gets room for page checksums; an existing one must have it.
  absl::Status ReservePageChecksumBytes();
  absl::Status CheckPageChecksumBytes();
  // SQLite's own structure check (verify_on_open).
  absl::Status VerifyStructure() const;
  // Every log entry and state-machine row against its checksum (verify_on_open).
  absl::Status VerifyRows() const;
  // Checks each row of a WITHOUT ROWID table against its checksum and finds it again by key.
  // scan_sql selects the key first and the checksum fourth.
  absl::Status VerifyKeyedTable(absl::string_view table, absl::string_view key_column,
                                bool text_key, absl::string_view scan_sql,
                                const std::function<bool(Statement*)>& checksum_ok) const;
  absl::Status PutMeta(absl::string_view name, const std::string& value);
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view name) const;
  absl::StatusOr<std::optional<std::string>> GetKv(absl::string_view key) const;
  absl::Status PutKv(absl::string_view key, absl::string_view value, uint64_t index);
  // PutKv with the row's checksum given.
  absl::Status WriteKv(absl::string_view key, absl::string_view value, uint64_t index,
                       uint64_t crc);
  absl::StatusOr<bool> DeleteKv(absl::string_view key);
  absl::Status CopySnapshotInto(const raft::Snapshot& snapshot);
  // fsyncs the WAL through the VFS and records the committed state as durable.
  absl::Status SyncWalFile();
  // Everything committed so far is on disk: the durable state catches up with it.
  void MarkSynced();
  // FailedPrecondition once an I/O failure poisoned the store (see the contract above).
  absl::Status CheckReadable() const;
  // The error of a store an I/O failure poisoned: "refusing <refusing> after ...".
  absl::Status Poisoned(absl::string_view refusing) const;

  StoreOptions options_;
  std::string db_path_;
  std::unique_ptr<SqliteDb> db_;
  // Set after an I/O error: the store refuses writes from then on.
  std::string failed_;

  // Committed state, cached (the store is the database's only writer).
  raft::HardState hard_state_;
  raft::ConfState conf_state_;
  std::shared_ptr<const raft::Snapshot> snapshot_;
  LogPosition log_start_;  // the dummy entry: last compacted index and its term
  uint64_t last_index_ = 0;
  uint64_t applied_index_ = 0;
  raft::ConfState applied_conf_state_;
  // As of the last fsync (equal to the above unless a Write skipped its fsync since).
  raft::HardState durable_hard_state_;
  uint64_t durable_applied_index_ = 0;
  uint64_t unsynced_commits_ = 0;  // commits since the last fsync, each skipping its own
  uint64_t wal_syncs_ = 0;
  // False only while kv_large is known to be empty (kv_rows.h): from an open that found it
  // empty until a large value is first written.
  bool kv_large_used_ = true;
};

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_STORE_H_
