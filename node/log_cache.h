// LogCache: the core's view of a durable log, answered from memory for its recent tail.
//
// The core reads its log through raft::Storage on the node's thread. With the store's
// writes on a thread of their own (the server), every such read that went to SQLite would
// wait for the write in flight, fsync included. Like etcd's MemoryStorage beside its WAL,
// this cache holds the log's bounds and its newest entries, so the core's usual reads
// (terms of recent entries, entries to send to followers that keep up) never touch the
// store. Older entries, the snapshot and the initial state are read from the backing
// storage, which must then be safe to call from the node's thread.
//
// The driver keeps the cache in step with the store: it reports each write (Append,
// ApplySnapshot, Compact) once that write is durable, before the core is told (Advance).
// Until then the core holds the entries itself (its unstable log), so the cache never
// needs to know of a write in flight. Single-threaded: the node's thread only.
#ifndef RAFTBADGER_NODE_LOG_CACHE_H_
#define RAFTBADGER_NODE_LOG_CACHE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "raft/storage.h"
#include "raft/types.h"

namespace rb::node {

class LogCache : public raft::Storage {
 public:
  // Reads the log's bounds from backing; the cache starts with no entries in memory, and
  // fills as new entries are appended. `max_bytes` bounds the entries held (by
  // raft::Entry::SizeBytes); the oldest leave first. REQUIRES: backing outlives the cache.
  static absl::StatusOr<std::unique_ptr<LogCache>> Create(const raft::Storage* backing,
                                                          uint64_t max_bytes);

  // raft::Storage.
  absl::StatusOr<raft::InitialState> GetInitialState() const override;
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<raft::Entry>* out) const override;
  absl::StatusOr<uint64_t> Term(uint64_t i) const override;
  absl::StatusOr<uint64_t> FirstIndex() const override { return first_index_; }
  absl::StatusOr<uint64_t> LastIndex() const override { return last_index_; }
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> GetSnapshot() const override;

  // The store appended these entries (durably), replacing any suffix from entries[0] on;
  // entries at or before the compacted prefix were skipped, as the store skips them.
  // REQUIRES: contiguous; entries[0].index <= LastIndex() + 1.
  void Append(absl::Span<const raft::Entry> entries);
  // The store installed a snapshot at (index, term): the log is empty after it.
  void ApplySnapshot(uint64_t index, uint64_t term);
  // The store discarded the entries before compact_index, whose term is `term`.
  // REQUIRES: FirstIndex() - 1 <= compact_index <= LastIndex().
  void Compact(uint64_t compact_index, uint64_t term);

  // Index of the oldest entry held in memory (LastIndex() + 1 when none are).
  uint64_t cached_from() const { return cached_from_; }
  uint64_t cached_bytes() const { return cached_bytes_; }

 private:
  LogCache(const raft::Storage* backing, uint64_t max_bytes)
      : backing_(backing), max_bytes_(max_bytes) {}
  void DropOldest();
  void CheckInvariants() const;

  const raft::Storage* const backing_;
  const uint64_t max_bytes_;
  uint64_t first_index_ = 1;  // oldest entry in the log (in memory or not)
  uint64_t dummy_term_ = 0;   // term of entry first_index_ - 1
  uint64_t last_index_ = 0;
  // entries_ holds [cached_from_, last_index_]; cached_from_ >= first_index_.
  uint64_t cached_from_ = 1;
  std::deque<raft::Entry> entries_;
  uint64_t cached_bytes_ = 0;
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_LOG_CACHE_H_
