// Leadership transfer (thesis 3.10).
#include <algorithm>

#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

TEST(TransferTest, TransferToUpToDateFollower) {
  TestCluster c(3);
  c.Elect(1);
  c.node(1).TransferLeader(2);
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 2u);
  EXPECT_EQ(c.raft(2).term(), 2u);
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
}

TEST(TransferTest, TransferWorksUnderCheckQuorumLease) {
  TestCluster c(3, 0, [](Config* cfg) {
    cfg->check_quorum = true;
    cfg->pre_vote = true;
  });
  c.Elect(1);
  c.node(1).TransferLeader(3);
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3u);
}

TEST(TransferTest, TransferToSlowFollowerWaitsForCatchUp) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  int timeout_now_before_caught_up = 0;
  c.Recover();
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kTimeoutNow && c.raft(3).log().LastIndex() < 6) {
      ++timeout_now_before_caught_up;
    }
    return true;
  });
  c.node(1).TransferLeader(3);
  EXPECT_EQ(c.raft(1).lead_transferee(), 3u);
  // Proposals are refused while the transfer is in progress.
  EXPECT_EQ(c.Propose(1, "during").code(), absl::StatusCode::kUnavailable);
  c.Stabilize();
  EXPECT_EQ(timeout_now_before_caught_up, 0);
  EXPECT_EQ(c.Leader(), 3u);
  EXPECT_EQ(c.raft(3).log().LastIndex(), 7u);  // caught up, plus its own empty entry
}

TEST(TransferTest, TransferTimesOutAndAbortsCleanly) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  c.node(1).TransferLeader(3);
  c.Stabilize();
  EXPECT_EQ(c.raft(1).lead_transferee(), 3u);
  c.Tick(1, 10);  // one election timeout
  EXPECT_EQ(c.raft(1).lead_transferee(), kNone);
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
  EXPECT_TRUE(c.Propose(1, "accepted again").ok());
}

TEST(TransferTest, TransferToSelfOrLearnerIsIgnored) {
  TestCluster c(3, 1);
  c.Elect(1);
  c.node(1).TransferLeader(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(1).lead_transferee(), kNone);
  c.node(1).TransferLeader(4);  // learner
  c.Stabilize();
  EXPECT_EQ(c.raft(1).lead_transferee(), kNone);
  EXPECT_EQ(c.Leader(), 1u);
  c.node(1).TransferLeader(9);  // unknown
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 1u);
}

TEST(TransferTest, FollowerForwardsTransferRequest) {
  TestCluster c(3);
  c.Elect(1);
  c.node(3).TransferLeader(3);
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 3u);
}

TEST(TransferTest, SecondTransferReplacesFirst) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  c.node(1).TransferLeader(3);
  c.Stabilize();
  c.node(1).TransferLeader(2);
  c.Stabilize();
  EXPECT_EQ(c.Leader(), 2u);
}

// A learner promoted and at once handed leadership may get the TimeoutNow with the commit
// of its promotion, before it applied it: not yet a voter, it cannot campaign and drops
// the message. The leader repeats it on the next heartbeat answer (found by
// tests/membership_test, where the transfer then timed out).
TEST(TransferTest, TimeoutNowDroppedBeforeThePromotionAppliedIsRepeated) {
  TestCluster c(1, 1);
  c.Elect(1);
  ConfChange promote;
  promote.changes.push_back({ConfChangeType::kAddNode, 2});
  bool hold_commit = true;
  uint64_t promotion = 0;
  c.set_filter([&](Message* m) {
    if (hold_commit && m->to == 2) m->commit = std::min(m->commit, promotion - 1);
    return true;
  });
  ASSERT_TRUE(c.ProposeConfChange(1, promote).ok());
  promotion = c.raft(1).log().LastIndex();
  c.Stabilize();
  ASSERT_TRUE(c.raft(1).tracker().config.voters.Contains(2));
  ASSERT_EQ(c.raft(2).log().LastIndex(), promotion);
  ASSERT_FALSE(c.raft(2).Promotable());

  int timeout_now_sent = 0;
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kTimeoutNow) ++timeout_now_sent;
    if (hold_commit && m->to == 2) m->commit = std::min(m->commit, promotion - 1);
    return true;
  });
  c.node(1).TransferLeader(2);
  c.Stabilize();
  ASSERT_EQ(timeout_now_sent, 1);
  ASSERT_EQ(c.Leader(), 1u) << "the learner should have dropped the TimeoutNow";
  ASSERT_EQ(c.raft(1).lead_transferee(), 2u);

  hold_commit = false;
  c.Tick(1);  // one heartbeat interval (1 tick here): the heartbeat carries the commit
  c.Stabilize();
  EXPECT_EQ(timeout_now_sent, 2);
  EXPECT_EQ(c.Leader(), 2u);
}

}  // namespace
}  // namespace rb::raft
