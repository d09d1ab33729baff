#include "storage/store.h"

#include <sys/stat.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "proto/raft.pb.h"
#include "proto/storage.pb.h"
#include "raft/codec.h"
#include "storage/checksum.h"
#include "storage/kv_rows.h"
#include "storage/snapshot_file.h"
#include "storage/store_meta_rows.h"
#include "storage/wal_frames.h"

namespace rb::storage {

namespace {

namespace pb = raftbadger::raftpb;

std::string Serialize(const google::protobuf::MessageLite& m) { return m.SerializeAsString(); }

pb::SnapshotMetadata Position(uint64_t index, uint64_t term) {
  pb::SnapshotMetadata p;
  p.set_index(index);
  p.set_term(term);
  return p;
}

}  // namespace

Store::Store(StoreOptions options, std::string db_path, std::unique_ptr<SqliteDb> db)
    : options_(std::move(options)), db_path_(std::move(db_path)), db_(std::move(db)) {
  snapshot_ = std::make_shared<raft::Snapshot>();
}

Store::~Store() = default;

std::string Store::snapshot_path(absl::string_view file_name) const {
  return absl::StrCat(options_.dir, "/", kSnapshotDirName, "/", file_name);
}

absl::StatusOr<std::optional<std::string>> Store::GetMeta(absl::string_view name) const {
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Prepare("SELECT value, checksum FROM meta WHERE name = ?1"));
  st->Reset().BindText(1, name);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) {
    st->Reset();
    return std::optional<std::string>();
  }
  std::string value(st->ColumnBlob(0));
  const uint64_t crc = static_cast<uint64_t>(st->ColumnInt64(1));
  st->Reset();
  if (crc != MetaChecksum(name, value)) {
    return absl::DataLossError(absl::StrCat(db_path_, ": checksum mismatch in ", name));
  }
  return std::optional<std::string>(std::move(value));
}

absl::Status Store::PutMeta(absl::string_view name, const std::string& value) {
  ASSIGN_OR_RETURN(
      Statement * st,
      db_->Prepare("INSERT OR REPLACE INTO meta(name, value, checksum) VALUES(?1,?2,?3)"));
  st->Reset().BindText(1, name).BindBlob(2, value).BindInt64(3, MetaChecksum(name, value));
  return st->Run();
}

// ---------------------------------------------------------------------------------------
// raft::Storage.

absl::StatusOr<raft::InitialState> Store::GetInitialState() const {
  raft::InitialState s;
  s.hard_state = hard_state_;
  // The configuration as of the applied index: entries after it (conf changes included)
  // are applied again after a restart, so the core must start from exactly this one.
  if (!applied_conf_state_.voters.empty()) {
    s.conf_state = applied_conf_state_;
  } else if (!snapshot_->IsEmpty()) {
    s.conf_state = snapshot_->metadata.conf_state;
  } else {
    s.conf_state = conf_state_;
  }
  return s;
}

absl::Status Store::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                            std::vector<raft::Entry>* out) const {
  if (lo <= log_start_.index) return raft::ErrCompacted();
  if (hi > last_index_ + 1) return raft::ErrUnavailable();
  if (lo >= hi) return absl::OkStatus();
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Prepare("SELECT idx, term, type, data, checksum FROM raft_log "
                                "WHERE idx >= ?1 AND idx < ?2 ORDER BY idx"));
  st->Reset().BindInt64(1, lo).BindInt64(2, hi);
  uint64_t expected = lo;
  uint64_t size = 0;
  absl::Status status;
  for (; expected < hi; ++expected) {  // bounded by hi - lo rows
    auto row = st->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    raft::Entry e;
    e.index = static_cast<uint64_t>(st->ColumnInt64(0));
    e.term = static_cast<uint64_t>(st->ColumnInt64(1));
    const int type = static_cast<int>(st->ColumnInt64(2));
    const absl::string_view data = st->ColumnBlob(3);
    const uint64_t crc = static_cast<uint64_t>(st->ColumnInt64(4));
    if (e.index != expected || crc != EntryChecksum(e.index, e.term, type, data) ||
        (type != 0 && type != 1)) {
      status = absl::DataLossError(
          absl::StrCat(db_path_, ": log entry ", expected, " is missing or fails its checksum"));
      break;
    }
    e.type = static_cast<raft::EntryType>(type);
    e.data = raft::Payload(data);
    size += e.SizeBytes();
    if (size > max_bytes && expected > lo) break;  // always at least one entry
    out->push_back(std::move(e));
  }
  st->Reset();
  if (status.ok() && expected < hi && size <= max_bytes) {
    status = absl::DataLossError(absl::StrCat(db_path_, ": log entry ", expected, " is missing"));
  }
  return status;
}

absl::StatusOr<uint64_t> Store::Term(uint64_t i) const {
  if (i == log_start_.index) return log_start_.term;
  if (i < log_start_.index) return raft::ErrCompacted();
  if (i > last_index_) return raft::ErrUnavailable();
  std::vector<raft::Entry> one;
  RETURN_IF_ERROR(Entries(i, i + 1, raft::kNoLimit, &one));
  return one[0].term;
}

absl::StatusOr<uint64_t> Store::FirstIndex() const { return log_start_.index + 1; }
absl::StatusOr<uint64_t> Store::LastIndex() const { return last_index_; }

absl::StatusOr<std::shared_ptr<const raft::Snapshot>> Store::GetSnapshot() const {
  return snapshot_;
}

// ---------------------------------------------------------------------------------------
// Writes.

absl::Status Store::Write(const std::function<absl::Status(WriteTxn*)>& fn, bool sync) {
  if (!failed_.empty()) return Poisoned("writes");
  // In WAL mode, NORMAL commits without an fsync. Its automatic checkpoint would sync the
  // WAL first and ignore a failure of that fsync, after which the kernel may have dropped
  // this commit's pages and a later fsync succeeds anyway: so none runs after such a
  // commit (the next synced one runs it), and SyncWal reports the failure instead.
  const bool skip_fsync = !sync && options_.sync;
  // The WAL's checks read more unsynced commits at its end as damage (wal_frames.h).
  RB_CHECK(!skip_fsync || unsynced_commits_ + 1 < wal::kMaxUnsyncedCommits,
           "an unsynced write would leave ", unsynced_commits_ + 1,
           " commits unsynced; sync the WAL first");
  if (skip_fsync) {
    RETURN_IF_ERROR(db_->Exec("PRAGMA synchronous=NORMAL"));
    sqlite3_wal_autocheckpoint(db_->handle(), 0);
  }
  // BEGIN and COMMIT run on every write: prepared once (their parsing was 4% of a leader's
  // CPU under a lone writer, with the PRAGMAs above).
  RETURN_IF_ERROR(db_->Run("BEGIN IMMEDIATE"));
  const int64_t changes_before = sqlite3_total_changes64(db_->handle());
  WriteTxn txn(this);
  absl::Status s = fn(&txn);
  // An empty transaction leaves the WAL alone: nothing to sync afterwards.
  const bool wrote = sqlite3_total_changes64(db_->handle()) != changes_before;
  if (s.ok()) s = db_->Run("COMMIT");
  if (skip_fsync) {
    // A failure here would leave later commits unsynced while they claim durability.
    RB_CHECK(db_->Exec("PRAGMA synchronous=FULL").ok(), "cannot restore synchronous=FULL");
    sqlite3_wal_autocheckpoint(db_->handle(), options_.wal_autocheckpoint_pages);
  }
  if (!s.ok()) {
    // Only SQLite's own I/O failures poison the store; an error the caller's function
    // returned leaves SQLite's last result code untouched (OK).
    const int sqlite_code = sqlite3_errcode(db_->handle()) & 0xff;
    // SQLite may already have rolled back (e.g. on SQLITE_FULL); only roll back if open.
    if (sqlite3_get_autocommit(db_->handle()) == 0) db_->Exec("ROLLBACK").IgnoreError();
    if (sqlite_code == SQLITE_IOERR || sqlite_code == SQLITE_CORRUPT) {
      failed_ = std::string(s.message());
    }
    return s;
  }
  hard_state_ = txn.hard_state_;
  if (txn.conf_state_) conf_state_ = *txn.conf_state_;
  snapshot_ = txn.snapshot_;
  log_start_ = txn.log_start_;
  last_index_ = txn.last_index_;
  applied_index_ = txn.applied_index_;
  applied_conf_state_ = txn.applied_conf_state_;
  if (skip_fsync) {
    if (wrote) ++unsynced_commits_;
  } else if (wrote) {
    // The commit's fsync covered the WAL, commits made without one included. A commit that
    // wrote nothing synced nothing: what an earlier one left unsynced stays so.
    if (options_.sync) ++wal_syncs_;
    MarkSynced();
  }
  return absl::OkStatus();
}

absl::Status Store::SyncWal() {
  if (!failed_.empty()) return Poisoned("to sync");
  if (unsynced_commits_ == 0) return absl::OkStatus();
  return SyncWalFile();
}

absl::Status Store::SyncWalFile() {
  if (options_.sync) {
    // No WAL open: nothing was written since the last checkpoint, which synced.
    absl::Status s = db_->SyncWal();
    if (!s.ok()) {
      // As after a failed commit: the kernel may have dropped the pages.
      failed_ = std::string(s.message());
      return s;
    }
    ++wal_syncs_;
  }
  MarkSynced();
  return absl::OkStatus();
}

void Store::MarkSynced() {
  unsynced_commits_ = 0;
  durable_hard_state_ = hard_state_;
  durable_applied_index_ = applied_index_;
}

absl::StatusOr<std::optional<std::string>> Store::GetKv(absl::string_view key) const {
  ASSIGN_OR_RETURN(Statement * st, db_->Prepare(SelectKvRows(KvForm::kSplit, "WHERE key = ?1")));
  st->Reset().BindBlob(1, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) {
    st->Reset();
    return std::optional<std::string>();
  }
  std::string value(st->ColumnBlob(1));
  const uint64_t mod_index = static_cast<uint64_t>(st->ColumnInt64(2));
  const uint64_t crc = static_cast<uint64_t>(st->ColumnInt64(3));
  st->Reset();
  if (crc != KvChecksum(key, value, mod_index)) {
    return absl::DataLossError(absl::StrCat(db_path_, ": checksum mismatch in a value"));
  }
  return std::optional<std::string>(std::move(value));
}

absl::Status Store::PutKv(absl::string_view key, absl::string_view value, uint64_t index) {
  return WriteKv(key, value, index, KvChecksum(key, value, index));
}

absl::Status Store::WriteKv(absl::string_view key, absl::string_view value, uint64_t index,
                            uint64_t crc) {
  // Set before the write: a transaction rolled back leaves it set, which costs only the
  // probes it saves.
  if (value.size() > kMaxInlineValueBytes) kv_large_used_ = true;
  return WriteKvRow(db_.get(), key, value, index, crc, kv_large_used_);
}

absl::StatusOr<bool> Store::DeleteKv(absl::string_view key) { return DeleteKvRow(db_.get(), key); }

absl::Status Store::Poisoned(absl::string_view refusing) const {
  return absl::FailedPreconditionError(
      absl::StrCat(db_path_, ": refusing ", refusing, " after an earlier I/O failure: ", failed_));
}

absl::Status Store::CheckReadable() const {
  if (failed_.empty()) return absl::OkStatus();
  // A commit whose fsync failed may be visible to SQLite while the kernel dropped its
  // pages: reading it could serve what the disk no longer holds.
  return Poisoned("reads");
}

absl::StatusOr<std::optional<std::string>> Store::Get(absl::string_view key) const {
  RETURN_IF_ERROR(CheckReadable());
  return GetKv(key);
}

absl::StatusOr<std::vector<KeyValue>> Store::Scan(absl::string_view prefix, size_t limit,
                                                  absl::string_view start_after) const {
  RETURN_IF_ERROR(CheckReadable());
  const bool after = start_after >= prefix && !start_after.empty();
  ASSIGN_OR_RETURN(
      Statement * st,
      db_->Prepare(SelectKvRows(KvForm::kSplit, after ? "WHERE key > ?1 ORDER BY key LIMIT ?2"
                                                      : "WHERE key >= ?1 ORDER BY key LIMIT ?2")));
  st->Reset().BindBlob(1, after ? start_after : prefix).BindInt64(2, static_cast<int64_t>(limit));
  std::vector<KeyValue> out;
  absl::Status status;
  for (size_t i = 0; i < limit; ++i) {
    auto row = st->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    const absl::string_view key = st->ColumnBlob(0);
    if (key.substr(0, prefix.size()) != prefix) break;  // past the prefix range
    KeyValue kv{std::string(key), std::string(st->ColumnBlob(1)),
                static_cast<uint64_t>(st->ColumnInt64(2))};
    if (static_cast<uint64_t>(st->ColumnInt64(3)) != KvChecksum(kv.key, kv.value, kv.mod_index)) {
      status = absl::DataLossError(absl::StrCat(db_path_, ": checksum mismatch in a value"));
      break;
    }
    out.push_back(std::move(kv));
  }
  st->Reset();
  RETURN_IF_ERROR(status);
  return out;
}

absl::StatusOr<int64_t> Store::WalSizeBytes() const {
  if (!options_.vfs.empty()) {
    return absl::UnimplementedError("WAL size is only known on the real disk");
  }
  struct stat st;
  const std::string wal = db_path_ + "-wal";
  if (stat(wal.c_str(), &st) != 0) return errno == ENOENT ? 0 : -1;
  return static_cast<int64_t>(st.st_size);
}

absl::Status Store::Checkpoint() {
  int log_frames = 0, checkpointed = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_TRUNCATE,
                                           &log_frames, &checkpointed);
  if (rc == SQLITE_BUSY) {
    return absl::UnavailableError(
        absl::StrCat(db_path_, ": checkpoint incomplete, a reader still uses the WAL"));
  }
  if (rc != SQLITE_OK) return db_->Error(rc, "checkpoint");
  return absl::OkStatus();
}

void Store::ReleaseMemory() { sqlite3_db_release_memory(db_->handle()); }

void Store::SkipCheckpointOnClose() {
  sqlite3_db_config(db_->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
}

absl::Status Store::RecordSnapshot(std::shared_ptr<const raft::Snapshot> snap) {
  if (snap->metadata.index <= snapshot_->metadata.index) return absl::OkStatus();
  return Write([&](WriteTxn* txn) -> absl::Status {
    pb::Snapshot p;
    raft::ToProto(*snap, &p);
    RETURN_IF_ERROR(PutMeta(meta_rows::kSnapshot, Serialize(p)));
    txn->snapshot_ = snap;
    return absl::OkStatus();
  });
}

void Store::DeleteOldSnapshotFiles(absl::Span<const std::string> file_names) {
  sqlite3_vfs* vfs = sqlite3_vfs_find(options_.vfs.empty() ? nullptr : options_.vfs.c_str());
  if (vfs == nullptr) return;
  for (const std::string& name : file_names) {
    const std::string path = snapshot_path(name);
    vfs->xDelete(vfs, path.c_str(), 0);
    vfs->xDelete(vfs, (path + "-journal").c_str(), 0);
  }
}

// ---------------------------------------------------------------------------------------
// WriteTxn.

WriteTxn::WriteTxn(Store* store)
    : store_(store),
      hard_state_(store->hard_state_),
      snapshot_(store->snapshot_),
      log_start_(store->log_start_),
      last_index_(store->last_index_),
      applied_index_(store->applied_index_),
      applied_conf_state_(store->applied_conf_state_) {}

absl::Status WriteTxn::AppendEntries(absl::Span<const raft::Entry> entries) {
  size_t skip = 0;
  while (skip < entries.size() && entries[skip].index <= log_start_.index) ++skip;
  entries.remove_prefix(skip);
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = entries[0].index;
  if (first > last_index_ + 1) {
    return absl::InvalidArgumentError(absl::StrCat(store_->db_path_, ": appending entry ", first,
                                                   " would leave a gap after ", last_index_));
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != first + i) {
      return absl::InvalidArgumentError("appended entries are not contiguous");
    }
  }
  SqliteDb* db = store_->db_.get();
  if (first <= last_index_) {
    // A new leader replaced our uncommitted suffix.
    ASSIGN_OR_RETURN(Statement * del, db->Prepare("DELETE FROM raft_log WHERE idx >= ?1"));
    del->Reset().BindInt64(1, first);
    RETURN_IF_ERROR(del->Run());
  }
  ASSIGN_OR_RETURN(Statement * ins, db->Prepare("INSERT INTO raft_log(idx, term, type, data, "
                                                "checksum) VALUES(?1,?2,?3,?4,?5)"));
  for (const raft::Entry& e : entries) {
    const int type = static_cast<int>(e.type);
    ins->Reset()
        .BindInt64(1, e.index)
        .BindInt64(2, e.term)
        .BindInt64(3, type)
        .BindBlob(4, e.data.view())
        .BindInt64(5, EntryChecksum(e.index, e.term, type, e.data.view()));
    RETURN_IF_ERROR(ins->Run());
  }
  last_index_ = entries.back().index;
  return absl::OkStatus();
}

absl::Status WriteTxn::SetHardState(const raft::HardState& hs) {
  pb::HardState p;
  raft::ToProto(hs, &p);
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kHardState, Serialize(p)));
  hard_state_ = hs;
  return absl::OkStatus();
}

absl::Status WriteTxn::SetConfState(const raft::ConfState& cs) {
  pb::ConfState p;
  raft::ToProto(cs, &p);
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kConfState, Serialize(p)));
  conf_state_ = cs;
  return absl::OkStatus();
}

absl::Status WriteTxn::Compact(uint64_t compact_index) {
  if (compact_index <= log_start_.index) return raft::ErrCompacted();
  if (compact_index > last_index_) {
    return absl::OutOfRangeError(
        absl::StrCat("compact index ", compact_index, " is past the last index ", last_index_));
  }
  if (compact_index > applied_index_) {
    return absl::FailedPreconditionError(absl::StrCat("cannot compact unapplied entries (compact ",
                                                      compact_index, ", applied ", applied_index_,
                                                      ")"));
  }
  SqliteDb* db = store_->db_.get();
  ASSIGN_OR_RETURN(Statement * term_of, db->Prepare("SELECT term FROM raft_log WHERE idx = ?1"));
  term_of->Reset().BindInt64(1, compact_index);
  ASSIGN_OR_RETURN(bool row, term_of->Step());
  if (!row) {
    term_of->Reset();
    return absl::DataLossError(
        absl::StrCat(store_->db_path_, ": log entry ", compact_index, " is missing"));
  }
  const uint64_t term = static_cast<uint64_t>(term_of->ColumnInt64(0));
  term_of->Reset();
  ASSIGN_OR_RETURN(Statement * del, db->Prepare("DELETE FROM raft_log WHERE idx <= ?1"));
  del->Reset().BindInt64(1, compact_index);
  RETURN_IF_ERROR(del->Run());
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kLogStart, Serialize(Position(compact_index, term))));
  log_start_ = LogPosition{compact_index, term};
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> WriteTxn::Get(absl::string_view key) {
  return store_->GetKv(key);
}

absl::Status WriteTxn::Put(absl::string_view key, absl::string_view value, uint64_t index) {
  return store_->PutKv(key, value, index);
}

absl::StatusOr<std::vector<KeyValue>> WriteTxn::Scan(absl::string_view prefix, size_t limit) {
  // The transaction's connection sees its own uncommitted rows.
  return store_->Scan(prefix, limit);
}

absl::StatusOr<bool> WriteTxn::Delete(absl::string_view key) { return store_->DeleteKv(key); }

absl::StatusOr<bool> WriteTxn::UpdateIfExists(absl::string_view key, absl::string_view value,
                                              uint64_t index) {
  ASSIGN_OR_RETURN(auto current, store_->GetKv(key));
  if (!current) return false;
  RETURN_IF_ERROR(store_->PutKv(key, value, index));
  return true;
}

absl::StatusOr<bool> WriteTxn::CompareAndSwap(absl::string_view key,
                                              std::optional<absl::string_view> expected,
                                              absl::string_view value, uint64_t index) {
  ASSIGN_OR_RETURN(auto current, store_->GetKv(key));
  const bool matches = expected.has_value() ? (current && *current == *expected) : !current;
  if (!matches) return false;
  RETURN_IF_ERROR(store_->PutKv(key, value, index));
  return true;
}

absl::Status WriteTxn::SetApplied(uint64_t index, const raft::ConfState& conf_state) {
  if (index < applied_index_) {
    return absl::FailedPreconditionError(
        absl::StrCat("applied index would go back from ", applied_index_, " to ", index));
  }
  pb::SnapshotMetadata p = Position(index, 0);
  raft::ToProto(conf_state, p.mutable_conf_state());
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kApplied, Serialize(p)));
  applied_index_ = index;
  applied_conf_state_ = conf_state;
  return absl::OkStatus();
}

absl::Status WriteTxn::InstallSnapshot(const raft::Snapshot& snapshot) {
  RETURN_IF_ERROR(store_->CopySnapshotInto(snapshot));
  const raft::SnapshotMetadata& meta = snapshot.metadata;
  SqliteDb* db = store_->db_.get();
  RETURN_IF_ERROR(db->Exec("DELETE FROM raft_log"));
  RETURN_IF_ERROR(
      store_->PutMeta(meta_rows::kLogStart, Serialize(Position(meta.index, meta.term))));
  pb::Snapshot p;
  raft::ToProto(snapshot, &p);
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kSnapshot, Serialize(p)));
  log_start_ = LogPosition{meta.index, meta.term};
  last_index_ = meta.index;
  snapshot_ = std::make_shared<const raft::Snapshot>(snapshot);
  // The state machine now reflects exactly the snapshot.
  pb::SnapshotMetadata applied = Position(meta.index, 0);
  raft::ToProto(meta.conf_state, applied.mutable_conf_state());
  RETURN_IF_ERROR(store_->PutMeta(meta_rows::kApplied, Serialize(applied)));
  applied_index_ = meta.index;
  applied_conf_state_ = meta.conf_state;
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Installing (Store's half, inside a write transaction).

absl::Status Store::CopySnapshotInto(const raft::Snapshot& snapshot) {
  ASSIGN_OR_RETURN(raftbadger::storagepb::SnapshotDescriptor descriptor,
                   DecodeDescriptor(snapshot));
  ASSIGN_OR_RETURN(
      std::unique_ptr<SqliteDb> snap,
      OpenCompleteSnapshot(options_.vfs, snapshot_path(descriptor.file_name()), descriptor));
  RETURN_IF_ERROR(DeleteAllKvRows(db_.get()));
  ASSIGN_OR_RETURN(KvForm form, ReadKvForm(snap.get()));
  ASSIGN_OR_RETURN(Statement * rows, snap->Prepare(SelectKvRows(form, "ORDER BY key")));
  rows->Reset();
  uint64_t count = 0;
  uint64_t content_checksum = 0;
  absl::Status status;
  while (count <= descriptor.row_count()) {  // bounded by the descriptor's row count
    auto row = rows->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    const absl::string_view key = rows->ColumnBlob(0);
    const absl::string_view value = rows->ColumnBlob(1);
    const int64_t mod_index = rows->ColumnInt64(2);
    const uint64_t crc = static_cast<uint64_t>(rows->ColumnInt64(3));
    if (crc != KvChecksum(key, value, static_cast<uint64_t>(mod_index))) {
      status = absl::DataLossError(absl::StrCat(snap->path(), ": checksum mismatch in a row"));
      break;
    }
    status = WriteKv(key, value, static_cast<uint64_t>(mod_index), crc);
    if (!status.ok()) break;
    content_checksum = ExtendContentChecksum(content_checksum, crc);
    ++count;
  }
  rows->Reset();
  RETURN_IF_ERROR(status);
  if (count != descriptor.row_count() || content_checksum != descriptor.content_checksum()) {
    return absl::DataLossError(
        absl::StrCat(snap->path(), " does not hold the rows its descriptor describes"));
  }
  return absl::OkStatus();
}

}  // namespace rb::storage
