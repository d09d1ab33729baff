#include "raft/log.h"

#include "gtest/gtest.h"
#include "raft/memory_storage.h"

namespace rb::raft {
namespace {

std::vector<Entry> Ents(uint64_t first_index, std::vector<uint64_t> terms) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i) out.push_back(Entry{terms[i], first_index + i});
  return out;
}

TEST(RaftLogTest, AppendAndTerms) {
  MemoryStorage ms;
  ASSERT_TRUE(ms.Append(Ents(1, {1, 2})).ok());
  RaftLog log(&ms, kNoLimit);
  EXPECT_EQ(log.LastIndex(), 2u);
  auto more = Ents(3, {3, 3});
  EXPECT_EQ(log.Append(absl::MakeSpan(more)), 4u);
  EXPECT_EQ(*log.Term(1), 1u);
  EXPECT_EQ(*log.Term(4), 3u);
  EXPECT_TRUE(IsErrUnavailable(log.Term(5).status()));
  EXPECT_EQ(log.UnstableEntries().size(), 2u);
  log.StableTo(4, 3);
  EXPECT_TRUE(log.UnstableEntries().empty());
}

TEST(RaftLogTest, MaybeAppendTruncatesConflictsAndCommits) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto base = Ents(1, {1, 2, 3});
  log.Append(absl::MakeSpan(base));
  // Mismatch at the previous entry: refused.
  auto e = Ents(4, {4});
  EXPECT_FALSE(log.MaybeAppend(3, 2, 3, absl::MakeSpan(e)).has_value());
  // Match at 1, conflict at 2: truncate and replace.
  e = Ents(2, {4});
  auto last = log.MaybeAppend(1, 1, 5, absl::MakeSpan(e));
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 2u);
  EXPECT_EQ(log.LastIndex(), 2u);
  EXPECT_EQ(*log.Term(2), 4u);
  EXPECT_EQ(log.committed(), 2u);  // min(leader commit, last new)
}

TEST(RaftLogTest, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto ents = Ents(1, {1, 1, 2, 2, 2, 5, 5});
  log.Append(absl::MakeSpan(ents));
  EXPECT_EQ(log.FindConflictByTerm(7, 4), (std::pair<uint64_t, uint64_t>{5, 2}));
  EXPECT_EQ(log.FindConflictByTerm(7, 5), (std::pair<uint64_t, uint64_t>{7, 5}));
  EXPECT_EQ(log.FindConflictByTerm(5, 1), (std::pair<uint64_t, uint64_t>{2, 1}));
  EXPECT_EQ(log.FindConflictByTerm(5, 0), (std::pair<uint64_t, uint64_t>{0, 0}));
}

TEST(RaftLogTest, IsUpToDateComparesLastTermThenIndex) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto ents = Ents(1, {1, 2, 2});
  log.Append(absl::MakeSpan(ents));
  EXPECT_TRUE(log.IsUpToDate(1, 3));
  EXPECT_TRUE(log.IsUpToDate(3, 2));
  EXPECT_FALSE(log.IsUpToDate(2, 2));
  EXPECT_FALSE(log.IsUpToDate(10, 1));
}

TEST(RaftLogTest, CommitOnlyCurrentTermAndNeverBackward) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto ents = Ents(1, {1, 2});
  log.Append(absl::MakeSpan(ents));
  EXPECT_FALSE(log.MaybeCommit(2, 3));  // term of 2 is 2, not 3
  EXPECT_TRUE(log.MaybeCommit(2, 2));
  log.CommitTo(1);
  EXPECT_EQ(log.committed(), 2u);
}

TEST(RaftLogTest, NextCommittedEntriesRespectsByteLimit) {
  MemoryStorage ms;
  RaftLog log(&ms, 40);  // two 16-byte entries fit, the third does not
  auto ents = Ents(1, {1, 1, 1, 1});
  log.Append(absl::MakeSpan(ents));
  log.CommitTo(4);
  std::vector<Entry> out;
  log.NextCommittedEntries(&out);
  EXPECT_EQ(out.size(), 2u);
  log.AppliedTo(2);
  out.clear();
  log.NextCommittedEntries(&out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].index, 3u);
}

TEST(RaftLogTest, SliceSpansStorageAndUnstable) {
  MemoryStorage ms;
  ASSERT_TRUE(ms.ApplySnapshot(std::make_shared<Snapshot>(Snapshot{"", {{}, 2, 1}})).ok());
  ASSERT_TRUE(ms.Append(Ents(3, {1, 2})).ok());
  RaftLog log(&ms, kNoLimit);
  auto more = Ents(5, {3, 3});
  log.Append(absl::MakeSpan(more));
  std::vector<Entry> out;
  ASSERT_TRUE(log.Slice(3, 7, kNoLimit, &out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[2].index, 5u);
  EXPECT_TRUE(IsErrCompacted(log.Slice(2, 4, kNoLimit, &out)));
  EXPECT_EQ(log.FirstIndex(), 3u);
  EXPECT_EQ(*log.Term(2), 1u);  // the snapshot's term
}

TEST(RaftLogTest, RestoreFromSnapshot) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto ents = Ents(1, {1, 1});
  log.Append(absl::MakeSpan(ents));
  auto snap = std::make_shared<Snapshot>(Snapshot{"", {{}, 10, 3}});
  log.Restore(snap);
  EXPECT_EQ(log.committed(), 10u);
  EXPECT_EQ(log.LastIndex(), 10u);
  EXPECT_EQ(log.FirstIndex(), 11u);
  EXPECT_EQ(*log.Term(10), 3u);
  EXPECT_TRUE(log.HasPendingSnapshot());
  log.StableSnapTo(10);
  EXPECT_FALSE(log.HasPendingSnapshot());
}

TEST(RaftLogDeathTest, OverwritingCommittedEntriesIsABug) {
  MemoryStorage ms;
  RaftLog log(&ms, kNoLimit);
  auto ents = Ents(1, {1, 1});
  log.Append(absl::MakeSpan(ents));
  log.CommitTo(2);
  auto conflict = Ents(2, {2});
  EXPECT_DEATH(log.Append(absl::MakeSpan(conflict)), "overwrite committed");
}

}  // namespace
}  // namespace rb::raft
