#include "raft/memory_storage.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/mutation.h"

namespace rb::raft {

MemoryStorage::MemoryStorage() : snapshot_(std::make_shared<Snapshot>()), ents_(1) {}

absl::StatusOr<InitialState> MemoryStorage::GetInitialState() const {
  InitialState state;
  state.hard_state = hard_state_;
  state.conf_state = snapshot_->IsEmpty() ? conf_state_ : snapshot_->metadata.conf_state;
  return state;
}

absl::Status MemoryStorage::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                                    std::vector<Entry>* out) const {
  if (lo <= ents_[0].index) return ErrCompacted();
  if (hi > last_index() + 1) return ErrUnavailable();
  RB_CHECK(lo <= hi, lo, " > ", hi);
  const uint64_t offset = ents_[0].index;
  uint64_t size = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = ents_[i - offset];
    size += e.SizeBytes();
    if (size > max_bytes && i > lo) break;
    out->push_back(e);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemoryStorage::Term(uint64_t i) const {
  const uint64_t offset = ents_[0].index;
  if (i < offset) return ErrCompacted();
  if (i - offset >= ents_.size()) return ErrUnavailable();
  return ents_[i - offset].term;
}

absl::StatusOr<std::shared_ptr<const Snapshot>> MemoryStorage::GetSnapshot() const {
  return snapshot_;
}

absl::Status MemoryStorage::ApplySnapshot(std::shared_ptr<const Snapshot> snapshot) {
  RB_CHECK(snapshot != nullptr);
  if (snapshot->metadata.index <= snapshot_->metadata.index) {
    return absl::FailedPreconditionError(absl::StrCat("snapshot at ", snapshot->metadata.index,
                                                      " is not newer than the current one at ",
                                                      snapshot_->metadata.index));
  }
  ents_.assign(1, Entry{snapshot->metadata.term, snapshot->metadata.index});
  snapshot_ = std::move(snapshot);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Snapshot>> MemoryStorage::CreateSnapshot(uint64_t i,
                                                                              const ConfState& cs,
                                                                              std::string data) {
  if (i <= snapshot_->metadata.index) {
    return absl::FailedPreconditionError(
        absl::StrCat("snapshot at ", i, " is out of date (have ", snapshot_->metadata.index, ")"));
  }
  if (i > last_index()) {
    return absl::OutOfRangeError(
        absl::StrCat("snapshot index ", i, " is past the last index ", last_index()));
  }
  auto snap = std::make_shared<Snapshot>();
  snap->data = std::move(data);
  snap->metadata.index = i;
  snap->metadata.term = ents_[i - ents_[0].index].term;
  snap->metadata.conf_state = cs;
  snapshot_ = snap;
  return std::shared_ptr<const Snapshot>(snap);
}

absl::Status MemoryStorage::Compact(uint64_t compact_index) {
  const uint64_t offset = ents_[0].index;
  if (compact_index <= offset) return ErrCompacted();
  if (compact_index > last_index()) {
    return absl::OutOfRangeError(
        absl::StrCat("compact index ", compact_index, " is past the last index ", last_index()));
  }
  const uint64_t i = compact_index - offset;
  // The new dummy keeps the compacted entry's index and term; its payload is dropped.
  std::vector<Entry> kept;
  kept.reserve(ents_.size() - i);
  kept.push_back(Entry{ents_[i].term, ents_[i].index});
  for (size_t k = i + 1; k < ents_.size(); ++k) kept.push_back(std::move(ents_[k]));
  ents_ = std::move(kept);
  return absl::OkStatus();
}

absl::Status MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  const uint64_t first = first_index();
  const uint64_t last = entries.back().index;
  if (last < first) return absl::OkStatus();  // all already compacted
  size_t skip = 0;
  if (first > entries[0].index) skip = first - entries[0].index;
  const uint64_t start = entries[skip].index;
  if (start > last_index() + 1) {
    return absl::InternalError(
        absl::StrCat("missing log entries: last ", last_index(), ", appending from ", start));
  }
  if (RB_MUTANT(kStoreKeepsStaleTail)) {
    for (size_t k = skip; k < entries.size(); ++k) {
      const uint64_t at = entries[k].index - ents_[0].index;
      if (at < ents_.size()) {
        ents_[at] = entries[k];
      } else {
        ents_.push_back(entries[k]);
      }
    }
    return absl::OkStatus();
  }
  ents_.resize(start - ents_[0].index);  // truncate the conflicting suffix, if any
  for (size_t k = skip; k < entries.size(); ++k) {
    RB_CHECK(entries[k].index == ents_[0].index + ents_.size(), "non-contiguous append at ",
             entries[k].index);
    ents_.push_back(entries[k]);
  }
  return absl::OkStatus();
}

}  // namespace rb::raft
