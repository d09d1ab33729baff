// The on-disk format of a snapshot database (see snapshot.h for the whole story): its
// schema, creation, completion marker and verification. Shared by the Store (which
// installs snapshots) and the snapshot builder, reader and receiver.
#ifndef RAFTBADGER_STORAGE_SNAPSHOT_FILE_H_
#define RAFTBADGER_STORAGE_SNAPSHOT_FILE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/storage.pb.h"
#include "raft/types.h"
#include "storage/sqlite.h"

namespace rb::storage {

// "snap-<term>-<index>.db"
std::string SnapshotFileName(uint64_t term, uint64_t index);
// Deletes a snapshot file (and its rollback journal) through the VFS; missing is fine.
void DeleteSnapshotFile(const std::string& vfs, const std::string& path);
// Creates a fresh snapshot database at path, replacing an incomplete leftover, and opens a
// transaction on it that CompleteSnapshotDb() commits.
absl::StatusOr<std::unique_ptr<SqliteDb>> CreateSnapshotDb(const std::string& vfs,
                                                           const std::string& path);
// Creates the snapshot tables (if missing) and sets the snapshot application id.
absl::Status PrepareSnapshotSchema(SqliteDb* db);
// Verifies every row's checksum and sets the descriptor's row count and content checksum.
absl::Status SummarizeRows(SqliteDb* db, raftbadger::storagepb::SnapshotDescriptor* descriptor);
absl::Status InsertRow(SqliteDb* db, absl::string_view key, absl::string_view value,
                       uint64_t mod_index, uint64_t crc);
// Writes the descriptor, configuration and completion marker, and commits.
absl::Status CompleteSnapshotDb(SqliteDb* db,
                                const raftbadger::storagepb::SnapshotDescriptor& descriptor,
                                const raft::ConfState& cs);
// Opens a complete snapshot database read-only and checks it is the one described.
absl::StatusOr<std::unique_ptr<SqliteDb>> OpenCompleteSnapshot(
    const std::string& vfs, const std::string& path,
    const raftbadger::storagepb::SnapshotDescriptor& descriptor);
// The descriptor a complete snapshot database records about itself (a backup's own
// description), read-only.
absl::StatusOr<raftbadger::storagepb::SnapshotDescriptor> ReadSnapshotDescriptor(
    const std::string& path);
// Verifies a snapshot database copied out of a store (a backup), read-only: it is
// complete and the one the descriptor describes, SQLite's integrity check passes, every
// row's checksum holds, and the rows' count and content checksum match the descriptor.
absl::Status VerifySnapshotCopy(const std::string& path,
                                const raftbadger::storagepb::SnapshotDescriptor& descriptor);
// Decodes Snapshot.data into the descriptor, checking it agrees with the metadata.
absl::StatusOr<raftbadger::storagepb::SnapshotDescriptor> DecodeDescriptor(
    const raft::Snapshot& snapshot);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_SNAPSHOT_FILE_H_
