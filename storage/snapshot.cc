#include "storage/snapshot.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/file_sync.h"
#include "base/status_macros.h"
#include "proto/raft.pb.h"
#include "raft/codec.h"
#include "storage/checksum.h"
#include "storage/kv_rows.h"
#include "storage/page_checksum_vfs.h"
#include "storage/snapshot_file.h"

namespace rb::storage {
namespace {

namespace pb = raftbadger::raftpb;
namespace spb = raftbadger::storagepb;

}  // namespace

// ---------------------------------------------------------------------------------------
// SnapshotBuilder.

absl::StatusOr<std::unique_ptr<SnapshotBuilder>> SnapshotBuilder::Start(Store* store) {
  if (store->applied_index() == 0) {
    return absl::FailedPreconditionError("nothing applied yet: no snapshot to take");
  }
  std::unique_ptr<SnapshotBuilder> b(new SnapshotBuilder());
  b->store_ = store;
  // Named after the applied index at the start; the descriptor carries the final index.
  b->file_name_ = absl::StrCat("snap-", store->applied_index(), ".db");
  const std::string path = store->snapshot_path(b->file_name_);
  DeleteSnapshotFile(store->options().vfs, path);
  SqliteOpenOptions options;
  options.vfs = store->options().vfs;
  ASSIGN_OR_RETURN(b->copy_, SqliteDb::Open(path, options));
  // No journal and no fsync while the copy is built: nothing refers to the file until
  // Finish() has synced it whole, and a crash or failure before then leaves a scratch file
  // that is deleted or rebuilt. A snapshot used to pay some 25 fsyncs here (every statement
  // its own journaled transaction), which under load held the node's loop for 27 ms every
  // 1,000 entries.
  RETURN_IF_ERROR(b->copy_->Exec("PRAGMA synchronous=OFF; PRAGMA journal_mode=OFF"));
  // Finish() drops the copied log: without this, Debian's SECURE_DELETE would write the
  // whole log again as zeros (see Store::Open).
  RETURN_IF_ERROR(b->copy_->Exec("PRAGMA secure_delete=FAST"));
  // The checksum shim seals a file's pages once it has seen its first page declare room for
  // the checksums (page_checksum_vfs.h). The backup may write other pages before page 1
  // (a large copy spills its cache), and those went unsealed and then failed their checks:
  // the first snapshot of a 100,000-entry log could not be read (found by the node
  // benchmark). So the copy gets a first page with that room before anything else.
  int reserve = kPageChecksumBytes;
  const int reserve_rc =
      sqlite3_file_control(b->copy_->handle(), "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  if (reserve_rc != SQLITE_OK) {
    return b->copy_->Error(reserve_rc, "reserving room for page checksums in the snapshot copy");
  }
  RETURN_IF_ERROR(
      b->copy_->Exec("PRAGMA user_version = 0; CREATE TABLE seal(x); DROP TABLE seal;"));
  // The copy is in WAL mode (the store's header says so) until Finish() switches it to a
  // rollback journal. Held exclusively, it keeps its WAL index in memory: no -shm file,
  // which a full disk could not create and a VFS without shared memory (the simulator's)
  // does not offer. Nothing else opens the file before Finish().
  RETURN_IF_ERROR(b->copy_->Exec("PRAGMA locking_mode=EXCLUSIVE"));
  b->backup_ = sqlite3_backup_init(b->copy_->handle(), "main", store->db_handle(), "main");
  if (b->backup_ == nullptr) {
    return b->copy_->Error(sqlite3_errcode(b->copy_->handle()), "starting the snapshot copy");
  }
  return b;
}

SnapshotBuilder::~SnapshotBuilder() {
  if (backup_ != nullptr) sqlite3_backup_finish(backup_);
}

absl::StatusOr<bool> SnapshotBuilder::Step(int max_pages) {
  if (done_) return true;
  const int rc = sqlite3_backup_step(backup_, max_pages);
  if (rc == SQLITE_DONE) {
    done_ = true;
    return true;
  }
  if (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return false;
  return copy_->Error(rc, "copying the database for a snapshot");
}

absl::StatusOr<std::shared_ptr<const raft::Snapshot>> SnapshotBuilder::Finish() {
  if (!done_) return absl::FailedPreconditionError("snapshot is not fully copied yet");
  const int rc = sqlite3_backup_finish(backup_);
  backup_ = nullptr;
  if (rc != SQLITE_OK) return copy_->Error(rc, "finishing the snapshot copy");
  SqliteDb* db = copy_.get();
  // The copy is the whole store; what it captures is its own applied index.
  ASSIGN_OR_RETURN(Statement * applied,
                   db->Prepare("SELECT value FROM meta WHERE name = 'applied'"));
  applied->Reset();
  ASSIGN_OR_RETURN(bool row, applied->Step());
  pb::SnapshotMetadata meta;
  const bool parsed = row && meta.ParseFromString(std::string(applied->ColumnBlob(0)));
  applied->Reset();
  if (!parsed || meta.index() == 0) {
    return absl::DataLossError(absl::StrCat(db->path(), ": snapshot copy has no applied index"));
  }
  ASSIGN_OR_RETURN(raft::ConfState conf_state, raft::FromProto(meta.conf_state()));
  // The term of the applied entry: from the log, or from the dummy entry if compacted.
  uint64_t term = 0;
  ASSIGN_OR_RETURN(Statement * term_of, db->Prepare("SELECT term FROM raft_log WHERE idx = ?1"));
  term_of->Reset().BindInt64(1, meta.index());
  ASSIGN_OR_RETURN(row, term_of->Step());
  if (row) term = static_cast<uint64_t>(term_of->ColumnInt64(0));
  term_of->Reset();
  if (term == 0) {
    ASSIGN_OR_RETURN(Statement * start,
                     db->Prepare("SELECT value FROM meta WHERE name = 'log_start'"));
    start->Reset();
    ASSIGN_OR_RETURN(row, start->Step());
    pb::SnapshotMetadata log_start;
    if (row && log_start.ParseFromString(std::string(start->ColumnBlob(0))) &&
        log_start.index() == meta.index()) {
      term = log_start.term();
    }
    start->Reset();
  }
  if (term == 0) {
    return absl::DataLossError(
        absl::StrCat(db->path(), ": term of applied entry ", meta.index(), " is unknown"));
  }
  // Keep only the state machine, in the snapshot file format, and count what it holds.
  // No journal either: a failure part way leaves a scratch file that nothing refers to.
  RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=OFF"));
  RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  RETURN_IF_ERROR(db->Exec("DROP TABLE raft_log; DROP TABLE meta;"));
  RETURN_IF_ERROR(PrepareSnapshotSchema(db));
  spb::SnapshotDescriptor descriptor;
  descriptor.set_file_name(file_name_);
  descriptor.set_index(meta.index());
  descriptor.set_term(term);
  RETURN_IF_ERROR(SummarizeRows(db, &descriptor));
  RETURN_IF_ERROR(CompleteSnapshotDb(db, descriptor, conf_state));
  // Durable before the store refers to it: the file's contents, then its name.
  RETURN_IF_ERROR(db->SyncFile());
  copy_.reset();
  if (store_->options().vfs.empty()) {
    RETURN_IF_ERROR(FsyncPath(store_->snapshot_path(""), /*directory=*/true));
  }

  auto snap = std::make_shared<raft::Snapshot>();
  snap->data = descriptor.SerializeAsString();
  snap->metadata.index = descriptor.index();
  snap->metadata.term = descriptor.term();
  snap->metadata.conf_state = conf_state;
  // Remember the previous snapshot's file so it can go once the new one is recorded.
  ASSIGN_OR_RETURN(std::shared_ptr<const raft::Snapshot> previous, store_->GetSnapshot());
  RETURN_IF_ERROR(store_->RecordSnapshot(snap));
  if (!previous->IsEmpty() && previous->metadata.index < snap->metadata.index) {
    auto old = DecodeDescriptor(*previous);
    if (old.ok() && old->file_name() != file_name_) {
      store_->DeleteOldSnapshotFiles({old->file_name()});
    }
  }
  return std::shared_ptr<const raft::Snapshot>(snap);
}

// ---------------------------------------------------------------------------------------
// SnapshotReader.

absl::StatusOr<std::unique_ptr<SnapshotReader>> SnapshotReader::Open(
    const Store& store, const raft::Snapshot& snapshot) {
  ASSIGN_OR_RETURN(spb::SnapshotDescriptor descriptor, DecodeDescriptor(snapshot));
  std::unique_ptr<SnapshotReader> r(new SnapshotReader());
  ASSIGN_OR_RETURN(
      r->db_, OpenCompleteSnapshot(store.options().vfs, store.snapshot_path(descriptor.file_name()),
                                   descriptor));
  ASSIGN_OR_RETURN(r->form_, ReadKvForm(r->db_.get()));
  return r;
}

absl::StatusOr<spb::SnapshotChunk> SnapshotReader::Next(size_t max_bytes) {
  spb::SnapshotChunk chunk;
  if (done_) {
    chunk.set_last(true);
    return chunk;
  }
  ASSIGN_OR_RETURN(Statement * rows,
                   db_->Prepare(SelectKvRows(form_, started_ ? "WHERE key > ?1 ORDER BY key"
                                                             : "WHERE key >= ?1 ORDER BY key")));
  rows->Reset().BindBlob(1, last_key_);
  size_t bytes = 0;
  absl::Status status;
  bool exhausted = false;
  while (true) {  // bounded by max_bytes (at least one row) and by the table
    if (bytes >= max_bytes && chunk.rows_size() > 0) break;
    auto row = rows->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) {
      exhausted = true;
      break;
    }
    const absl::string_view key = rows->ColumnBlob(0);
    const absl::string_view value = rows->ColumnBlob(1);
    const uint64_t mod_index = static_cast<uint64_t>(rows->ColumnInt64(2));
    if (static_cast<uint64_t>(rows->ColumnInt64(3)) != KvChecksum(key, value, mod_index)) {
      status = absl::DataLossError(absl::StrCat(db_->path(), ": checksum mismatch in a row"));
      break;
    }
    spb::KvRow* out = chunk.add_rows();
    out->set_key(key.data(), key.size());
    out->set_value(value.data(), value.size());
    out->set_mod_index(mod_index);
    bytes += key.size() + value.size() + 16;
    last_key_.assign(key.data(), key.size());
  }
  rows->Reset();
  RETURN_IF_ERROR(status);
  started_ = true;
  done_ = exhausted;
  chunk.set_last(exhausted);
  return chunk;
}

// ---------------------------------------------------------------------------------------
// SnapshotReceiver.

absl::StatusOr<std::unique_ptr<SnapshotReceiver>> SnapshotReceiver::Begin(
    const Store& store, const raft::Snapshot& snapshot) {
  std::unique_ptr<SnapshotReceiver> r(new SnapshotReceiver());
  ASSIGN_OR_RETURN(r->descriptor_, DecodeDescriptor(snapshot));
  r->conf_state_ = snapshot.metadata.conf_state;
  ASSIGN_OR_RETURN(r->db_, CreateSnapshotDb(store.options().vfs,
                                            store.snapshot_path(r->descriptor_.file_name())));
  return r;
}

SnapshotReceiver::~SnapshotReceiver() {
  if (db_ != nullptr && !finished_) db_->Exec("ROLLBACK").IgnoreError();
}

absl::Status SnapshotReceiver::Add(const spb::SnapshotChunk& chunk) {
  if (finished_) return absl::FailedPreconditionError("snapshot already finished");
  for (const spb::KvRow& row : chunk.rows()) {
    if (rows_ > 0 && row.key() <= last_key_) {
      return absl::InvalidArgumentError("snapshot rows are out of order");
    }
    if (rows_ >= descriptor_.row_count()) {
      return absl::InvalidArgumentError("snapshot has more rows than its descriptor says");
    }
    const uint64_t crc = KvChecksum(row.key(), row.value(), row.mod_index());
    RETURN_IF_ERROR(InsertRow(db_.get(), row.key(), row.value(), row.mod_index(), crc));
    content_checksum_ = ExtendContentChecksum(content_checksum_, crc);
    last_key_ = row.key();
    ++rows_;
  }
  return absl::OkStatus();
}

absl::Status SnapshotReceiver::Finish() {
  if (rows_ != descriptor_.row_count() || content_checksum_ != descriptor_.content_checksum()) {
    return absl::DataLossError(absl::StrCat("received snapshot ", descriptor_.file_name(),
                                            " does not match its descriptor (", rows_,
                                            " rows, expected ", descriptor_.row_count(), ")"));
  }
  RETURN_IF_ERROR(CompleteSnapshotDb(db_.get(), descriptor_, conf_state_));
  finished_ = true;
  db_.reset();
  return absl::OkStatus();
}

}  // namespace rb::storage
