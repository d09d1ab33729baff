#include "raft/quorum.h"

#include <map>

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

auto Acked(std::map<uint64_t, uint64_t> m) {
  return [m](uint64_t id, uint64_t* index) {
    auto it = m.find(id);
    if (it == m.end()) return false;
    *index = it->second;
    return true;
  };
}

TEST(QuorumTest, MajorityCommittedIndex) {
  MajorityConfig c({1, 2, 3});
  EXPECT_EQ(c.CommittedIndex(Acked({{1, 5}, {2, 3}, {3, 9}})), 5u);
  EXPECT_EQ(c.CommittedIndex(Acked({{1, 5}})), 0u);  // only one has acked
  EXPECT_EQ(c.CommittedIndex(Acked({{1, 5}, {3, 4}})), 4u);
  MajorityConfig four({1, 2, 3, 4});
  EXPECT_EQ(four.CommittedIndex(Acked({{1, 10}, {2, 9}, {3, 8}, {4, 1}})), 8u);  // 3 of 4 have 8
  EXPECT_EQ(MajorityConfig().CommittedIndex(Acked({})), UINT64_MAX);
}

TEST(QuorumTest, JointCommittedIndexIsMinimumOfHalves) {
  JointConfig j{MajorityConfig({1, 2, 3}), MajorityConfig({3, 4, 5})};
  // incoming majority at 7 (1,2); outgoing majority at 2 (4,5 low).
  EXPECT_EQ(j.CommittedIndex(Acked({{1, 7}, {2, 7}, {3, 7}, {4, 2}, {5, 1}})), 2u);
  JointConfig simple{MajorityConfig({1, 2, 3}), MajorityConfig()};
  EXPECT_EQ(simple.CommittedIndex(Acked({{1, 7}, {2, 7}})), 7u);
}

TEST(QuorumTest, MajorityVote) {
  MajorityConfig c({1, 2, 3});
  EXPECT_EQ(c.Vote({}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{1, true}}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(c.Vote({{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(c.Vote({{1, false}, {2, false}}), VoteResult::kLost);
  EXPECT_EQ(c.Vote({{7, true}, {8, true}}), VoteResult::kPending);  // non-voters ignored
  EXPECT_EQ(MajorityConfig().Vote({}), VoteResult::kWon);
}

TEST(QuorumTest, JointVoteNeedsBothHalves) {
  JointConfig j{MajorityConfig({1, 2, 3}), MajorityConfig({3, 4, 5})};
  EXPECT_EQ(j.Vote({{1, true}, {2, true}}), VoteResult::kPending);
  EXPECT_EQ(j.Vote({{1, true}, {2, true}, {4, true}, {5, true}}), VoteResult::kWon);
  EXPECT_EQ(j.Vote({{1, true}, {2, true}, {4, false}, {5, false}}), VoteResult::kLost);
  EXPECT_EQ(j.Ids(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace rb::raft
