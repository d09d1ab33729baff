#include "storage/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/file_sync.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "proto/raft.pb.h"
#include "proto/storage.pb.h"
#include "raft/codec.h"
#include "storage/checksum.h"
#include "storage/page_checksum_vfs.h"
#include "storage/snapshot_file.h"
#include "storage/wal_frames.h"

namespace rb::storage {
namespace {

namespace pb = raftbadger::raftpb;

constexpr char kSchema[] = R"sql(
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

// Meta rows.
constexpr char kHardState[] = "hard_state";
constexpr char kConfState[] = "conf_state";  // bootstrap configuration
constexpr char kSnapshot[] = "snapshot";     // latest snapshot: raftpb.Snapshot, data=descriptor
constexpr char kLogStart[] = "log_start";    // dummy entry: raftpb.SnapshotMetadata{index, term}
constexpr char kApplied[] = "applied";       // raftpb.SnapshotMetadata{index, conf_state}

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
  ASSIGN_OR_RETURN(Statement * mode, db_->Prepare("PRAGMA journal_mode=WAL"));
  mode->Reset();
  ASSIGN_OR_RETURN(bool row, mode->Step());
  const std::string journal_mode = row ? std::string(mode->ColumnBlob(0)) : "";
  mode->Reset();
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

  if (!fresh) RETURN_IF_ERROR(CheckSchema());
  if (fresh) {
    RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    absl::Status s = db_->Exec(absl::StrCat(kSchema, "PRAGMA application_id=", kApplicationId,
                                            "; PRAGMA user_version=", kSchemaVersion, ";"));
    if (s.ok()) s = db_->Exec("COMMIT");
    if (!s.ok()) {
      db_->Exec("ROLLBACK").IgnoreError();
      return s;
    }
    // The new database's directory entry must be durable too: a store whose creation
    // might not survive a power loss must not be used (it would start empty).
    if (options_.vfs.empty()) RETURN_IF_ERROR(FsyncPath(options_.dir, /*directory=*/true));
  } else if (options_.verify_on_open) {
    RETURN_IF_ERROR(VerifyStructure());
  }
  RETURN_IF_ERROR(LoadState());
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

absl::Status Store::CheckSchema() const {
  // SQLite keeps each CREATE statement as written. A damaged byte in it can still parse,
  // into a table with a misspelt column, and every later query would fail with a "no such
  // column" logic error instead of saying what happened.
  std::vector<std::string> expected;
  for (absl::string_view statement : absl::StrSplit(kSchema, ';')) {
    statement = absl::StripAsciiWhitespace(statement);
    if (!statement.empty()) expected.emplace_back(statement);
  }
  std::sort(expected.begin(), expected.end());
  ASSIGN_OR_RETURN(Statement * tables,
                   db_->Prepare("SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY sql"));
  tables->Reset();
  std::vector<std::string> found;
  absl::Status status;
  for (size_t i = 0; i <= expected.size(); ++i) {  // one more than expected: extra tables
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
  if (found != expected) {
    return absl::DataLossError(
        absl::StrCat(db_path_, " is corrupted: its schema is not the one schema version ",
                     kSchemaVersion, " wrote; refusing to start over it"));
  }
  return absl::OkStatus();
}

absl::Status Store::VerifyStructure() const {
  ASSIGN_OR_RETURN(Statement * check, db_->Prepare("PRAGMA quick_check"));
  check->Reset();
  ASSIGN_OR_RETURN(bool has_row, check->Step());
  const std::string result = has_row ? std::string(check->ColumnBlob(0)) : "no result";
  check->Reset();
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
  RETURN_IF_ERROR(
      VerifyKeyedTable("meta", "name", /*text_key=*/true, "value, 0", [](Statement* st) {
        return static_cast<uint64_t>(st->ColumnInt64(3)) ==
               MetaChecksum(st->ColumnBlob(0), st->ColumnBlob(1));
      }));
  return VerifyKeyedTable("kv", "key", /*text_key=*/false, "value, mod_index", [](Statement* st) {
    return static_cast<uint64_t>(st->ColumnInt64(3)) ==
           KvChecksum(st->ColumnBlob(0), st->ColumnBlob(1),
                      static_cast<uint64_t>(st->ColumnInt64(2)));
  });
}

absl::Status Store::VerifyKeyedTable(absl::string_view table, absl::string_view key_column,
                                     bool text_key, absl::string_view value_columns,
                                     const std::function<bool(Statement*)>& checksum_ok) const {
  ASSIGN_OR_RETURN(Statement * scan,
                   db_->Prepare(absl::StrCat("SELECT ", key_column, ", ", value_columns,
                                             ", checksum FROM ", table)));
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

absl::Status Store::LoadState() {
  auto parse_error = [this](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(db_path_, ": cannot parse stored ", what));
  };
  ASSIGN_OR_RETURN(auto hs, GetMeta(kHardState));
  if (hs) {
    pb::HardState p;
    if (!p.ParseFromString(*hs)) return parse_error(kHardState);
    hard_state_ = raft::FromProto(p);
  }
  ASSIGN_OR_RETURN(auto cs, GetMeta(kConfState));
  if (cs) {
    pb::ConfState p;
    if (!p.ParseFromString(*cs)) return parse_error(kConfState);
    ASSIGN_OR_RETURN(conf_state_, raft::FromProto(p));
  }
  ASSIGN_OR_RETURN(auto snap, GetMeta(kSnapshot));
  if (snap) {
    pb::Snapshot p;
    if (!p.ParseFromString(*snap)) return parse_error(kSnapshot);
    ASSIGN_OR_RETURN(raft::Snapshot s, raft::FromProto(p));
    snapshot_ = std::make_shared<const raft::Snapshot>(std::move(s));
  }
  ASSIGN_OR_RETURN(auto start, GetMeta(kLogStart));
  if (start) {
    pb::SnapshotMetadata p;
    if (!p.ParseFromString(*start)) return parse_error(kLogStart);
    log_start_ = LogPosition{p.index(), p.term()};
  }
  ASSIGN_OR_RETURN(auto applied, GetMeta(kApplied));
  if (applied) {
    pb::SnapshotMetadata p;
    if (!p.ParseFromString(*applied)) return parse_error(kApplied);
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
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  const int64_t changes_before = sqlite3_total_changes64(db_->handle());
  WriteTxn txn(this);
  absl::Status s = fn(&txn);
  // An empty transaction leaves the WAL alone: nothing to sync afterwards.
  const bool wrote = sqlite3_total_changes64(db_->handle()) != changes_before;
  if (s.ok()) s = db_->Exec("COMMIT");
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
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Prepare("SELECT value, mod_index, checksum FROM kv WHERE key = ?1"));
  st->Reset().BindBlob(1, key);
  ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) {
    st->Reset();
    return std::optional<std::string>();
  }
  std::string value(st->ColumnBlob(0));
  const uint64_t mod_index = static_cast<uint64_t>(st->ColumnInt64(1));
  const uint64_t crc = static_cast<uint64_t>(st->ColumnInt64(2));
  st->Reset();
  if (crc != KvChecksum(key, value, mod_index)) {
    return absl::DataLossError(absl::StrCat(db_path_, ": checksum mismatch in a value"));
  }
  return std::optional<std::string>(std::move(value));
}

absl::Status Store::PutKv(absl::string_view key, absl::string_view value, uint64_t index) {
  ASSIGN_OR_RETURN(Statement * st, db_->Prepare("INSERT OR REPLACE INTO kv(key, value, "
                                                "mod_index, checksum) VALUES(?1,?2,?3,?4)"));
  st->Reset().BindBlob(1, key).BindBlob(2, value).BindInt64(3, index).BindInt64(
      4, KvChecksum(key, value, index));
  return st->Run();
}

absl::StatusOr<bool> Store::DeleteKv(absl::string_view key) {
  ASSIGN_OR_RETURN(Statement * st, db_->Prepare("DELETE FROM kv WHERE key = ?1"));
  st->Reset().BindBlob(1, key);
  RETURN_IF_ERROR(st->Run());
  return sqlite3_changes(db_->handle()) > 0;
}

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
  ASSIGN_OR_RETURN(Statement * st,
                   db_->Prepare(after ? "SELECT key, value, mod_index, checksum FROM kv "
                                        "WHERE key > ?1 ORDER BY key LIMIT ?2"
                                      : "SELECT key, value, mod_index, checksum FROM kv "
                                        "WHERE key >= ?1 ORDER BY key LIMIT ?2"));
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
    RETURN_IF_ERROR(PutMeta(kSnapshot, Serialize(p)));
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
  RETURN_IF_ERROR(store_->PutMeta(kHardState, Serialize(p)));
  hard_state_ = hs;
  return absl::OkStatus();
}

absl::Status WriteTxn::SetConfState(const raft::ConfState& cs) {
  pb::ConfState p;
  raft::ToProto(cs, &p);
  RETURN_IF_ERROR(store_->PutMeta(kConfState, Serialize(p)));
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
  RETURN_IF_ERROR(store_->PutMeta(kLogStart, Serialize(Position(compact_index, term))));
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
  RETURN_IF_ERROR(store_->PutMeta(kApplied, Serialize(p)));
  applied_index_ = index;
  applied_conf_state_ = conf_state;
  return absl::OkStatus();
}

absl::Status WriteTxn::InstallSnapshot(const raft::Snapshot& snapshot) {
  RETURN_IF_ERROR(store_->CopySnapshotInto(snapshot));
  const raft::SnapshotMetadata& meta = snapshot.metadata;
  SqliteDb* db = store_->db_.get();
  RETURN_IF_ERROR(db->Exec("DELETE FROM raft_log"));
  RETURN_IF_ERROR(store_->PutMeta(kLogStart, Serialize(Position(meta.index, meta.term))));
  pb::Snapshot p;
  raft::ToProto(snapshot, &p);
  RETURN_IF_ERROR(store_->PutMeta(kSnapshot, Serialize(p)));
  log_start_ = LogPosition{meta.index, meta.term};
  last_index_ = meta.index;
  snapshot_ = std::make_shared<const raft::Snapshot>(snapshot);
  // The state machine now reflects exactly the snapshot.
  pb::SnapshotMetadata applied = Position(meta.index, 0);
  raft::ToProto(meta.conf_state, applied.mutable_conf_state());
  RETURN_IF_ERROR(store_->PutMeta(kApplied, Serialize(applied)));
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
  RETURN_IF_ERROR(db_->Exec("DELETE FROM kv"));
  ASSIGN_OR_RETURN(Statement * rows,
                   snap->Prepare("SELECT key, value, mod_index, checksum FROM kv ORDER BY key"));
  ASSIGN_OR_RETURN(Statement * ins, db_->Prepare("INSERT INTO kv(key, value, mod_index, checksum) "
                                                 "VALUES(?1,?2,?3,?4)"));
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
    ins->Reset().BindBlob(1, key).BindBlob(2, value).BindInt64(3, mod_index).BindInt64(4, crc);
    status = ins->Run();
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
