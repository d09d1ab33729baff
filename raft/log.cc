#include "raft/log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/mutation.h"

namespace rb::raft {

// The log's bounds come from the store's memory (storage::Store, MemoryStorage): failing to
// read them is a broken store, not a damaged disk.
#define RB_CHECK_STORAGE(status_or) \
  RB_CHECK((status_or).ok(), "storage failure: ", (status_or).status().ToString())

RaftLog::RaftLog(const Storage* storage, uint64_t max_applying_bytes)
    : storage_(storage), max_applying_bytes_(max_applying_bytes) {
  RB_CHECK(storage != nullptr);
  const uint64_t first = StorageFirstIndex();
  unstable_offset_ = StorageLastIndex() + 1;
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::StorageFirstIndex() const {
  auto first = storage_->FirstIndex();
  RB_CHECK_STORAGE(first);
  return *first;
}

uint64_t RaftLog::StorageLastIndex() const {
  auto last = storage_->LastIndex();
  RB_CHECK_STORAGE(last);
  return *last;
}

uint64_t RaftLog::FirstIndex() const {
  if (unstable_snapshot_ != nullptr) return unstable_snapshot_->metadata.index + 1;
  return StorageFirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (!unstable_entries_.empty()) return unstable_offset_ + unstable_entries_.size() - 1;
  if (unstable_snapshot_ != nullptr) return unstable_snapshot_->metadata.index;
  return StorageLastIndex();
}

void RaftLog::RecordStorageFailure(const absl::Status& status) const {
  RB_CHECK(!status.ok());
  if (storage_failure_.ok()) storage_failure_ = status;
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  if (!t.ok() && !storage_failure_.ok()) return 0;  // the node stops after this step
  RB_CHECK(t.ok(), "term of the last entry is unavailable: ", t.status().ToString());
  return *t;
}

std::optional<uint64_t> RaftLog::UnstableMaybeTerm(uint64_t i) const {
  if (i < unstable_offset_) {
    if (unstable_snapshot_ != nullptr && unstable_snapshot_->metadata.index == i) {
      return unstable_snapshot_->metadata.term;
    }
    return std::nullopt;
  }
  if (unstable_entries_.empty() || i > unstable_offset_ + unstable_entries_.size() - 1) {
    return std::nullopt;
  }
  return unstable_entries_[i - unstable_offset_].term;
}

absl::StatusOr<uint64_t> RaftLog::Term(uint64_t i) const {
  // The unstable tail answers most lookups on the hot path without touching storage.
  if (auto t = UnstableMaybeTerm(i)) return *t;
  // The valid range includes the dummy entry just before the first one.
  if (i + 1 < FirstIndex()) return ErrCompacted();
  if (i > LastIndex()) return ErrUnavailable();
  auto t = storage_->Term(i);
  if (!t.ok() && !IsErrCompacted(t.status()) && !IsErrUnavailable(t.status())) {
    RecordStorageFailure(t.status());
  }
  return t;
}

std::optional<uint64_t> RaftLog::MaybeTerm(uint64_t i) const {
  if (auto t = UnstableMaybeTerm(i)) return t;
  // Checked before asking storage: its out-of-range errors carry messages, which allocate.
  if (i + 1 < FirstIndex() || i > LastIndex()) return std::nullopt;
  auto t = storage_->Term(i);
  if (t.ok()) return *t;
  if (!IsErrCompacted(t.status()) && !IsErrUnavailable(t.status())) {
    RecordStorageFailure(t.status());
  }
  return std::nullopt;
}

uint64_t RaftLog::TermOrZero(uint64_t i) const { return MaybeTerm(i).value_or(0); }

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  auto t = MaybeTerm(i);
  return t.has_value() && *t == term;
}

bool RaftLog::IsUpToDate(uint64_t last_index, uint64_t term) const {
  const uint64_t last_term = LastTerm();
  return term > last_term || (term == last_term && last_index >= LastIndex());
}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             absl::Span<Entry> entries) {
  if (!MatchTerm(index, log_term) &&
      !(RB_MUTANT(kAppendSkipsPrevTermCheck) && index <= LastIndex())) {
    return std::nullopt;
  }
  const uint64_t last_new = index + entries.size();
  const uint64_t conflict = FindConflict(entries);
  if (!storage_failure_.ok()) return std::nullopt;  // a term it could not read: no verdict
  if (conflict != 0) {
    RB_CHECK(conflict > committed_, "entry ", conflict, " conflicts with committed entry (",
             committed_, ")");
    TruncateAndAppendUnstable(entries, conflict - (index + 1));
  } else if (RB_MUTANT(kTruncateOnMatchingAppend) && !entries.empty() && last_new < LastIndex() &&
             last_new >= committed_) {
    TruncateAndAppendUnstable(entries, entries.size() - 1);
  }
  CommitTo(std::min(committed, RB_MUTANT(kCommitPastNewEntries) ? LastIndex() : last_new));
  return last_new;
}

uint64_t RaftLog::Append(absl::Span<Entry> entries) {
  if (entries.empty()) return LastIndex();
  RB_CHECK(entries[0].index > committed_, "appending at ", entries[0].index,
           " would overwrite committed ", committed_);
  TruncateAndAppendUnstable(entries, 0);
  return LastIndex();
}

void RaftLog::TruncateAndAppendUnstable(absl::Span<Entry> entries, size_t from) {
  const uint64_t after = entries[from].index;
  const uint64_t unstable_end = unstable_offset_ + unstable_entries_.size();
  if (after == unstable_end) {
    // The common case: a direct continuation.
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable tail (and shadows storage from `after` on).
    unstable_offset_ = after;
    unstable_entries_.clear();
  } else {
    // Keeps [offset, after) and replaces the rest.
    unstable_entries_.resize(after - unstable_offset_);
  }
  for (size_t k = from; k < entries.size(); ++k) {
    unstable_entries_.push_back(std::move(entries[k]));
  }
}

uint64_t RaftLog::FindConflict(absl::Span<const Entry> entries) const {
  for (const Entry& e : entries) {
    if (!MatchTerm(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  // Bounded by the log length: each step moves one entry down.
  for (; index > 0; --index) {
    auto t = Term(index);
    if (!t.ok()) return {index, 0};  // compacted (or past the end): cannot look further
    if (*t <= term) return {index, *t};
  }
  return {0, 0};
}

absl::Status RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                            std::vector<Entry>* out) const {
  RB_CHECK(lo <= hi, "invalid slice ", lo, " > ", hi);
  if (lo < FirstIndex()) return ErrCompacted();
  RB_CHECK(hi <= LastIndex() + 1, "slice [", lo, ",", hi, ") out of bound, last ", LastIndex());
  if (lo == hi) return absl::OkStatus();
  const size_t start = out->size();
  if (lo < unstable_offset_) {
    absl::Status s = storage_->Entries(lo, std::min(hi, unstable_offset_), max_bytes, out);
    if (!s.ok()) {
      out->resize(start);
      if (!IsErrCompacted(s)) RecordStorageFailure(s);
      return s;
    }
    // Storage stopped early because of the size limit: do not add unstable entries.
    if (out->size() - start < std::min(hi, unstable_offset_) - lo) return absl::OkStatus();
  }
  uint64_t size = 0;
  for (size_t k = start; k < out->size(); ++k) size += (*out)[k].SizeBytes();
  for (uint64_t i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_entries_[i - unstable_offset_];
    size += e.SizeBytes();
    if (size > max_bytes && out->size() > start) break;
    out->push_back(e);
  }
  return absl::OkStatus();
}

absl::Status RaftLog::EntriesFrom(uint64_t i, uint64_t max_bytes, std::vector<Entry>* out) const {
  if (i > LastIndex()) return absl::OkStatus();
  return Slice(i, LastIndex() + 1, max_bytes, out);
}

std::vector<Entry> RaftLog::AllEntries() const {
  std::vector<Entry> out;
  absl::Status s = EntriesFrom(FirstIndex(), kNoLimit, &out);
  RB_CHECK(s.ok(), "reading the whole log: ", s.ToString());
  return out;
}

bool RaftLog::HasNextCommittedEntries() const {
  return committed_ + 1 > std::max(applied_ + 1, FirstIndex());
}

void RaftLog::NextCommittedEntries(std::vector<Entry>* out) const {
  const uint64_t lo = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= lo) return;
  absl::Status s = Slice(lo, committed_ + 1, max_applying_bytes_, out);
  if (!s.ok() && !storage_failure_.ok()) return;  // nothing to apply: the node stops
  RB_CHECK(s.ok(), "reading committed entries [", lo, ",", committed_, "]: ", s.ToString());
}

absl::StatusOr<std::shared_ptr<const Snapshot>> RaftLog::GetSnapshot() const {
  if (unstable_snapshot_ != nullptr) return unstable_snapshot_;
  return storage_->GetSnapshot();
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (committed_ >= to_commit) return;  // never decrease
  RB_CHECK(LastIndex() >= to_commit, "commit ", to_commit, " is out of range [last ", LastIndex(),
           "]: was the log corrupted, truncated or lost?");
  committed_ = to_commit;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index > committed_ && TermOrZero(max_index) == term) {
    CommitTo(max_index);
    return true;
  }
  return false;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RB_CHECK(committed_ >= i && i >= applied_, "applied ", i, " out of range [prev applied ",
           applied_, ", committed ", committed_, "]");
  applied_ = i;
}

void RaftLog::StableTo(uint64_t i, uint64_t t) {
  auto gt = UnstableMaybeTerm(i);
  if (!gt.has_value()) return;
  // Only when the entry is still the one persisted: a newer leader may have replaced it.
  if (*gt == t && i >= unstable_offset_) {
    const size_t n = i - unstable_offset_ + 1;
    if (n == unstable_entries_.size()) {
      unstable_entries_.clear();  // keeps capacity: the next Ready reuses it
    } else {
      unstable_entries_.erase(unstable_entries_.begin(), unstable_entries_.begin() + n);
    }
    unstable_offset_ = i + 1;
  }
}

void RaftLog::StableSnapTo(uint64_t i) {
  if (unstable_snapshot_ != nullptr && unstable_snapshot_->metadata.index == i) {
    unstable_snapshot_.reset();
  }
}

void RaftLog::Restore(std::shared_ptr<const Snapshot> snapshot) {
  committed_ = snapshot->metadata.index;
  unstable_offset_ = snapshot->metadata.index + 1;
  unstable_entries_.clear();
  unstable_snapshot_ = std::move(snapshot);
}

std::string RaftLog::DebugString() const {
  return absl::StrCat(
      "committed=", committed_, " applied=", applied_, " unstable.offset=", unstable_offset_,
      " unstable.len=", unstable_entries_.size(), " first=", FirstIndex(), " last=", LastIndex());
}

}  // namespace rb::raft
