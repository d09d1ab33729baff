#include "node/log_cache.h"

#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "base/status_macros.h"

namespace rb::node {

absl::StatusOr<std::unique_ptr<LogCache>> LogCache::Create(const raft::Storage* backing,
                                                           uint64_t max_bytes) {
  RB_CHECK(backing != nullptr, "LogCache needs a backing storage");
  std::unique_ptr<LogCache> cache(new LogCache(backing, max_bytes));
  ASSIGN_OR_RETURN(cache->first_index_, backing->FirstIndex());
  ASSIGN_OR_RETURN(cache->last_index_, backing->LastIndex());
  ASSIGN_OR_RETURN(cache->dummy_term_, backing->Term(cache->first_index_ - 1));
  cache->cached_from_ = cache->last_index_ + 1;
  cache->CheckInvariants();
  return cache;
}

absl::StatusOr<raft::InitialState> LogCache::GetInitialState() const {
  return backing_->GetInitialState();
}

absl::StatusOr<std::shared_ptr<const raft::Snapshot>> LogCache::GetSnapshot() const {
  return backing_->GetSnapshot();
}

absl::StatusOr<uint64_t> LogCache::Term(uint64_t i) const {
  if (i + 1 < first_index_) return raft::ErrCompacted();
  if (i > last_index_) return raft::ErrUnavailable();
  if (i + 1 == first_index_) return dummy_term_;
  if (i >= cached_from_) return entries_[i - cached_from_].term;
  return backing_->Term(i);
}

absl::Status LogCache::Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                               std::vector<raft::Entry>* out) const {
  RB_CHECK(lo < hi, "Entries: empty range [", lo, ", ", hi, ")");
  if (lo < first_index_) return raft::ErrCompacted();
  if (hi > last_index_ + 1) return raft::ErrUnavailable();
  uint64_t bytes = 0;
  size_t count = 0;  // entries added by this call
  if (lo < cached_from_) {
    // The older part from the store; a lagging follower's catch-up, say.
    const uint64_t backing_hi = std::min(hi, cached_from_);
    const size_t before = out->size();
    RETURN_IF_ERROR(backing_->Entries(lo, backing_hi, max_bytes, out));
    count = out->size() - before;
    if (lo + count < backing_hi) return absl::OkStatus();  // the byte limit stopped it
    for (size_t k = before; k < out->size(); ++k) bytes += (*out)[k].SizeBytes();
    lo = backing_hi;
  }
  // Bounded by hi - lo.
  for (uint64_t i = lo; i < hi; ++i) {
    const raft::Entry& e = entries_[i - cached_from_];
    if (count > 0 && max_bytes != raft::kNoLimit && bytes + e.SizeBytes() > max_bytes) break;
    bytes += e.SizeBytes();
    out->push_back(e);
    ++count;
  }
  return absl::OkStatus();
}

void LogCache::Append(absl::Span<const raft::Entry> entries) {
  // Entries the store skipped: already compacted (covered by a snapshot).
  while (!entries.empty() && entries.front().index < first_index_) entries.remove_prefix(1);
  if (entries.empty()) return;
  const uint64_t from = entries.front().index;
  RB_CHECK(from <= last_index_ + 1, "LogCache: append at ", from, " leaves a gap after ",
           last_index_);
  // A conflicting suffix, replaced: drop it from memory (all of memory if it starts
  // before what is held).
  if (from < cached_from_) {
    entries_.clear();
    cached_bytes_ = 0;
    cached_from_ = from;
  }
  while (!entries_.empty() && entries_.back().index >= from) {
    cached_bytes_ -= entries_.back().SizeBytes();
    entries_.pop_back();
  }
  for (const raft::Entry& e : entries) {
    RB_CHECK(e.index == from + (&e - entries.data()), "LogCache: entries not contiguous at ",
             e.index);
    entries_.push_back(e);
    cached_bytes_ += e.SizeBytes();
  }
  last_index_ = entries.back().index;
  // Keep the newest entry even if it alone is over the bound: the core reads it most.
  while (cached_bytes_ > max_bytes_ && entries_.size() > 1) DropOldest();
  CheckInvariants();
}

void LogCache::ApplySnapshot(uint64_t index, uint64_t term) {
  entries_.clear();
  cached_bytes_ = 0;
  first_index_ = index + 1;
  dummy_term_ = term;
  last_index_ = index;
  cached_from_ = index + 1;
  CheckInvariants();
}

void LogCache::Compact(uint64_t compact_index, uint64_t term) {
  RB_CHECK(compact_index + 1 >= first_index_ && compact_index <= last_index_,
           "LogCache: compact at ", compact_index, " outside [", first_index_ - 1, ", ",
           last_index_, "]");
  if (compact_index >= cached_from_) {
    RB_CHECK(entries_[compact_index - cached_from_].term == term, "LogCache: compact at ",
             compact_index, " with term ", term, " but the cache holds term ",
             entries_[compact_index - cached_from_].term);
  }
  while (!entries_.empty() && entries_.front().index <= compact_index) DropOldest();
  first_index_ = compact_index + 1;
  dummy_term_ = term;
  cached_from_ = std::max(cached_from_, first_index_);
  CheckInvariants();
}

void LogCache::DropOldest() {
  cached_bytes_ -= entries_.front().SizeBytes();
  entries_.pop_front();
  ++cached_from_;
}

void LogCache::CheckInvariants() const {
  RB_CHECK(first_index_ >= 1 && first_index_ <= last_index_ + 1, "LogCache: first ", first_index_,
           " last ", last_index_);
  RB_CHECK(cached_from_ >= first_index_ && cached_from_ + entries_.size() == last_index_ + 1,
           "LogCache: holds ", entries_.size(), " entries from ", cached_from_, ", log is [",
           first_index_, ", ", last_index_, "]");
  RB_CHECK(entries_.empty() || entries_.front().index == cached_from_,
           "LogCache: first held entry is ", entries_.front().index, ", expected ", cached_from_);
}

}  // namespace rb::node
