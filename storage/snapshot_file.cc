#include "storage/snapshot_file.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "proto/raft.pb.h"
#include "raft/codec.h"
#include "storage/checksum.h"
#include "storage/kv_rows.h"

namespace rb::storage {

namespace pb = raftbadger::raftpb;
namespace spb = raftbadger::storagepb;

namespace {

// PRAGMA application_id of snapshot databases: "RBsn".
constexpr int kSnapshotApplicationId = 0x5242736e;

// A snapshot built from the store is a copy of its database, which has the kv tables
// already; a received one gets them here, in the same (split) form: kv_rows.h.
constexpr char kSnapshotSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS kv (
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL,
  mod_index INTEGER NOT NULL,
  checksum INTEGER NOT NULL,
  large INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS kv_large (
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS snapshot_meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)
  WITHOUT ROWID;
)sql";

absl::Status PutSnapshotMeta(SqliteDb* db, absl::string_view name, const std::string& value) {
  ASSIGN_OR_RETURN(Statement * st,
                   db->Prepare("INSERT OR REPLACE INTO snapshot_meta(name, value) VALUES(?1,?2)"));
  st->Reset().BindText(1, name).BindBlob(2, value);
  return st->Run();
}

}  // namespace

std::string SnapshotFileName(uint64_t term, uint64_t index) {
  return absl::StrCat("snap-", term, "-", index, ".db");
}

void DeleteSnapshotFile(const std::string& vfs_name, const std::string& path) {
  sqlite3_vfs* vfs = sqlite3_vfs_find(vfs_name.empty() ? nullptr : vfs_name.c_str());
  if (vfs == nullptr) return;
  vfs->xDelete(vfs, path.c_str(), 0);
  vfs->xDelete(vfs, (path + "-journal").c_str(), 0);
}

absl::StatusOr<std::unique_ptr<SqliteDb>> CreateSnapshotDb(const std::string& vfs,
                                                           const std::string& path) {
  DeleteSnapshotFile(vfs, path);
  SqliteOpenOptions options;
  options.vfs = vfs;
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, options));
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=FULL"));
  // One transaction for the whole file; dirty pages spill to disk, memory stays bounded.
  RETURN_IF_ERROR(db->Exec("BEGIN IMMEDIATE"));
  RETURN_IF_ERROR(PrepareSnapshotSchema(db.get()));
  return db;
}

absl::Status PrepareSnapshotSchema(SqliteDb* db) {
  return db->Exec(
      absl::StrCat(kSnapshotSchema, "PRAGMA application_id=", kSnapshotApplicationId, ";"));
}

absl::Status SummarizeRows(SqliteDb* db, spb::SnapshotDescriptor* descriptor) {
  ASSIGN_OR_RETURN(KvForm form, ReadKvForm(db));
  ASSIGN_OR_RETURN(Statement * rows, db->Prepare(SelectKvRows(form, "ORDER BY key")));
  rows->Reset();
  uint64_t count = 0;
  uint64_t content = 0;
  absl::Status status;
  while (true) {  // bounded by the table's rows
    auto row = rows->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    const uint64_t sum = static_cast<uint64_t>(rows->ColumnInt64(3));
    if (sum != KvChecksum(rows->ColumnBlob(0), rows->ColumnBlob(1),
                          static_cast<uint64_t>(rows->ColumnInt64(2)))) {
      status = absl::DataLossError(absl::StrCat(db->path(), ": checksum mismatch in a row"));
      break;
    }
    content = ExtendContentChecksum(content, sum);
    ++count;
  }
  rows->Reset();
  RETURN_IF_ERROR(status);
  descriptor->set_row_count(count);
  descriptor->set_content_checksum(content);
  return absl::OkStatus();
}

absl::Status InsertRow(SqliteDb* db, absl::string_view key, absl::string_view value,
                       uint64_t mod_index, uint64_t crc) {
  // Each key comes once into a new file: none is in kv_large before its own row.
  return WriteKvRow(db, key, value, mod_index, crc, /*kv_large_may_hold_key=*/false);
}

absl::Status CompleteSnapshotDb(SqliteDb* db, const spb::SnapshotDescriptor& descriptor,
                                const raft::ConfState& cs) {
  pb::ConfState p;
  raft::ToProto(cs, &p);
  RETURN_IF_ERROR(PutSnapshotMeta(db, "descriptor", descriptor.SerializeAsString()));
  RETURN_IF_ERROR(PutSnapshotMeta(db, "conf_state", p.SerializeAsString()));
  RETURN_IF_ERROR(PutSnapshotMeta(db, "complete", "1"));
  return db->Exec("COMMIT");
}

absl::StatusOr<std::unique_ptr<SqliteDb>> OpenCompleteSnapshot(
    const std::string& vfs, const std::string& path, const spb::SnapshotDescriptor& descriptor) {
  SqliteOpenOptions options;
  options.vfs = vfs;
  options.create = false;
  options.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, options));
  auto app_id = db->QueryInt64("PRAGMA application_id");
  if (app_id.ok() && *app_id == 0) {
    // Created, but the transaction that writes it never committed: a transfer or build
    // that was interrupted.
    return absl::FailedPreconditionError(absl::StrCat(path, " is an incomplete snapshot"));
  }
  if (!app_id.ok() || *app_id != kSnapshotApplicationId) {
    return absl::DataLossError(absl::StrCat(path, " is not a RaftBadger snapshot"));
  }
  auto complete = db->QueryInt64("SELECT count(*) FROM snapshot_meta WHERE name = 'complete'");
  if (!complete.ok() || *complete != 1) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is an incomplete snapshot"));
  }
  ASSIGN_OR_RETURN(Statement * st,
                   db->Prepare("SELECT value FROM snapshot_meta WHERE name = 'descriptor'"));
  st->Reset();
  ASSIGN_OR_RETURN(bool row, st->Step());
  spb::SnapshotDescriptor stored;
  const bool parsed = row && stored.ParseFromString(std::string(st->ColumnBlob(0)));
  st->Reset();
  if (!parsed || stored.index() != descriptor.index() || stored.term() != descriptor.term() ||
      stored.row_count() != descriptor.row_count() ||
      stored.content_checksum() != descriptor.content_checksum()) {
    return absl::DataLossError(absl::StrCat(path, " does not match its descriptor"));
  }
  return db;
}

absl::StatusOr<spb::SnapshotDescriptor> ReadSnapshotDescriptor(const std::string& path) {
  SqliteOpenOptions options;
  options.create = false;
  options.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, options));
  auto app_id = db->QueryInt64("PRAGMA application_id");
  if (!app_id.ok() || *app_id != kSnapshotApplicationId) {
    return absl::DataLossError(absl::StrCat(path, " is not a RaftBadger snapshot or backup"));
  }
  auto st = db->Prepare("SELECT value FROM snapshot_meta WHERE name = 'descriptor'");
  if (!st.ok()) return absl::DataLossError(absl::StrCat(path, ": ", st.status().message()));
  (*st)->Reset();
  auto row = (*st)->Step();
  spb::SnapshotDescriptor d;
  const bool parsed = row.ok() && *row && d.ParseFromString(std::string((*st)->ColumnBlob(0)));
  (*st)->Reset();
  if (!parsed) return absl::DataLossError(absl::StrCat(path, " has no readable descriptor"));
  return d;
}

absl::Status VerifySnapshotCopy(const std::string& path,
                                const spb::SnapshotDescriptor& descriptor) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, OpenCompleteSnapshot("", path, descriptor));
  ASSIGN_OR_RETURN(std::optional<std::string> check, db->QueryText("PRAGMA integrity_check"));
  const std::string verdict = check.value_or("no answer");
  if (verdict != "ok") {
    return absl::DataLossError(absl::StrCat(path, ": SQLite integrity check: ", verdict));
  }
  spb::SnapshotDescriptor rows;
  RETURN_IF_ERROR(SummarizeRows(db.get(), &rows));
  if (rows.row_count() != descriptor.row_count() ||
      rows.content_checksum() != descriptor.content_checksum()) {
    return absl::DataLossError(absl::StrCat(path, ": holds ", rows.row_count(),
                                            " rows that do not match the ", descriptor.row_count(),
                                            " it should"));
  }
  return absl::OkStatus();
}

absl::StatusOr<spb::SnapshotDescriptor> DecodeDescriptor(const raft::Snapshot& snapshot) {
  spb::SnapshotDescriptor d;
  if (!d.ParseFromString(snapshot.data) || d.file_name().empty() ||
      d.file_name().find('/') != std::string::npos || d.index() != snapshot.metadata.index ||
      d.term() != snapshot.metadata.term) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot at index ", snapshot.metadata.index,
                     " does not carry a valid SQLite snapshot descriptor"));
  }
  return d;
}

}  // namespace rb::storage
