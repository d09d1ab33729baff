#include "raft/storage.h"

namespace rb::raft {

// The messages are fixed so that tests and logs can rely on them; the codes carry meaning.
absl::Status ErrCompacted() {
  return absl::OutOfRangeError("requested index is unavailable due to compaction");
}
absl::Status ErrUnavailable() { return absl::NotFoundError("requested entry is unavailable"); }
absl::Status ErrSnapshotTemporarilyUnavailable() {
  return absl::UnavailableError("snapshot is temporarily unavailable");
}
bool IsErrCompacted(const absl::Status& s) { return s.code() == absl::StatusCode::kOutOfRange; }
bool IsErrUnavailable(const absl::Status& s) { return s.code() == absl::StatusCode::kNotFound; }
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable;
}

}  // namespace rb::raft
