#include "storage/sqlite.h"

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "storage/page_checksum_vfs.h"

namespace rb::storage {

absl::Status SqliteStatus(int rc, absl::string_view message) {
  // A page that failed its checksum on every read (storage/page_checksum_vfs.h).
  if (rc == SQLITE_IOERR_DATA) {
    return absl::DataLossError(absl::StrCat(message, " [a page failed its checksum]"));
  }
  switch (rc & 0xff) {  // primary code; extended codes refine it
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
      return absl::OkStatus();
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
      return absl::NotFoundError(message);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      return absl::PermissionDeniedError(message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Reset() {
  // Bindings are not cleared: every execution binds all of its parameters again.
  sqlite3_reset(stmt_);
  return *this;
}

Statement& Statement::BindInt64(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::BindBlob(int index, absl::string_view value) {
  // SQLITE_STATIC: callers keep the bytes alive until the statement is stepped.
  sqlite3_bind_blob(stmt_, index, value.empty() ? "" : value.data(), static_cast<int>(value.size()),
                    SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindText(int index, absl::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}

absl::StatusOr<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  absl::Status s = db_->Error(rc, absl::StrCat("executing \"", sqlite3_sql(stmt_), "\""));
  sqlite3_reset(stmt_);
  return s;
}

absl::Status Statement::Run() {
  // Bounded: a statement expected to return no rows returns at most a handful.
  for (int i = 0; i < 1000000; ++i) {
    auto row = Step();
    if (!row.ok()) return row.status();
    if (!*row) return absl::OkStatus();
  }
  return absl::InternalError("statement did not finish");
}

int64_t Statement::ColumnInt64(int index) const { return sqlite3_column_int64(stmt_, index); }

absl::string_view Statement::ColumnBlob(int index) const {
  const void* data = sqlite3_column_blob(stmt_, index);
  const int size = sqlite3_column_bytes(stmt_, index);
  if (data == nullptr) return absl::string_view();
  return absl::string_view(static_cast<const char*>(data), size);
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path,
                                                         const SqliteOpenOptions& options) {
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (options.create && !options.read_only) flags |= SQLITE_OPEN_CREATE;
  // One connection per thread of use; SQLite's own mutexes are not needed.
  flags |= SQLITE_OPEN_NOMUTEX;
  std::string vfs = options.vfs;
  if (vfs.empty()) {
    ASSIGN_OR_RETURN(PageChecksumVfs * checked, PageChecksumVfs::Default());
    vfs = checked->name();
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string message = absl::StrCat("cannot open database ", path, ": ",
                                       db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return SqliteStatus(rc, message);
  }
  sqlite3_extended_result_codes(db, 1);
  return std::unique_ptr<SqliteDb>(new SqliteDb(path, db));
}

SqliteDb::~SqliteDb() {
  statements_.clear();  // finalize before closing
  const int rc = sqlite3_close_v2(db_);
  if (rc != SQLITE_OK) RB_LOG(ERROR) << "closing " << path_ << ": " << sqlite3_errstr(rc);
}

absl::Status SqliteDb::Error(int rc, absl::string_view what) const {
  return SqliteStatus(rc, absl::StrCat(path_, ": ", what, ": ", sqlite3_errmsg(db_), " (",
                                       sqlite3_errstr(rc), ")"));
}

absl::Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return absl::OkStatus();
  std::string message =
      absl::StrCat(path_, ": executing \"", sql, "\": ", err != nullptr ? err : sqlite3_errstr(rc));
  sqlite3_free(err);
  return SqliteStatus(rc, message);
}

absl::Status SqliteDb::Run(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement * st, Prepare(sql));
  return st->Reset().Run();
}

absl::StatusOr<Statement*> SqliteDb::Prepare(absl::string_view sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return it->second.get();
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("preparing \"", sql, "\""));
  auto owned = std::make_unique<Statement>(this, stmt);
  Statement* raw = owned.get();
  statements_.emplace(std::string(sql), std::move(owned));
  return raw;
}

absl::Status SqliteDb::SyncThrough(int file_control, absl::string_view what) {
  sqlite3_file* file = nullptr;
  const int rc = sqlite3_file_control(db_, "main", file_control, &file);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("finding the ", what, " to sync"));
  if (file == nullptr || file->pMethods == nullptr) return absl::OkStatus();  // not open
  const int synced = file->pMethods->xSync(file, SQLITE_SYNC_FULL);
  if (synced != SQLITE_OK) return Error(synced, absl::StrCat("syncing the ", what));
  return absl::OkStatus();
}

absl::Status SqliteDb::SyncFile() {
  return SyncThrough(SQLITE_FCNTL_FILE_POINTER, "database file");
}

absl::Status SqliteDb::SyncWal() { return SyncThrough(SQLITE_FCNTL_JOURNAL_POINTER, "WAL"); }

absl::StatusOr<int64_t> SqliteDb::QueryInt64(const std::string& sql) {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  (*stmt)->Reset();
  auto row = (*stmt)->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat(path_, ": no result for \"", sql, "\""));
  const int64_t value = (*stmt)->ColumnInt64(0);
  (*stmt)->Reset();
  return value;
}

absl::StatusOr<std::optional<std::string>> SqliteDb::QueryText(absl::string_view sql) {
  ASSIGN_OR_RETURN(Statement * stmt, Prepare(sql));
  stmt->Reset();
  ASSIGN_OR_RETURN(bool row, stmt->Step());
  std::optional<std::string> value;
  if (row) value = std::string(stmt->ColumnBlob(0));
  stmt->Reset();
  return value;
}

}  // namespace rb::storage
