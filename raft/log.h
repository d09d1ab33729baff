// RaftLog: the node's view of its log, stitched from Storage (persisted) and an unstable
// tail (entries and possibly a snapshot the application has not yet persisted).
//
//   storage:  [first ... stable_last]
//   unstable:                        [offset ... last]   (or a pending snapshot)
//   indexes:  applied <= committed <= last
#ifndef RAFTBADGER_RAFT_LOG_H_
#define RAFTBADGER_RAFT_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace rb::raft {

class RaftLog {
 public:
  // Starts from what storage holds: everything in it is treated as persisted, and
  // committed/applied start at the snapshot (first index - 1).
  // max_applying_bytes bounds the committed entries handed out in one Ready.
  RaftLog(const Storage* storage, uint64_t max_applying_bytes);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i. ErrCompacted below FirstIndex()-1, ErrUnavailable above LastIndex().
  absl::StatusOr<uint64_t> Term(uint64_t i) const;
  // Term of entry i, or nullopt if it is compacted or unavailable. Unlike Term() it builds no
  // Status (an error Status allocates), so the append path can probe past the end for free.
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;
  // Term of entry i, or 0 if it is compacted or unavailable.
  uint64_t TermOrZero(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Whether a log ending at (last_index, term) is at least as up to date as this one
  // (Raft paper section 5.4.1).
  bool IsUpToDate(uint64_t last_index, uint64_t term) const;

  // A leader's MsgApp: entries follow (index, log_term). If that matches, appends them
  // (truncating any conflict), commits up to min(committed, last new index) and returns the
  // last new index; otherwise returns nullopt.
  // The entries are moved from.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      absl::Span<Entry> entries);
  // Appends entries after truncating anything from entries[0].index on. Returns LastIndex().
  // The entries are moved from. REQUIRES: entries[0].index > committed.
  uint64_t Append(absl::Span<Entry> entries);
  // First index at which entries conflict with the log (same index, other term) or extend
  // it; 0 if every entry is already present.
  uint64_t FindConflict(absl::Span<const Entry> entries) const;
  // Scanning down from index, the first entry with term <= term: where a leader whose log
  // has `term` at `index` can next probe. Returns (index, term of it).
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Entries [lo, hi) within max_bytes (at least one). ErrCompacted if lo is compacted.
  absl::Status Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes, std::vector<Entry>* out) const;
  // Entries from i to the end within max_bytes.
  absl::Status EntriesFrom(uint64_t i, uint64_t max_bytes, std::vector<Entry>* out) const;
  // Every entry, for tests and invariant checks. Crashes if storage fails.
  std::vector<Entry> AllEntries() const;

  const std::vector<Entry>& UnstableEntries() const { return unstable_entries_; }
  // Last index of the durable prefix that agrees with this log (entries before the unstable
  // tail). 0 while a snapshot is pending, which is not durable yet.
  uint64_t StableLastIndex() const {
    return unstable_snapshot_ != nullptr ? 0 : unstable_offset_ - 1;
  }
  bool HasNextCommittedEntries() const;
  // Committed entries not yet handed to the application, within max_applying_bytes.
  void NextCommittedEntries(std::vector<Entry>* out) const;
  const std::shared_ptr<const Snapshot>& PendingSnapshot() const { return unstable_snapshot_; }
  bool HasPendingSnapshot() const { return unstable_snapshot_ != nullptr; }
  // The pending snapshot if any, else storage's.
  absl::StatusOr<std::shared_ptr<const Snapshot>> GetSnapshot() const;

  // REQUIRES: to_commit <= LastIndex(). Never moves committed backward.
  void CommitTo(uint64_t to_commit);
  // Commits max_index if its entry has `term` (only entries of the leader's own term are
  // committed by counting replicas: Raft paper Figure 8). Returns whether it advanced.
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  // REQUIRES: committed >= i >= applied (or i == 0).
  void AppliedTo(uint64_t i);
  // The application persisted entries up to (i, t): drop them from the unstable tail.
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);
  // Replaces the log with the snapshot (follower catching up).
  void Restore(std::shared_ptr<const Snapshot> snapshot);

  std::string DebugString() const;

  // The first failure to read an entry or a term from storage, other than compaction or
  // unavailability (an I/O error, a page that failed its checksum). The node must then
  // stop: RawNode withholds every Ready from that moment, and its driver restarts it from
  // disk, where the store checks itself before anything runs. Until the step in progress
  // ends, a read that failed answers as if the entry were not there, so that nothing is
  // done with what could not be read.
  const absl::Status& storage_failure() const { return storage_failure_; }

 private:
  void RecordStorageFailure(const absl::Status& status) const;
  std::optional<uint64_t> UnstableMaybeTerm(uint64_t i) const;
  void TruncateAndAppendUnstable(absl::Span<Entry> entries, size_t from);
  uint64_t StorageLastIndex() const;
  uint64_t StorageFirstIndex() const;

  const Storage* storage_;
  mutable absl::Status storage_failure_;  // set by reads, which are const
  uint64_t max_applying_bytes_;
  std::shared_ptr<const Snapshot> unstable_snapshot_;
  std::vector<Entry> unstable_entries_;
  uint64_t unstable_offset_ = 0;  // index of unstable_entries_[0]
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_LOG_H_
