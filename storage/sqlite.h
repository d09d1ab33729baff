// A small RAII wrapper over the SQLite C API with absl::Status errors.
//
// SQLite result codes map to Status codes the rest of the project can act on:
//   SQLITE_FULL               -> ResourceExhausted ("disk full")
//   SQLITE_CORRUPT, NOTADB    -> DataLoss
//   SQLITE_IOERR_DATA         -> DataLoss (a page failed its checksum, page_checksum_vfs.h)
//   SQLITE_CANTOPEN           -> NotFound
//   SQLITE_READONLY, PERM     -> PermissionDenied
//   SQLITE_BUSY, LOCKED       -> Unavailable
//   anything else (IOERR...)  -> Internal
// Every message names the database file.
//
// Nothing here sleeps or reads a clock: no busy handler is installed (a second writer gets
// Unavailable at once).
#ifndef RAFTBADGER_STORAGE_SQLITE_H_
#define RAFTBADGER_STORAGE_SQLITE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::storage {

class SqliteDb;

// A prepared statement. Call Reset() before binding a new execution, and bind every
// parameter each time (bindings are kept across resets).
class Statement {
 public:
  Statement(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Rewinds, ending the previous execution (and the read it held).
  Statement& Reset();
  Statement& BindInt64(int index, int64_t value);
  Statement& BindBlob(int index, absl::string_view value);
  Statement& BindText(int index, absl::string_view value);

  // Advances: true if a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs to completion, expecting no rows.
  absl::Status Run();

  int64_t ColumnInt64(int index) const;
  absl::string_view ColumnBlob(int index) const;

 private:
  SqliteDb* db_;
  sqlite3_stmt* stmt_;
};

struct SqliteOpenOptions {
  bool create = true;
  bool read_only = false;
  // VFS registered with sqlite3_vfs_register; empty for the real disk through
  // PageChecksumVfs::Default() (which checks the pages of files that have room for it).
  std::string vfs;
};

class SqliteDb {
 public:
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                        const SqliteOpenOptions& options);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results, parsing them each time.
  absl::Status Exec(const std::string& sql);
  // Runs one statement without results, prepared once and cached (Prepare): for those run
  // on every write, which Exec would parse again each time. Not for a PRAGMA that sets
  // something: SQLite applies those when it prepares them, so a cached one does nothing.
  absl::Status Run(absl::string_view sql);
  // A statement prepared once and cached by its text for the connection's lifetime. The
  // lookup hashes the text without copying it (this is on every read's path).
  absl::StatusOr<Statement*> Prepare(absl::string_view sql);
  // Runs `sql` and returns the first column of the first row as an integer.
  absl::StatusOr<int64_t> QueryInt64(const std::string& sql);
  // Runs `sql` and returns the first column of the first row as text (a PRAGMA's verdict,
  // say); nullopt if it returned no row.
  absl::StatusOr<std::optional<std::string>> QueryText(absl::string_view sql);

  // Syncs the main database file through its VFS (so the simulator's disk sees it), for a
  // connection that writes with synchronous=OFF and makes its file durable once at the end.
  absl::Status SyncFile();
  // Syncs the WAL the same way (nothing to do if none is open).
  absl::Status SyncWal();

  // Converts a SQLite result code into a Status naming the file and `what` was attempted.
  absl::Status Error(int rc, absl::string_view what) const;

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  SqliteDb(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  // xSync of the file SQLITE_FCNTL_FILE_POINTER or SQLITE_FCNTL_JOURNAL_POINTER names.
  absl::Status SyncThrough(int file_control, absl::string_view what);

  std::string path_;
  sqlite3* db_;
  // Looked up, never iterated: hash order does not matter.
  absl::flat_hash_map<std::string, std::unique_ptr<Statement>> statements_;
};

// Maps a SQLite result code to a Status with `message`.
absl::Status SqliteStatus(int rc, absl::string_view message);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_SQLITE_H_
