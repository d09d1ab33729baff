#include "raft/memory_storage.h"

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

std::vector<Entry> Ents(std::initializer_list<std::pair<uint64_t, uint64_t>> index_term) {
  std::vector<Entry> out;
  for (auto [i, t] : index_term) out.push_back(Entry{t, i});
  return out;
}

// Storage holding entries 3..5 (terms 3,4,5), i.e. compacted through index 3.
MemoryStorage MakeStorage() {
  MemoryStorage ms;
  EXPECT_TRUE(ms.ApplySnapshot(std::make_shared<Snapshot>(Snapshot{"", {{}, 3, 3}})).ok());
  EXPECT_TRUE(ms.Append(Ents({{4, 4}, {5, 5}})).ok());
  return ms;
}

TEST(MemoryStorageTest, TermReportsCompactedAndUnavailable) {
  MemoryStorage ms = MakeStorage();
  EXPECT_TRUE(IsErrCompacted(ms.Term(2).status()));
  EXPECT_EQ(*ms.Term(3), 3u);
  EXPECT_EQ(*ms.Term(5), 5u);
  EXPECT_TRUE(IsErrUnavailable(ms.Term(6).status()));
}

TEST(MemoryStorageTest, EntriesRespectsBoundsAndSizeLimit) {
  MemoryStorage ms = MakeStorage();
  std::vector<Entry> out;
  EXPECT_TRUE(IsErrCompacted(ms.Entries(3, 5, kNoLimit, &out)));
  EXPECT_TRUE(IsErrUnavailable(ms.Entries(4, 7, kNoLimit, &out)));
  ASSERT_TRUE(ms.Entries(4, 6, kNoLimit, &out).ok());
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  ASSERT_TRUE(ms.Entries(4, 6, 0, &out).ok());  // always at least one
  EXPECT_EQ(out.size(), 1u);
}

TEST(MemoryStorageTest, FirstAndLastIndex) {
  MemoryStorage ms = MakeStorage();
  EXPECT_EQ(*ms.FirstIndex(), 4u);
  EXPECT_EQ(*ms.LastIndex(), 5u);
  ASSERT_TRUE(ms.Compact(4).ok());
  EXPECT_EQ(*ms.FirstIndex(), 5u);
  EXPECT_EQ(*ms.Term(4), 4u);  // the dummy keeps the compacted entry's term
}

TEST(MemoryStorageTest, CompactRejectsOldAndFutureIndexes) {
  MemoryStorage ms = MakeStorage();
  EXPECT_TRUE(IsErrCompacted(ms.Compact(3)));
  EXPECT_FALSE(ms.Compact(6).ok());
}

TEST(MemoryStorageTest, AppendTruncatesConflictsAndSkipsCompacted) {
  MemoryStorage ms = MakeStorage();
  ASSERT_TRUE(ms.Append(Ents({{3, 3}, {4, 6}, {5, 6}, {6, 6}})).ok());
  EXPECT_EQ(*ms.Term(4), 6u);
  EXPECT_EQ(*ms.LastIndex(), 6u);
  ASSERT_TRUE(ms.Append(Ents({{5, 7}})).ok());  // conflicting suffix truncated
  EXPECT_EQ(*ms.LastIndex(), 5u);
  EXPECT_FALSE(ms.Append(Ents({{7, 7}})).ok());  // gap
}

TEST(MemoryStorageTest, CreateAndApplySnapshot) {
  MemoryStorage ms = MakeStorage();
  ConfState cs;
  cs.voters = {1, 2, 3};
  auto snap = ms.CreateSnapshot(4, cs, "data");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->metadata.term, 4u);
  EXPECT_FALSE(ms.CreateSnapshot(4, cs, "again").ok());
  auto init = ms.GetInitialState();
  ASSERT_TRUE(init.ok());
  EXPECT_EQ(init->conf_state.voters, cs.voters);

  MemoryStorage other;
  ASSERT_TRUE(other.ApplySnapshot(*snap).ok());
  EXPECT_EQ(*other.FirstIndex(), 5u);
  EXPECT_EQ(*other.LastIndex(), 4u);
  EXPECT_FALSE(other.ApplySnapshot(*snap).ok());  // not newer
}

}  // namespace
}  // namespace rb::raft
