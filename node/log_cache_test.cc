// LogCache against the log it stands in for: a raft::MemoryStorage receives every write,
// the cache is told of it, and every read of the cache must equal the same read of the
// full log. A counting wrapper shows which reads reach the backing storage.
#include "node/log_cache.h"

#include <random>

#include "gtest/gtest.h"
#include "raft/memory_storage.h"

namespace rb::node {
namespace {

// Forwards to a MemoryStorage and counts the log reads that reach it.
class CountingStorage : public raft::Storage {
 public:
  explicit CountingStorage(const raft::MemoryStorage* log) : log_(log) {}
  absl::StatusOr<raft::InitialState> GetInitialState() const override {
    return log_->GetInitialState();
  }
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<raft::Entry>* out) const override {
    ++reads;
    return log_->Entries(lo, hi, max_bytes, out);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) const override {
    ++reads;
    return log_->Term(i);
  }
  absl::StatusOr<uint64_t> FirstIndex() const override { return log_->FirstIndex(); }
  absl::StatusOr<uint64_t> LastIndex() const override { return log_->LastIndex(); }
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> GetSnapshot() const override {
    return log_->GetSnapshot();
  }
  mutable int reads = 0;

 private:
  const raft::MemoryStorage* log_;
};

std::vector<raft::Entry> Make(uint64_t from, uint64_t to, uint64_t term, size_t data_bytes) {
  std::vector<raft::Entry> out;
  for (uint64_t i = from; i <= to; ++i) {
    raft::Entry e;
    e.index = i;
    e.term = term;
    e.data = std::string(data_bytes, 'x');
    out.push_back(e);
  }
  return out;
}

// Every Term and a spread of Entries reads, cache against the full log.
void ExpectSameLog(const LogCache& cache, const raft::MemoryStorage& log) {
  ASSERT_EQ(*cache.FirstIndex(), *log.FirstIndex());
  ASSERT_EQ(*cache.LastIndex(), *log.LastIndex());
  const uint64_t first = *log.FirstIndex(), last = *log.LastIndex();
  for (uint64_t i = first > 1 ? first - 2 : 0; i <= last + 1; ++i) {
    auto a = cache.Term(i);
    auto b = log.Term(i);
    ASSERT_EQ(a.ok(), b.ok()) << "Term(" << i << "): " << a.status() << " vs " << b.status();
    if (a.ok()) {
      ASSERT_EQ(*a, *b) << "Term(" << i << ")";
    } else {
      ASSERT_EQ(a.status().code(), b.status().code()) << "Term(" << i << ")";
    }
  }
  for (uint64_t lo = first > 1 ? first - 1 : 1; lo <= last + 1; ++lo) {
    for (uint64_t hi : {lo + 1, lo + 3, last + 1, last + 2}) {
      if (hi <= lo) continue;
      for (uint64_t max_bytes : {uint64_t{0}, uint64_t{60}, uint64_t{200}, raft::kNoLimit}) {
        std::vector<raft::Entry> a, b;
        const absl::Status sa = cache.Entries(lo, hi, max_bytes, &a);
        const absl::Status sb = log.Entries(lo, hi, max_bytes, &b);
        ASSERT_EQ(sa.code(), sb.code())
            << "Entries(" << lo << ", " << hi << ", " << max_bytes << "): " << sa << " vs " << sb;
        ASSERT_EQ(a.size(), b.size()) << "Entries(" << lo << ", " << hi << ", " << max_bytes << ")";
        for (size_t k = 0; k < a.size(); ++k) {
          ASSERT_EQ(a[k].index, b[k].index);
          ASSERT_EQ(a[k].term, b[k].term);
          ASSERT_EQ(a[k].data, b[k].data);
        }
      }
    }
  }
}

TEST(LogCacheTest, RecentReadsStayInMemory) {
  raft::MemoryStorage log;
  CountingStorage backing(&log);
  ASSERT_TRUE(log.Append(Make(1, 10, 1, 8)).ok());
  auto cache = LogCache::Create(&backing, /*max_bytes=*/1 << 20);
  ASSERT_TRUE(cache.ok()) << cache.status();
  backing.reads = 0;
  // Entries written before the cache existed are read from the store.
  EXPECT_EQ(*(*cache)->Term(5), 1u);
  EXPECT_EQ(backing.reads, 1);
  // New ones are not.
  const auto fresh = Make(11, 20, 2, 8);
  ASSERT_TRUE(log.Append(fresh).ok());
  (*cache)->Append(fresh);
  backing.reads = 0;
  std::vector<raft::Entry> out;
  ASSERT_TRUE((*cache)->Entries(11, 21, raft::kNoLimit, &out).ok());
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ(*(*cache)->Term(20), 2u);
  EXPECT_EQ(*(*cache)->Term(10), 1u);  // the store's last entry before: still the store
  EXPECT_EQ(backing.reads, 1);
  EXPECT_EQ((*cache)->cached_from(), 11u);
}

TEST(LogCacheTest, ByteBoundDropsTheOldest) {
  raft::MemoryStorage log;
  CountingStorage backing(&log);
  auto cache = LogCache::Create(&backing, /*max_bytes=*/5 * 116);  // five 100-byte entries
  ASSERT_TRUE(cache.ok());
  const auto entries = Make(1, 12, 1, 100);
  ASSERT_TRUE(log.Append(entries).ok());
  (*cache)->Append(entries);
  EXPECT_EQ((*cache)->cached_from(), 8u);
  EXPECT_LE((*cache)->cached_bytes(), 5u * 116);
  ExpectSameLog(**cache, log);
  // One entry larger than the whole bound is still held: it is the newest.
  const auto big = Make(13, 13, 1, 4096);
  ASSERT_TRUE(log.Append(big).ok());
  (*cache)->Append(big);
  EXPECT_EQ((*cache)->cached_from(), 13u);
  ExpectSameLog(**cache, log);
}

TEST(LogCacheTest, FollowsRandomWritesOfTheStore) {
  // Appends with conflicting suffixes, compactions and snapshots, in a seeded random
  // order; after each, the cache must read exactly as the log does.
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    raft::MemoryStorage log;
    CountingStorage backing(&log);
    ASSERT_TRUE(log.Append(Make(1, 5, 1, 10)).ok());
    auto cache = LogCache::Create(&backing, /*max_bytes=*/8 * 40);
    ASSERT_TRUE(cache.ok());
    uint64_t term = 1;
    for (int step = 0; step < 60; ++step) {
      const uint64_t first = *log.FirstIndex(), last = *log.LastIndex();
      const int op = static_cast<int>(rng() % 10);
      if (op < 7) {
        // Append from somewhere in [first, last + 1]: a truncation unless at the end.
        const uint64_t from = first + rng() % (last + 2 - first);
        if (rng() % 3 == 0) ++term;
        const auto entries = Make(from, from + rng() % 6, term, static_cast<size_t>(rng() % 40));
        ASSERT_TRUE(log.Append(entries).ok());
        (*cache)->Append(entries);
      } else if (op < 9) {
        if (last < first) continue;
        const uint64_t at = first + rng() % (last + 1 - first);
        const uint64_t at_term = *log.Term(at);
        ASSERT_TRUE(log.Compact(at).ok());
        (*cache)->Compact(at, at_term);
      } else {
        const uint64_t at = last + 1 + rng() % 4;
        auto snap = std::make_shared<raft::Snapshot>();
        snap->metadata.index = at;
        snap->metadata.term = ++term;
        ASSERT_TRUE(log.ApplySnapshot(snap).ok());
        (*cache)->ApplySnapshot(at, term);
      }
      ExpectSameLog(**cache, log);
      if (HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace rb::node
