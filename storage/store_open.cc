// Store's first half: creating a database, checking that an existing one is ours and
// whole (schema, page checksums, rows), and loading its state. Reading and writing it is
// store.cc.
#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/file_sync.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "proto/raft.pb.h"
#include "raft/codec.h"
#include "storage/checksum.h"
#include "storage/kv_rows.h"
#include "storage/page_checksum_vfs.h"
#include "storage/snapshot_file.h"
#include "storage/store.h"
#include "storage/store_meta_rows.h"

namespace rb::storage {

namespace {

namespace pb = raftbadger::raftpb;

// Schema version 1's tables, as the first builds created them. Every file starts from
// these, and the upgrades below bring it to kSchemaVersion: so a new file and an upgraded
// one hold the very same CREATE statements (an ALTER TABLE rewrites its table's statement
// in SQLite's own way), which CheckSchema compares.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE raft_log (
  idx INTEGER PRIMARY KEY,
  term INTEGER NOT NULL,
  type INTEGER NOT NULL,
  data BLOB NOT NULL,
  checksum INTEGER NOT NULL);
CREATE TABLE meta (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  checksum INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE kv (
  key BLOB PRIMARY KEY,
  value BLOB NOT NULL,
  mod_index INTEGER NOT NULL,
  checksum INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Version 1 to 2: values longer than kMaxInlineValueBytes in a table of their own
// (kv_rows.h). Existing rows stay as they are (large = 0, value inline) until rewritten,
// so the upgrade changes only the schema, whatever the data's size.
constexpr char kUpgradeToV2[] = R"sql(
ALTER TABLE kv ADD COLUMN large INTEGER NOT NULL DEFAULT 0;
CREATE TABLE kv_large (
  key BLOB NOT NULL UNIQUE,
  value BLOB NOT NULL);
)sql";

// The statements that take a file of schema version `from` (0: an empty file) to
// kSchemaVersion.
std::string SchemaStatementsFrom(int64_t from) {
  std::string sql;
  if (from < 1) sql += kSchemaV1;
  if (from < 2) sql += kUpgradeToV2;
  return sql;
}

// The CREATE statements of db's schema (tables, and any index, trigger or view written
// out) in sorted order, at most max_statements of them.
absl::StatusOr<std::vector<std::string>> ReadSchemaStatements(SqliteDb* db, size_t max_statements) {
  ASSIGN_OR_RETURN(Statement * tables,
                   db->Prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY sql"));
  tables->Reset();
  std::vector<std::string> found;
  absl::Status status;
  while (found.size() < max_statements) {
    auto row = tables->Step();
    if (!row.ok()) {
      status = row.status();
      break;
    }
    if (!*row) break;
    found.emplace_back(tables->ColumnBlob(0));
  }
  tables->Reset();
  RETURN_IF_ERROR(status);
  return found;
}

absl::Status MakeDirs(const std::string& dir) {
  std::error_code created, checked;
  std::filesystem::create_directories(dir, created);
  if (std::filesystem::is_directory(dir, checked)) return absl::OkStatus();
  if (std::filesystem::exists(dir, checked)) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
  }
  return absl::PermissionDeniedError(
      absl::StrCat("cannot create directory ", dir, ": ", created.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("storage: data directory not set");
  if (options.vfs.empty()) {
    RETURN_IF_ERROR(MakeDirs(options.dir));
    RETURN_IF_ERROR(MakeDirs(absl::StrCat(options.dir, "/", kSnapshotDirName)));
  }
  std::string path = absl::StrCat(options.dir, "/", kDatabaseFileName);
  SqliteOpenOptions open_options;
  open_options.vfs = options.vfs;  // empty: the real disk, with page checksums
  if (!open_options.vfs.empty() && !PageChecksumVfs::IsPageChecksumVfs(open_options.vfs)) {
    return absl::InvalidArgumentError(
        absl::StrCat("storage: VFS \"", open_options.vfs,
                     "\" does not check page checksums; wrap it in a PageChecksumVfs"));
  }
  std::error_code error;
  if (options.vfs.empty() && !std::filesystem::exists(path, error)) {
    if (error) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot look for ", path, ": ", error.message()));
    }
    RETURN_IF_ERROR(CreateDatabase(options, path));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path, open_options));
  std::unique_ptr<Store> store(new Store(options, path, std::move(db)));
  RETURN_IF_ERROR(store->Initialize(/*fresh_allowed=*/!options.vfs.empty()));
  return store;
}

absl::Status Store::CreateDatabase(const StoreOptions& options, const std::string& path) {
  // Left over from a creation that was interrupted: never renamed, so never used.
  const std::string building = absl::StrCat(options.dir, "/.creating");
  std::error_code ignored;
  std::filesystem::remove_all(building, ignored);
  RETURN_IF_ERROR(MakeDirs(building));
  const std::string tmp = absl::StrCat(building, "/", kDatabaseFileName);
  {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(tmp, SqliteOpenOptions{}));
    StoreOptions tmp_options = options;
    tmp_options.dir = building;
    std::unique_ptr<Store> store(new Store(tmp_options, tmp, std::move(db)));
    RETURN_IF_ERROR(store->Initialize(/*fresh_allowed=*/true));
    RETURN_IF_ERROR(store->Checkpoint());  // the schema into the database file
  }
  // Closing may leave a WAL header (32 bytes) but no frame: everything is in the file.
  const uintmax_t wal_bytes = std::filesystem::file_size(absl::StrCat(tmp, "-wal"), ignored);
  if (!ignored && wal_bytes > 32) {
    return absl::InternalError(absl::StrCat(tmp, ": the new database's WAL was not emptied"));
  }
  RETURN_IF_ERROR(FsyncPath(tmp));
  std::error_code renamed;
  std::filesystem::rename(tmp, path, renamed);
  if (renamed) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot move the new database to ", path, ": ", renamed.message()));
  }
  RETURN_IF_ERROR(FsyncPath(options.dir, /*directory=*/true));
  std::filesystem::remove_all(building, ignored);
  return absl::OkStatus();
}

absl::Status Store::Initialize(bool fresh_allowed) {
  // The node is the only user of its database. Holding the lock for good (set before the
  // first read) saves two file-lock system calls per read transaction, which doubles point
  // read throughput, keeps the WAL index in memory (no -shm file, which a full disk could
  // not create), and makes a second process opening the same data directory fail here
  // instead of corrupting it.
  RETURN_IF_ERROR(db_->Exec("PRAGMA locking_mode=EXCLUSIVE"));
  // Identity first: a foreign or newer file must be refused before anything writes to it.
  auto not_ours = [this](absl::string_view why) {
    return absl::FailedPreconditionError(
        absl::StrCat(db_path_, " is not a RaftBadger database (", why,
                     "); refusing to start over it. Move it away or point the node at "
                     "another data directory."));
  };
  auto app_id = db_->QueryInt64("PRAGMA application_id");
  if (!app_id.ok()) {
    if (app_id.status().code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(absl::StrCat(
          db_path_, " is not a readable SQLite database: ", app_id.status().message()));
    }
    return app_id.status();
  }
  ASSIGN_OR_RETURN(int64_t version, db_->QueryInt64("PRAGMA user_version"));
  ASSIGN_OR_RETURN(int64_t tables, db_->QueryInt64("SELECT count(*) FROM sqlite_master"));
  bool fresh = false;
  if (*app_id == 0 && version == 0 && tables == 0) {
    if (!fresh_allowed) {
      return absl::DataLossError(absl::StrCat(
          db_path_,
          " holds no RaftBadger data: it was emptied or damaged (a database file is created "
          "whole, with its schema). Refusing to start over it; restore the node from a "
          "backup or from its peers (docs/operations.md)"));
    }
    fresh = true;  // a new file (or a custom VFS's, never initialized)
  } else if (*app_id != kApplicationId) {
    return not_ours(absl::StrCat("application_id ", *app_id));
  } else if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        db_path_, " has schema version ", version, ", newer than this build supports (",
        kSchemaVersion, "); upgrade RaftBadger instead of opening it with an older one"));
  } else if (version < 1) {
    return not_ours(absl::StrCat("schema version ", version));
  }
  RETURN_IF_ERROR(fresh ? ReservePageChecksumBytes() : CheckPageChecksumBytes());

  // WAL + synchronous=FULL: a commit is durable once COMMIT returns (header contract).
  ASSIGN_OR_RETURN(std::optional<std::string> mode, db_->QueryText("PRAGMA journal_mode=WAL"));
  const std::string journal_mode = mode.value_or("");
  if (journal_mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat(db_path_, ": cannot enable WAL mode (got \"", journal_mode, "\")"));
  }
  RETURN_IF_ERROR(db_->Exec(options_.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF"));
  RETURN_IF_ERROR(
      db_->Exec(absl::StrCat("PRAGMA wal_autocheckpoint=", options_.wal_autocheckpoint_pages)));
  RETURN_IF_ERROR(
      db_->Exec(absl::StrCat("PRAGMA journal_size_limit=", options_.journal_size_limit_bytes)));
  // A transaction's dirty pages stay in memory until it commits: never written to the WAL
  // mid-transaction, where SQLite may rewrite them in place before fixing their checksums
  // (so every frame SQLite reads back is a committed one, which the page checksum shim
  // verifies). Transactions here are one Ready's worth.
  RETURN_IF_ERROR(db_->Exec("PRAGMA cache_spill=OFF"));
  // Debian builds SQLite with SECURE_DELETE, which zeroes every page freed: compacting
  // 1,000 log entries of 64 KiB wrote 64 MiB of zeros and stalled the loop for 0.4 s, and
  // overwriting a large value zeroed its old overflow pages. FAST still clears freed
  // content inside pages being written anyway, and leaves whole freed pages alone (as
  // upstream SQLite's default and etcd's bbolt do). Values outlive a delete elsewhere
  // regardless: in the log until it is compacted, and in old WAL frames.
  RETURN_IF_ERROR(db_->Exec("PRAGMA secure_delete=FAST"));
  // A negative cache_size is in KiB.
  RETURN_IF_ERROR(db_->Exec(absl::StrCat("PRAGMA cache_size=-", options_.page_cache_bytes / 1024)));

  if (!fresh) RETURN_IF_ERROR(CheckSchema(version));
  if (fresh) {
    RETURN_IF_ERROR(UpgradeSchema(/*from=*/0));
    // The new database's directory entry must be durable too: a store whose creation
    // might not survive a power loss must not be used (it would start empty).
    if (options_.vfs.empty()) RETURN_IF_ERROR(FsyncPath(options_.dir, /*directory=*/true));
  } else {
    if (options_.verify_on_open) RETURN_IF_ERROR(VerifyStructure());
    if (version < kSchemaVersion) {
      RETURN_IF_ERROR(UpgradeSchema(version));
      RETURN_IF_ERROR(CheckSchema(kSchemaVersion));
      RB_LOG(INFO) << db_path_ << ": upgraded from schema version " << version << " to "
                   << kSchemaVersion;
    }
  }
  RETURN_IF_ERROR(LoadState());
  ASSIGN_OR_RETURN(kv_large_used_, KvLargeHoldsRows(db_.get()));
  if (!fresh && options_.verify_on_open) RETURN_IF_ERROR(VerifyRows());
  // Commits made without an fsync survive a kill -9 in the page cache; make them durable
  // before anything is built on them, so that what a restart sees stays (see Write).
  return SyncWalFile();
}

absl::Status Store::ReservePageChecksumBytes() {
  // Every page of the file must leave room for its checksum (storage/page_checksum_vfs.h).
  // On a file without pages this applies at once; a file whose creation was interrupted
  // after its first page is rebuilt with the room (it holds no data yet).
  ASSIGN_OR_RETURN(int64_t pages, db_->QueryInt64("PRAGMA page_count"));
  int reserve = kPageChecksumBytes;
  const int rc = sqlite3_file_control(db_->handle(), "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  if (rc != SQLITE_OK) return db_->Error(rc, "reserving room for page checksums");
  if (pages > 0) RETURN_IF_ERROR(db_->Exec("VACUUM"));
  return absl::OkStatus();
}

absl::Status Store::CheckPageChecksumBytes() {
  int reserve = -1;  // negative: query only
  const int rc = sqlite3_file_control(db_->handle(), "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  if (rc != SQLITE_OK) return db_->Error(rc, "reading the reserved bytes per page");
  if (reserve != kPageChecksumBytes) {
    // Either damage to the header, or a file from before page checksums. Without them a
    // damaged page could be served as data, so the node does not run on it.
    return absl::DataLossError(absl::StrCat(
        db_path_, " has ", reserve, " reserved bytes per page where its page checksums belong (",
        kPageChecksumBytes,
        "); refusing to start over it. Replace this member with a new one "
        "(it catches up from the leader)."));
  }
  return absl::OkStatus();
}

absl::Status Store::UpgradeSchema(int64_t from) {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status s =
      db_->Exec(absl::StrCat(SchemaStatementsFrom(from), "PRAGMA application_id=", kApplicationId,
                             "; PRAGMA user_version=", kSchemaVersion, ";"));
  if (s.ok()) s = db_->Exec("COMMIT");
  if (!s.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return s;
  }
  return absl::OkStatus();
}

namespace {

// The CREATE statements, sorted, that a file of schema `version` holds: those a scratch
// in-memory database holds after the same statements.
absl::StatusOr<std::vector<std::string>> ExpectedSchemaStatements(int64_t version) {
  SqliteOpenOptions options;
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> scratch, SqliteDb::Open(":memory:", options));
  RETURN_IF_ERROR(scratch->Exec(version == 1 ? std::string(kSchemaV1) : SchemaStatementsFrom(0)));
  return ReadSchemaStatements(scratch.get(), /*max_statements=*/64);
}

}  // namespace

absl::Status Store::CheckSchema(int64_t version) const {
  // SQLite keeps each CREATE statement as written. A damaged byte in it can still parse,
  // into a table with a misspelt column, and every later query would fail with a "no such
  // column" logic error instead of saying what happened.
  ASSIGN_OR_RETURN(std::vector<std::string> expected, ExpectedSchemaStatements(version));
  // One more than expected: an extra table.
  ASSIGN_OR_RETURN(std::vector<std::string> found,
                   ReadSchemaStatements(db_.get(), expected.size() + 1));
  if (found != expected) {
    return absl::DataLossError(absl::StrCat(db_path_,
                                            " is corrupted: its schema is not the one schema "
                                            "version ",
                                            version, " wrote; refusing to start over it"));
  }
  return absl::OkStatus();
}

absl::Status Store::VerifyStructure() const {
  ASSIGN_OR_RETURN(std::optional<std::string> check, db_->QueryText("PRAGMA quick_check"));
  const std::string result = check.value_or("no result");
  if (result != "ok") {
    return absl::DataLossError(absl::StrCat(db_path_, " is corrupted (quick_check: ", result, ")"));
  }
  return absl::OkStatus();
}

absl::Status Store::VerifyRows() const {
  // The log through Entries(), which checks each entry's index, type and checksum; in
  // bounded chunks, so memory stays bounded however long the log.
  constexpr uint64_t kChunkEntries = 1024;
  std::vector<raft::Entry> chunk;
  for (uint64_t lo = log_start_.index + 1; lo <= last_index_; lo += kChunkEntries) {
    chunk.clear();
    const uint64_t hi = std::min(lo + kChunkEntries, last_index_ + 1);
    const absl::Status s = Entries(lo, hi, raft::kNoLimit, &chunk);
    if (s.code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(absl::StrCat(s.message(), "; refusing to start over it"));
    }
    RETURN_IF_ERROR(s);
  }
  // meta and kv are keyed b-trees (WITHOUT ROWID), whose interior keys quick_check does not
  // order-check: a damaged one sends point lookups to the wrong leaf, and a present key
  // reads as absent (a hard state as never written). So every key found by the scan must
  // also be found by a lookup.
  RETURN_IF_ERROR(VerifyKeyedTable("meta", "name", /*text_key=*/true,
                                   "SELECT name, value, 0, checksum FROM meta", [](Statement* st) {
                                     return static_cast<uint64_t>(st->ColumnInt64(3)) ==
                                            MetaChecksum(st->ColumnBlob(0), st->ColumnBlob(1));
                                   }));
  // A large value's row is checked whole, through kv_large's own index of keys: a value
  // that index cannot find fails its checksum.
  RETURN_IF_ERROR(VerifyKeyedTable("kv", "key", /*text_key=*/false,
                                   SelectKvRows(KvForm::kSplit, ""), [](Statement* st) {
                                     return static_cast<uint64_t>(st->ColumnInt64(3)) ==
                                            KvChecksum(st->ColumnBlob(0), st->ColumnBlob(1),
                                                       static_cast<uint64_t>(st->ColumnInt64(2)));
                                   }));
  // And no value is left in kv_large that no key points to (damage, or a bug).
  ASSIGN_OR_RETURN(int64_t orphans, db_->QueryInt64("SELECT (SELECT count(*) FROM kv_large) - "
                                                    "(SELECT count(*) FROM kv WHERE large)"));
  if (orphans != 0) {
    return absl::DataLossError(absl::StrCat(db_path_,
                                            " is corrupted: kv_large holds a different number of "
                                            "values than kv points to; refusing to start over it"));
  }
  return absl::OkStatus();
}

absl::Status Store::VerifyKeyedTable(absl::string_view table, absl::string_view key_column,
                                     bool text_key, absl::string_view scan_sql,
                                     const std::function<bool(Statement*)>& checksum_ok) const {
  ASSIGN_OR_RETURN(Statement * scan, db_->Prepare(scan_sql));
  ASSIGN_OR_RETURN(Statement * lookup, db_->Prepare(absl::StrCat("SELECT 1 FROM ", table, " WHERE ",
                                                                 key_column, " = ?1")));
  absl::Status status;
  scan->Reset();
  for (;;) {  // bounded by the table's rows
    auto row = scan->Step();
    if (!row.ok() || !*row) {
      status = row.status();
      break;
    }
    if (!checksum_ok(scan)) {
      status = absl::DataLossError(absl::StrCat(db_path_, " is corrupted: a row of ", table,
                                                " fails its checksum; refusing to start over it"));
      break;
    }
    if (text_key) {
      lookup->Reset().BindText(1, scan->ColumnBlob(0));
    } else {
      lookup->Reset().BindBlob(1, scan->ColumnBlob(0));
    }
    auto found = lookup->Step();
    lookup->Reset();
    if (!found.ok() || !*found) {
      status = found.ok() ? absl::DataLossError(absl::StrCat(
                                db_path_, " is corrupted: a key of ", table,
                                " cannot be looked up (damaged index); refusing to start over it"))
                          : found.status();
      break;
    }
  }
  scan->Reset();
  return status;
}

absl::Status Store::LoadState() {
  auto parse_error = [this](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(db_path_, ": cannot parse stored ", what));
  };
  ASSIGN_OR_RETURN(auto hs, GetMeta(meta_rows::kHardState));
  if (hs) {
    pb::HardState p;
    if (!p.ParseFromString(*hs)) return parse_error(meta_rows::kHardState);
    hard_state_ = raft::FromProto(p);
  }
  ASSIGN_OR_RETURN(auto cs, GetMeta(meta_rows::kConfState));
  if (cs) {
    pb::ConfState p;
    if (!p.ParseFromString(*cs)) return parse_error(meta_rows::kConfState);
    ASSIGN_OR_RETURN(conf_state_, raft::FromProto(p));
  }
  ASSIGN_OR_RETURN(auto snap, GetMeta(meta_rows::kSnapshot));
  if (snap) {
    pb::Snapshot p;
    if (!p.ParseFromString(*snap)) return parse_error(meta_rows::kSnapshot);
    ASSIGN_OR_RETURN(raft::Snapshot s, raft::FromProto(p));
    snapshot_ = std::make_shared<const raft::Snapshot>(std::move(s));
  }
  ASSIGN_OR_RETURN(auto start, GetMeta(meta_rows::kLogStart));
  if (start) {
    pb::SnapshotMetadata p;
    if (!p.ParseFromString(*start)) return parse_error(meta_rows::kLogStart);
    log_start_ = LogPosition{p.index(), p.term()};
  }
  ASSIGN_OR_RETURN(auto applied, GetMeta(meta_rows::kApplied));
  if (applied) {
    pb::SnapshotMetadata p;
    if (!p.ParseFromString(*applied)) return parse_error(meta_rows::kApplied);
    applied_index_ = p.index();
    ASSIGN_OR_RETURN(applied_conf_state_, raft::FromProto(p.conf_state()));
  }
  // The log must be one contiguous run right after the dummy entry.
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Prepare("SELECT count(*), min(idx), max(idx) FROM raft_log"));
  st->Reset();
  ASSIGN_OR_RETURN(bool row, st->Step());
  (void)row;
  const int64_t count = st->ColumnInt64(0);
  const int64_t min_index = st->ColumnInt64(1);
  const int64_t max_index = st->ColumnInt64(2);
  st->Reset();
  if (count == 0) {
    last_index_ = log_start_.index;
  } else if (static_cast<uint64_t>(min_index) != log_start_.index + 1 ||
             max_index - min_index + 1 != count) {
    return absl::DataLossError(absl::StrCat(db_path_, ": the raft log is not contiguous (", count,
                                            " entries in [", min_index, ", ", max_index,
                                            "] after index ", log_start_.index, ")"));
  } else {
    last_index_ = static_cast<uint64_t>(max_index);
  }
  if (applied_index_ > last_index_ && applied_index_ > snapshot_->metadata.index) {
    return absl::DataLossError(absl::StrCat(db_path_, ": applied index ", applied_index_,
                                            " is beyond the log (last ", last_index_, ")"));
  }
  return absl::OkStatus();
}

}  // namespace rb::storage
