// Restoring a backup (raftbadger-cli restore): prepares an empty data directory from which
// `raftbadger` starts a new one-voter cluster whose state machine is the backup's. Other
// nodes then join it (--join).
//
// The backup is verified first (SQLite's integrity check, every row's checksum, the rows
// against the backup's own descriptor). The data directory gets a store holding the
// backup as its snapshot, with this node as the only voter, and an identity with a new
// cluster id; the identity is written last, so an interrupted restore leaves a directory
// the server refuses (files but no identity) rather than a half-made member.
#ifndef RAFTBADGER_SERVER_RESTORE_H_
#define RAFTBADGER_SERVER_RESTORE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace rb::server {

struct RestoredCluster {
  uint64_t index = 0;  // the backup's applied index (revision)
  uint64_t rows = 0;
  uint64_t cluster_id = 0;
};

// REQUIRES: data_dir is missing or empty; name is a valid node name.
absl::StatusOr<RestoredCluster> RestoreFromBackup(const std::string& backup_path,
                                                  const std::string& data_dir,
                                                  const std::string& name);

// Verifies a backup file on its own (as RestoreFromBackup does first); returns its
// applied index and row count.
absl::StatusOr<RestoredCluster> VerifyBackup(const std::string& backup_path);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_RESTORE_H_
