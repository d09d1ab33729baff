// The read side of durable storage, as the core needs it.
//
// The application writes (it persists each Ready); the core only reads through this
// interface. Implementations: MemoryStorage (tests, simulator), storage/ (SQLite).
//
// Error contract (the core depends on these codes):
//   - ErrCompacted(): the index is older than the first available entry (kOutOfRange);
//   - ErrUnavailable(): the index is newer than the last entry (kNotFound);
//   - ErrSnapshotTemporarilyUnavailable(): no snapshot now, ask again later (kUnavailable);
//   - anything else is an I/O failure that the core treats as fatal.
#ifndef RAFTBADGER_RAFT_STORAGE_H_
#define RAFTBADGER_RAFT_STORAGE_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/types.h"

namespace rb::raft {

inline constexpr uint64_t kNoLimit = std::numeric_limits<uint64_t>::max();

absl::Status ErrCompacted();
absl::Status ErrUnavailable();
absl::Status ErrSnapshotTemporarilyUnavailable();
bool IsErrCompacted(const absl::Status& status);
bool IsErrUnavailable(const absl::Status& status);
bool IsErrSnapshotTemporarilyUnavailable(const absl::Status& status);

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  virtual absl::StatusOr<InitialState> GetInitialState() const = 0;
  // Appends entries [lo, hi) to *out, stopping once their total SizeBytes() would exceed
  // max_bytes, but always at least one entry. REQUIRES: FirstIndex() <= lo < hi <=
  // LastIndex() + 1 (else ErrCompacted / ErrUnavailable).
  virtual absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                               std::vector<Entry>* out) const = 0;
  // Term of entry i, for i in [FirstIndex() - 1, LastIndex()]: the entry just before the
  // first one is kept (its term is the snapshot's) so that appends can be matched.
  virtual absl::StatusOr<uint64_t> Term(uint64_t i) const = 0;
  virtual absl::StatusOr<uint64_t> FirstIndex() const = 0;
  virtual absl::StatusOr<uint64_t> LastIndex() const = 0;
  // The most recent snapshot.
  virtual absl::StatusOr<std::shared_ptr<const Snapshot>> GetSnapshot() const = 0;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_STORAGE_H_
