// Log replication: Raft paper section 5.3 (Figures 7 and 8), flow control and batching.
#include <algorithm>

#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

std::vector<uint64_t> Terms(const Raft& r) {
  std::vector<uint64_t> out;
  for (const Entry& e : r.log().AllEntries()) out.push_back(e.term);
  return out;
}

TEST(ReplicationTest, ProposalsCommitAndApplyInOrderEverywhere) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, "v" + std::to_string(i)).ok());
  c.Stabilize();
  for (uint64_t id : c.ids()) {
    EXPECT_EQ(c.raft(id).log().committed(), 11u);
    std::vector<std::string> want;
    for (int i = 0; i < 10; ++i) want.push_back("v" + std::to_string(i));
    EXPECT_EQ(c.AppliedData(id), want) << "node " << id;
  }
}

TEST(ReplicationTest, AnAcknowledgmentPastTheLeadersLogIsDropped) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  const uint64_t last = c.raft(1).log().LastIndex();
  const uint64_t commit = c.raft(1).log().committed();
  Message forged;
  forged.type = MessageType::kAppResp;
  forged.from = 2;
  forged.to = 1;
  forged.term = c.raft(1).term();
  forged.index = last + 10;
  ASSERT_TRUE(c.mutable_raft(1).Step(forged).ok());
  EXPECT_EQ(c.raft(1).drops().malformed, 1u);
  EXPECT_EQ(c.raft(1).tracker().progress.at(2).match, last);
  EXPECT_EQ(c.raft(1).log().committed(), commit);
  c.Stabilize();  // and replication goes on
  ASSERT_TRUE(c.Propose(1, "after").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(2).back(), "after");
}

TEST(ReplicationTest, MinorityPartitionDoesNotBlockCommit) {
  TestCluster c(5);
  c.Elect(1);
  c.Isolate(4);
  c.Isolate(5);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).log().committed(), 2u);
  c.Isolate(3);  // now only 1 and 2: no majority
  ASSERT_TRUE(c.Propose(1, "y").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).log().committed(), 2u);
  c.Recover();
  c.TickAll(1);  // heartbeat brings the others back
  c.Stabilize();
  for (uint64_t id : c.ids()) EXPECT_EQ(c.AppliedData(id), (std::vector<std::string>{"x", "y"}));
}

TEST(ReplicationTest, FollowerForwardsProposalToLeader) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(3, "via follower").ok());
  c.Stabilize();
  for (uint64_t id : c.ids()) {
    EXPECT_EQ(c.AppliedData(id), std::vector<std::string>{"via follower"});
  }
}

TEST(ReplicationTest, ForwardingCanBeDisabled) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->disable_proposal_forwarding = true; });
  c.Elect(1);
  EXPECT_EQ(c.Propose(3, "x").code(), absl::StatusCode::kUnavailable);
}

// Figure 7: whatever the follower's log, the leader's log wins.
TEST(ReplicationTest, Figure7FollowerLogsAreRepaired) {
  const std::vector<uint64_t> leader = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a) missing entries
      {1, 1, 1, 4},                          // (b)
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c) an extra uncommitted entry
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d) extra entries of a later term
      {1, 1, 1, 4, 4, 4, 4},                 // (e) missing and extra
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f) a whole divergent history
  };
  for (size_t k = 0; k < followers.size(); ++k) {
    SCOPED_TRACE(k);
    TestCluster c(3);
    c.SetLog(1, leader, 7);
    c.SetLog(2, followers[k], followers[k].back());
    c.SetLog(3, leader, 7);
    ASSERT_EQ(c.Elect(1), 1u);
    EXPECT_EQ(c.raft(1).term(), 8u);
    c.Stabilize();
    std::vector<uint64_t> want = leader;
    want.push_back(8);  // the new leader's empty entry
    EXPECT_EQ(Terms(c.raft(2)), want);
    EXPECT_EQ(c.raft(2).log().committed(), 11u);
  }
}

// Rejection hints let the leader skip a whole conflicting term per round trip instead of one
// entry at a time.
TEST(ReplicationTest, RejectHintsBacktrackByTerm) {
  TestCluster c(3);
  std::vector<uint64_t> leader(3, 1), follower(3, 1);
  for (int i = 0; i < 50; ++i) leader.push_back(4);
  for (int i = 0; i < 50; ++i) follower.push_back(2);
  for (int i = 0; i < 50; ++i) follower.push_back(3);
  c.SetLog(1, leader, 4);
  c.SetLog(2, follower, 3);
  c.SetLog(3, leader, 4);
  int rejections = 0;
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kAppResp && m->from == 2 && m->reject) ++rejections;
    return true;
  });
  ASSERT_EQ(c.Elect(1), 1u);
  c.Stabilize();
  EXPECT_EQ(Terms(c.raft(2)), Terms(c.raft(1)));
  // 100 divergent entries, but only two terms to skip (plus the first probe).
  EXPECT_LE(rejections, 3);
  EXPECT_GE(rejections, 1);
}

// Figure 8: a leader never commits an entry of an earlier term by counting replicas; it
// commits it only together with an entry of its own term.
TEST(ReplicationTest, Figure8OnlyCurrentTermEntriesCommitByCounting) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->max_size_per_msg_bytes = 1; });
  c.SetLog(1, {1, 2}, 2);
  c.SetLog(2, {1}, 2);
  c.SetLog(3, {1}, 2);
  // Let the term-2 entry (index 2) through, but strip the leader's term-3 entry.
  c.set_filter(StripEntriesFrom(3));
  ASSERT_EQ(c.Elect(1), 1u);
  c.Stabilize();
  // Index 2 is on a majority (1 and 2), yet not committed: its term is 2, ours is 3.
  EXPECT_EQ(c.raft(2).log().LastIndex(), 2u);
  EXPECT_EQ(c.raft(1).tracker().progress.at(2).match, 2u);
  EXPECT_EQ(c.raft(1).log().committed(), 0u);
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  // Once the term-3 entry is replicated, both commit.
  EXPECT_EQ(c.raft(1).log().committed(), 3u);
  EXPECT_EQ(c.raft(2).log().committed(), 3u);
}

TEST(ReplicationTest, InflightWindowBoundsPipelinedAppends) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->max_inflight_msgs = 4; });
  c.Elect(1);
  ASSERT_EQ(c.raft(1).tracker().progress.at(2).state, ProgressState::kReplicate);
  // Acknowledgments are lost: the window fills and the leader stops sending.
  c.IgnoreType(MessageType::kAppResp);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  int appends_to_2 = 0;
  for (const Message& m : c.queue()) {
    if (m.type == MessageType::kApp && m.to == 2) ++appends_to_2;
  }
  EXPECT_EQ(appends_to_2, 4);
  EXPECT_TRUE(c.raft(1).tracker().progress.at(2).IsPaused());
  c.Recover();
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(2).log().committed(), 21u);
}

// Found by the simulator (seed 6): a heartbeat response unpauses a follower whose inflight
// window is full; the leader must then probe it with an empty append, not add to the window.
TEST(ReplicationTest, HeartbeatResponseWithFullWindowSendsEmptyAppend) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->max_inflight_msgs = 2; });
  c.Elect(1);
  c.IgnoreType(MessageType::kAppResp);  // every acknowledgment is lost
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "x").ok());
  ASSERT_TRUE(c.raft(1).tracker().progress.at(2).inflights.Full());
  c.queue().clear();
  c.TickAll(1);  // heartbeats go out; their responses arrive
  c.Stabilize();
  // The window is still full and the leader has not crashed; once acknowledgments flow
  // again, the empty appends' answers drain the window and replication resumes.
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(2).log().committed(), 6u);
  EXPECT_FALSE(c.raft(1).tracker().progress.at(2).inflights.Full());
}

TEST(ReplicationTest, InflightBytesBoundPipelinedAppends) {
  TestCluster c(3, 0, [](Config* cfg) {
    cfg->max_size_per_msg_bytes = 100;
    cfg->max_inflight_bytes = 250;
  });
  c.Elect(1);
  c.IgnoreType(MessageType::kAppResp);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.Propose(1, std::string(100, 'a')).ok());
  int appends_to_2 = 0;
  for (const Message& m : c.queue()) {
    if (m.type == MessageType::kApp && m.to == 2) ++appends_to_2;
  }
  EXPECT_EQ(appends_to_2, 3);  // 300 bytes in flight reaches the 250-byte limit
}

TEST(ReplicationTest, ProbeStateSendsOneAppendUntilAnswered) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(2);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  // A lost connection sends the follower back to probing.
  c.node(1).ReportUnreachable(2);
  EXPECT_EQ(c.raft(1).tracker().progress.at(2).state, ProgressState::kProbe);
  c.queue().clear();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "y").ok());
  int appends_to_2 = 0;
  for (const Message& m : c.queue()) {
    if (m.type == MessageType::kApp && m.to == 2) ++appends_to_2;
  }
  EXPECT_EQ(appends_to_2, 1);
}

TEST(ReplicationTest, MaxSizePerMessageLimitsEntriesPerAppend) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->max_size_per_msg_bytes = 300; });
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, std::string(100, 'a')).ok());
  c.Stabilize();
  c.Recover();
  size_t largest = 0;
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kApp && m->to == 3) largest = std::max(largest, m->entries.size());
    return true;
  });
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(3).log().committed(), 11u);
  EXPECT_EQ(largest, 2u);  // 116 bytes accounted per entry: two fit in 300
}

TEST(ReplicationTest, UncommittedBytesLimitRefusesProposals) {
  TestCluster c(3, 0, [](Config* cfg) { cfg->max_uncommitted_entries_bytes = 25; });
  c.Elect(1);
  c.Isolate(1);
  EXPECT_TRUE(c.Propose(1, std::string(10, 'a')).ok());
  EXPECT_TRUE(c.Propose(1, std::string(10, 'b')).ok());
  absl::Status s = c.Propose(1, std::string(10, 'c'));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("uncommitted"), std::string::npos);
  EXPECT_EQ(c.raft(1).uncommitted_size(), 20u);
  // Once committed and applied, the budget is released.
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(1).uncommitted_size(), 0u);
  EXPECT_TRUE(c.Propose(1, std::string(10, 'c')).ok());
}

TEST(ReplicationTest, ManyProposalsBatchIntoOneReady) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(c.node(1).Propose("p" + std::to_string(i)).ok());
  ASSERT_TRUE(c.node(1).HasReady());
  Ready rd;
  c.node(1).GetReady(&rd);
  EXPECT_EQ(rd.entries.size(), 100u);
  EXPECT_TRUE(rd.must_sync);
  // One append per follower per proposal (pipelined), all in this one Ready.
  EXPECT_EQ(rd.messages.size(), 200u);
  ASSERT_TRUE(c.storage(1).Append(rd.entries).ok());
  c.node(1).Advance();
  EXPECT_FALSE(c.node(1).HasReady());
}

TEST(ReplicationTest, ConflictingUncommittedSuffixIsTruncated) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "lost").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).log().LastIndex(), 4u);
  ASSERT_EQ(c.Elect(2), 2u);
  ASSERT_TRUE(c.Propose(2, "kept").ok());
  c.Stabilize();
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
  EXPECT_EQ(c.AppliedData(1), std::vector<std::string>{"kept"});
  EXPECT_EQ(Terms(c.raft(1)), Terms(c.raft(2)));
}

TEST(ReplicationTest, RestartedFollowerKeepsLogAndCatchesUp) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "a").ok());
  c.Stabilize();
  c.Restart(2);
  EXPECT_EQ(c.raft(2).term(), 1u);
  EXPECT_EQ(c.raft(2).vote(), 1u);
  EXPECT_EQ(c.raft(2).log().LastIndex(), 2u);
  ASSERT_TRUE(c.Propose(1, "b").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(2), (std::vector<std::string>{"a", "b"}));
}

void Skip(Config* cfg) { cfg->skip_broadcast_commit = true; }

// Appends the leader sends with no entries (the ones that only carry a commit index).
int EmptyAppendsDuring(TestCluster* c, const std::function<void()>& f) {
  int empty = 0;
  c->set_filter([&](Message* m) {
    if (m->type == MessageType::kApp && m->entries.empty()) ++empty;
    return true;
  });
  f();
  c->set_filter(nullptr);
  return empty;
}

TEST(ReplicationTest, ACommitIsBroadcastAtOnceByDefault) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  const int empty = EmptyAppendsDuring(&c, [&] {
    ASSERT_TRUE(c.Propose(1, "x").ok());
    c.Stabilize();
  });
  EXPECT_EQ(empty, 2);  // one per follower, carrying the new commit index
  EXPECT_EQ(c.raft(2).log().committed(), c.raft(1).log().committed());
  EXPECT_EQ(c.AppliedData(2), std::vector<std::string>{"x"});
}

TEST(ReplicationTest, ASkippedCommitBroadcastArrivesWithTheNextHeartbeat) {
  TestCluster c(3, 0, Skip);
  c.Elect(1);
  c.Stabilize();
  const int empty = EmptyAppendsDuring(&c, [&] {
    ASSERT_TRUE(c.Propose(1, "x").ok());
    c.Stabilize();
  });
  EXPECT_EQ(empty, 0);
  const uint64_t commit = c.raft(1).log().committed();
  ASSERT_EQ(c.AppliedData(1), std::vector<std::string>{"x"});  // the leader applies at once
  EXPECT_LT(c.raft(2).log().committed(), commit);
  EXPECT_TRUE(c.AppliedData(2).empty());
  c.Tick(1);  // heartbeat_tick is 1
  c.Stabilize();
  for (uint64_t id : {2, 3}) {
    EXPECT_EQ(c.raft(id).log().committed(), commit) << "node " << id;
    EXPECT_EQ(c.AppliedData(id), std::vector<std::string>{"x"}) << "node " << id;
  }
}

TEST(ReplicationTest, ASkippedCommitBroadcastArrivesWithTheNextAppend) {
  TestCluster c(3, 0, Skip);
  c.Elect(1);
  c.Stabilize();
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  ASSERT_TRUE(c.Propose(1, "y").ok());
  c.Stabilize();
  // The append of y carried x's commit: followers applied x with no tick.
  EXPECT_EQ(c.AppliedData(2), std::vector<std::string>{"x"});
  EXPECT_EQ(c.AppliedData(3), std::vector<std::string>{"x"});
}

TEST(ReplicationTest, AConfigurationChangeIsBroadcastEvenWhenCommitsAreNot) {
  TestCluster c(3, 0, Skip);
  c.Elect(1);
  c.Stabilize();
  ConfChange cc;
  cc.changes.push_back({ConfChangeType::kAddLearnerNode, 4});
  c.AddNode(4);
  ASSERT_TRUE(c.ProposeConfChange(1, cc).ok());
  c.Stabilize();
  // No tick: the followers learnt the change's commit from an append of its own.
  const uint64_t commit = c.raft(1).log().committed();
  for (uint64_t id : {2, 3}) {
    EXPECT_EQ(c.raft(id).log().committed(), commit) << "node " << id;
    EXPECT_TRUE(c.raft(id).tracker().config.learners.Contains(4)) << "node " << id;
  }
}

}  // namespace
}  // namespace rb::raft
