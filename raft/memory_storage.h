// An in-memory Storage: the log, hard state and latest snapshot kept in RAM.
//
// Used by tests and the simulator as the model of the storage contract. It does not
// survive a crash; the simulator's disk model decides what a restart sees.
#ifndef RAFTBADGER_RAFT_MEMORY_STORAGE_H_
#define RAFTBADGER_RAFT_MEMORY_STORAGE_H_

#include <memory>
#include <vector>

#include "raft/storage.h"

namespace rb::raft {

class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  absl::StatusOr<InitialState> GetInitialState() const override;
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<Entry>* out) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  // Inline: the core asks for these several times per message.
  absl::StatusOr<uint64_t> FirstIndex() const override { return first_index(); }
  absl::StatusOr<uint64_t> LastIndex() const override { return last_index(); }
  absl::StatusOr<std::shared_ptr<const Snapshot>> GetSnapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }
  // The configuration reported by GetInitialState when there is no snapshot (bootstrap).
  void SetConfState(const ConfState& cs) { conf_state_ = cs; }

  // Replaces everything with the snapshot. Fails with ErrSnapshotOutOfDate-like
  // FailedPrecondition if it is older than the current one.
  absl::Status ApplySnapshot(std::shared_ptr<const Snapshot> snapshot);
  // Records a snapshot at applied index i (which must be in the log) with the given data.
  absl::StatusOr<std::shared_ptr<const Snapshot>> CreateSnapshot(uint64_t i, const ConfState& cs,
                                                                 std::string data);
  // Discards entries before compact_index. REQUIRES: compact_index <= LastIndex().
  absl::Status Compact(uint64_t compact_index);
  // Appends entries, truncating any existing suffix they conflict with. Entries already
  // compacted away are skipped. REQUIRES: no gap after LastIndex().
  absl::Status Append(const std::vector<Entry>& entries);

 private:
  uint64_t first_index() const { return ents_[0].index + 1; }
  uint64_t last_index() const { return ents_[0].index + ents_.size() - 1; }

  HardState hard_state_;
  ConfState conf_state_;
  std::shared_ptr<const Snapshot> snapshot_;
  // ents_[0] is a dummy holding the index and term of the last compacted entry.
  std::vector<Entry> ents_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_MEMORY_STORAGE_H_
