// Linearizable reads: ReadIndex (thesis 6.4), lease-based reads, follower ReadIndex.
#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

std::vector<ReadState>& Reads(TestCluster& c, uint64_t id) { return c.test_node(id).read_states; }

// The read a heartbeat's context is for: the key is an eight-byte round, then the
// request's context (raft/read_only.h).
std::string ReadOf(const std::string& heartbeat_context) {
  return heartbeat_context.size() >= 8 ? heartbeat_context.substr(8) : "";
}

TEST(ReadIndexTest, LeaderReadConfirmedByHeartbeatQuorum) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  int heartbeats_with_ctx = 0;
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kHeartbeat && ReadOf(m->context) == "r1") ++heartbeats_with_ctx;
    return true;
  });
  c.node(1).ReadIndex("r1");
  c.ProcessReadies();
  // No read state until the heartbeat round confirms leadership.
  EXPECT_TRUE(Reads(c, 1).empty());
  c.Stabilize();
  ASSERT_EQ(Reads(c, 1).size(), 1u);
  EXPECT_EQ(Reads(c, 1)[0].request_ctx, "r1");
  EXPECT_EQ(Reads(c, 1)[0].index, 2u);
  EXPECT_EQ(heartbeats_with_ctx, 2);
}

// Found by the simulator (seed 7700700839 --voters=3): a leader paused for longer than an
// election timeout got, on resuming, a client's read and then a duplicate of a follower's
// read it had answered before the pause, whose old heartbeat acknowledgments were still on
// their way. Those stale acknowledgments confirmed the duplicate and, with it, the client's
// read queued ahead of it: a read served by a deposed leader, at its stale commit index.
// An acknowledgment must count only for the round it answers.
TEST(ReadIndexTest, AStaleAcknowledgmentConfirmsNoLaterRead) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  std::vector<Message> held;
  bool block_acks = false;
  c.set_filter([&](Message* m) {
    if (m->type != MessageType::kHeartbeatResp) return true;
    if (m->from == 3 && ReadOf(m->context) == "dup") {
      held.push_back(*m);  // node 3's acknowledgment, delayed in the network
      return false;
    }
    return !block_acks;
  });
  c.node(1).ReadIndex("dup");
  c.Stabilize();  // confirmed by node 2's acknowledgment
  ASSERT_EQ(Reads(c, 1).size(), 1u);
  ASSERT_EQ(held.size(), 1u);
  Reads(c, 1).clear();

  // From now on no acknowledgment reaches the leader (it is cut off, or deposed).
  block_acks = true;
  c.node(1).ReadIndex("client");
  c.node(1).ReadIndex("dup");  // a duplicate of the first request, arriving late
  c.Stabilize();
  EXPECT_TRUE(Reads(c, 1).empty());
  ASSERT_TRUE(c.node(1).Step(held[0]).ok());  // the stale acknowledgment arrives
  c.Stabilize();
  for (const ReadState& rs : Reads(c, 1)) {
    ADD_FAILURE() << "read \"" << rs.request_ctx << "\" served at " << rs.index
                  << " on the strength of a stale acknowledgment";
  }
}

TEST(ReadIndexTest, PartitionedLeaderCannotServeRead) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(1);
  c.node(1).ReadIndex("r");
  c.Stabilize();
  c.TickAll(5);
  c.Stabilize();
  EXPECT_TRUE(Reads(c, 1).empty());
}

TEST(ReadIndexTest, NewLeaderHoldsReadsUntilItCommitsInItsTerm) {
  TestCluster c(3);
  c.Elect(1);
  // Node 2 becomes leader, but its first entry is held back, so it does not yet know the
  // commit index of its predecessor.
  c.IgnoreType(MessageType::kAppResp);
  ASSERT_EQ(c.Elect(2), 2u);
  EXPECT_EQ(c.raft(2).log().committed(), 1u);
  c.node(2).ReadIndex("early");
  c.Stabilize();
  EXPECT_TRUE(Reads(c, 2).empty());
  c.Recover();
  c.TickAll(1);  // heartbeat -> responses -> appends -> commit of the term-2 entry
  c.Stabilize();
  ASSERT_EQ(Reads(c, 2).size(), 1u);
  EXPECT_EQ(Reads(c, 2)[0].request_ctx, "early");
  EXPECT_EQ(Reads(c, 2)[0].index, 2u);  // at least the new leader's own entry
}

TEST(ReadIndexTest, FollowerReadIsForwardedToLeader) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  c.node(3).ReadIndex("from follower");
  c.Stabilize();
  ASSERT_EQ(Reads(c, 3).size(), 1u);
  EXPECT_EQ(Reads(c, 3)[0].index, 2u);
  EXPECT_EQ(Reads(c, 3)[0].request_ctx, "from follower");
  EXPECT_TRUE(Reads(c, 1).empty());
}

TEST(ReadIndexTest, FollowerWithoutLeaderDropsRead) {
  TestCluster c(3);
  c.node(2).ReadIndex("nobody");
  c.Stabilize();
  EXPECT_TRUE(Reads(c, 2).empty());
}

TEST(ReadIndexTest, SingleVoterAnswersAtOnce) {
  TestCluster c(1);
  c.Elect(1);
  c.node(1).ReadIndex("solo");
  c.ProcessReadies();
  ASSERT_EQ(Reads(c, 1).size(), 1u);
  EXPECT_EQ(Reads(c, 1)[0].index, 1u);
}

// Found by the simulator (seed 500903): a leader removed from the configuration keeps
// leading until it hands over. With one other voter left, the configuration looks like a
// single voter, but that voter is not this leader and may already lead a newer term (it
// did, and had committed deletes the removed leader's read then missed).
TEST(ReadIndexTest, RemovedLeaderDoesNotAnswerAsIfItWereTheSingleVoter) {
  TestCluster c(2);
  c.Elect(1);
  ConfChange remove_self;
  remove_self.changes.push_back({ConfChangeType::kRemoveNode, 1});
  ASSERT_TRUE(c.ProposeConfChange(1, remove_self).ok());
  c.Stabilize();
  ASSERT_EQ(c.raft(1).state(), StateType::kLeader);  // still leading, handing over
  ASSERT_EQ(c.raft(1).tracker().config.voters.incoming.ids(), std::vector<uint64_t>{2});
  c.Isolate(1);  // whatever node 2 does now, node 1 cannot hear of it
  Reads(c, 1).clear();
  c.node(1).ReadIndex("after removal");
  c.ProcessReadies();
  c.Stabilize();
  EXPECT_TRUE(Reads(c, 1).empty()) << "answered at index " << Reads(c, 1)[0].index;
}

// Found by the simulator (seed 9400010943 --voters=1): a leader that removes itself from a
// two-voter cluster commits entries its successor has but does not yet know are committed.
// The successor, now the sole voter, wins at once; its commit index is its predecessor's
// old one until it commits an entry of its own term. A read answered before that misses
// acknowledged writes.
TEST(ReadIndexTest, SoleVoterHoldsReadsUntilItCommitsInItsTerm) {
  TestCluster c(2);
  c.Elect(1);
  ConfChange remove_self;
  remove_self.changes.push_back({ConfChangeType::kRemoveNode, 1});
  ASSERT_TRUE(c.ProposeConfChange(1, remove_self).ok());
  const uint64_t removal = c.raft(1).log().LastIndex();
  ASSERT_TRUE(c.node(1).Propose("acknowledged").ok());
  const uint64_t write = c.raft(1).log().LastIndex();
  // Node 2 gets every entry but learns commits only up to the removal, and the handover
  // (TimeoutNow) is lost.
  c.set_filter([&](Message* m) {
    if (m->to == 2) m->commit = std::min(m->commit, removal);
    return m->type != MessageType::kTimeoutNow;
  });
  c.Stabilize();
  ASSERT_GE(c.raft(1).log().committed(), write) << "node 1 should have committed the write";
  ASSERT_EQ(c.raft(2).log().committed(), removal);
  ASSERT_EQ(c.raft(2).tracker().config.voters.incoming.ids(), std::vector<uint64_t>{2});
  c.node(2).Campaign();  // the sole voter wins within this step
  ASSERT_EQ(c.raft(2).state(), StateType::kLeader);
  c.node(2).ReadIndex("after takeover");
  c.ProcessReadies();
  c.Stabilize();
  ASSERT_EQ(Reads(c, 2).size(), 1u);
  EXPECT_GE(Reads(c, 2)[0].index, write) << "the read would miss an acknowledged write";
}

// Once a leader has sent TimeoutNow, the transferee may win a newer term at once, without
// waiting for any lease to run out: lease-based reads must wait until the transfer ends.
TEST(ReadIndexTest, LeaseBasedReadsWaitWhileLeadershipIsBeingTransferred) {
  TestCluster c(3, 0, [](Config* cfg) {
    cfg->check_quorum = true;
    cfg->read_only_option = ReadOnlyOption::kLeaseBased;
  });
  c.Elect(1);
  c.Isolate(2);  // the transferee never answers, so the transfer stays in progress
  c.node(1).TransferLeader(2);
  c.Stabilize();
  ASSERT_EQ(c.raft(1).lead_transferee(), 2u);
  Reads(c, 1).clear();
  c.node(1).ReadIndex("during transfer");
  c.ProcessReadies();
  EXPECT_TRUE(Reads(c, 1).empty());
}

TEST(ReadIndexTest, LeaseBasedReadNeedsNoHeartbeatRound) {
  TestCluster c(3, 0, [](Config* cfg) {
    cfg->check_quorum = true;
    cfg->read_only_option = ReadOnlyOption::kLeaseBased;
  });
  c.Elect(1);
  c.queue().clear();
  c.node(1).ReadIndex("lease");
  c.ProcessReadies();
  ASSERT_EQ(Reads(c, 1).size(), 1u);
  EXPECT_EQ(Reads(c, 1)[0].index, 1u);
  EXPECT_TRUE(c.queue().empty());  // no messages were needed
}

TEST(ReadIndexTest, LeaseBasedReadsRequireCheckQuorum) {
  Config cfg;
  MemoryStorage storage;
  cfg.id = 1;
  cfg.storage = &storage;
  cfg.read_only_option = ReadOnlyOption::kLeaseBased;
  absl::Status s = cfg.Validate();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("check_quorum"), std::string::npos);
}

TEST(ReadIndexTest, MultipleReadsBatchOnOneHeartbeatRound) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) c.node(1).ReadIndex("r" + std::to_string(i));
  c.Stabilize();
  ASSERT_EQ(Reads(c, 1).size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Reads(c, 1)[i].request_ctx, "r" + std::to_string(i));
}

}  // namespace
}  // namespace rb::raft
