// raftbadger-cli inspect --data-dir=DIR: what a stopped node's data directory holds, with
// every check the server makes when it opens it, and without changing a byte of it.
//
// The database and its write-ahead log are copied into a temporary directory and opened
// there (page checksums, SQLite's quick_check, every row's checksum), so that not even
// SQLite's WAL recovery writes to DIR. Snapshot files are verified in place, read-only.
#ifndef RAFTBADGER_SERVER_INSPECT_H_
#define RAFTBADGER_SERVER_INSPECT_H_

#include <string>

#include "absl/status/statusor.h"

namespace rb::server {

// A readable report: identity, hard state, log range, latest snapshot, applied index and
// configuration, key count, members. An error (DataLoss for damage) if a check fails.
absl::StatusOr<std::string> InspectDataDir(const std::string& data_dir);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_INSPECT_H_
