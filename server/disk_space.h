// Free space on the file system that holds a directory, and what it means for writes.
//
// A node refuses new client writes while its data directory's file system has less than
// a reserve left (MIN_FREE_BYTES): the reserve keeps room for what Raft itself must still
// write (terms, votes, other leaders' entries, a snapshot's compaction), so that the node
// keeps serving reads and stays a healthy member instead of running into ENOSPC. Should
// the disk fill anyway, the node stalls and retries (node::Node::disk_full()).
#ifndef RAFTBADGER_SERVER_DISK_SPACE_H_
#define RAFTBADGER_SERVER_DISK_SPACE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rb::server {

// Bytes an unprivileged process may still write on the file system holding `dir`
// (statvfs: f_bavail * f_frsize).
absl::StatusOr<uint64_t> FreeBytes(const std::string& dir);

// OK if free_bytes >= min_free_bytes; else ResourceExhausted saying how much is free and
// how much is kept.
absl::Status CheckFreeSpace(uint64_t free_bytes, uint64_t min_free_bytes);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_DISK_SPACE_H_
