#include "node/snapshot_stream.h"

#include "base/status_macros.h"
#include "storage/snapshot.h"

namespace rb::node {

absl::Status StreamSnapshot(
    const storage::Store& store, const raft::Snapshot& snapshot,
    const std::function<absl::Status(const raftbadger::storagepb::SnapshotChunk&)>& send,
    size_t chunk_bytes) {
  ASSIGN_OR_RETURN(auto reader, storage::SnapshotReader::Open(store, snapshot));
  // Bounded: every chunk carries at least one row and the reader marks the last; a
  // million chunks is far beyond any snapshot we make.
  for (int i = 0; i < 1'000'000; ++i) {
    ASSIGN_OR_RETURN(raftbadger::storagepb::SnapshotChunk chunk, reader->Next(chunk_bytes));
    RETURN_IF_ERROR(send(chunk));
    if (chunk.last()) return absl::OkStatus();
  }
  return absl::InternalError("snapshot has more than a million chunks");
}

}  // namespace rb::node
