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

void LimitSize(uint64_t max_bytes, std::vector<Entry>* entries) {
  if (entries->empty()) return;
  uint64_t size = (*entries)[0].SizeBytes();
  size_t keep = 1;
  while (keep < entries->size()) {
    size += (*entries)[keep].SizeBytes();
    if (size > max_bytes) break;
    ++keep;
  }
  entries->resize(keep);
}

}  // namespace rb::raft
