// Moving a snapshot file from one node's store to another's, in bounded chunks, whatever
// carries the chunks: the server's gRPC stream, or the simulator's direct hand-over. One
// piece of code, so the simulator exercises the production path.
#ifndef RAFTBADGER_NODE_SNAPSHOT_STREAM_H_
#define RAFTBADGER_NODE_SNAPSHOT_STREAM_H_

#include <cstddef>
#include <functional>

#include "absl/status/status.h"
#include "proto/storage.pb.h"
#include "raft/types.h"
#include "storage/store.h"

namespace rb::node {

// Chunks are at most this many bytes of rows (a row larger than that travels alone).
inline constexpr size_t kSnapshotChunkBytes = 256 << 10;

// Reads the snapshot file of `snapshot` from `store` and hands each chunk to send, in
// order, the last one marked. Stops at the first error (of reading or of send).
// REQUIRES: the snapshot is complete in store's snapshot directory.
absl::Status StreamSnapshot(
    const storage::Store& store, const raft::Snapshot& snapshot,
    const std::function<absl::Status(const raftbadger::storagepb::SnapshotChunk&)>& send,
    size_t chunk_bytes = kSnapshotChunkBytes);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_SNAPSHOT_STREAM_H_
