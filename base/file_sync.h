// Making what is on disk durable: fsync of a file, or of a directory (so that a file
// created, renamed or deleted in it stays so after a power loss). The one place the
// project calls fsync(2) itself; SQLite makes its own files durable.
#ifndef RAFTBADGER_BASE_FILE_SYNC_H_
#define RAFTBADGER_BASE_FILE_SYNC_H_

#include <string>

#include "absl/status/status.h"

namespace rb {

// fsync of the file, or directory, at path. An error names the path and the system's
// reason; the caller must not go on as if the data were durable.
absl::Status FsyncPath(const std::string& path, bool directory = false);

}  // namespace rb

#endif  // RAFTBADGER_BASE_FILE_SYNC_H_
