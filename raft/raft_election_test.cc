// Leader election: Raft paper section 5.2 and 5.4.1, PreVote and CheckQuorum (thesis 9.6, 6.2).
#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

auto PreVote(bool pre_vote, bool check_quorum = false) {
  return [=](Config* c) {
    c->pre_vote = pre_vote;
    c->check_quorum = check_quorum;
  };
}

TEST(ElectionTest, CampaignWinsWithMajorityAndAllFollow) {
  TestCluster c(3);
  EXPECT_EQ(c.Elect(1), 1u);
  EXPECT_EQ(c.raft(1).term(), 1u);
  for (uint64_t id : {2, 3}) {
    EXPECT_EQ(c.raft(id).state(), StateType::kFollower);
    EXPECT_EQ(c.raft(id).lead(), 1u);
    EXPECT_EQ(c.raft(id).term(), 1u);
    EXPECT_EQ(c.raft(id).vote(), 1u);
  }
  // The new leader's empty entry is committed everywhere.
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(c.raft(id).log().committed(), 1u);
}

TEST(ElectionTest, SingleNodeElectsItselfOnTimeout) {
  TestCluster c(1);
  EXPECT_EQ(c.TickUntilLeader(100), 1u);
}

TEST(ElectionTest, ElectionTimeoutIsRandomizedInRange) {
  // Different nodes draw different timeouts from [election_tick, 2*election_tick).
  TestCluster c(5);
  std::set<int> seen;
  for (uint64_t id : c.ids()) {
    const int t = c.raft(id).randomized_election_timeout();
    EXPECT_GE(t, 10);
    EXPECT_LT(t, 20);
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 1u);
}

TEST(ElectionTest, CandidateWithoutMajorityDoesNotWin) {
  TestCluster c(3);
  c.Isolate(1);
  c.Elect(1);
  EXPECT_EQ(c.raft(1).state(), StateType::kCandidate);
  EXPECT_EQ(c.Leader(), 0u);
}

TEST(ElectionTest, VoterGrantsAtMostOneVotePerTerm) {
  TestCluster c(3);
  // Both 1 and 3 become candidates in term 1 before any vote is delivered.
  c.node(1).Campaign();
  c.node(3).Campaign();
  c.ProcessReadies();
  c.Stabilize();
  // Node 2 voted for exactly one of them, so at most one leader (the checker asserts that
  // on every step) and exactly one here.
  const uint64_t leader = c.Leader();
  EXPECT_TRUE(leader == 1 || leader == 3);
  EXPECT_EQ(c.raft(2).vote(), leader);
}

TEST(ElectionTest, DuelingCandidatesEventuallyElectOneLeader) {
  TestCluster c(3);
  c.Cut(1, 3);
  c.Elect(1);  // 1 wins with 2's vote
  EXPECT_EQ(c.Leader(), 1u);
  c.node(3).Campaign();  // 3 cannot see 1; it campaigns in term 2 and 2 refuses (log)
  c.Stabilize();
  // 3's higher term made 2 (and, via 2, nobody else) step down, but 3's log is behind, so 2
  // refused to vote; 3 stays a candidate.
  EXPECT_EQ(c.raft(3).state(), StateType::kCandidate);
  c.Recover();
  EXPECT_NE(c.TickUntilLeader(), 0u);
  // Everyone agrees on one leader and its log.
  const uint64_t leader = c.Leader();
  for (uint64_t id : c.ids()) EXPECT_EQ(c.raft(id).lead(), leader);
}

TEST(ElectionTest, CandidateWithStaleLogCannotWin) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  c.Recover();
  // 3 lacks the committed entry; 1 and 2 refuse it (section 5.4.1), whatever its term.
  c.Isolate(1);
  c.Elect(3);
  EXPECT_NE(c.raft(3).state(), StateType::kLeader);
  EXPECT_EQ(c.Elect(2), 2u);
}

// Found by the simulator (seed 1542 --voters=2): without PreVote, a candidate with a stale
// log raised the term again and again, and each time the voter that alone could win reset
// its election timer, so it lost every race. Only a leader's message or a granted vote
// restarts the timer (Raft paper, Figure 2).
TEST(ElectionTest, RefusedCandidateDoesNotRestartTheVotersElectionTimer) {
  TestCluster c(2);
  c.Elect(1);
  c.Isolate(2);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  c.Recover();
  c.Isolate(1);
  c.Tick(1, 5);  // node 1 hears nothing for 5 ticks
  c.Recover();
  const int elapsed = c.raft(1).election_elapsed();
  ASSERT_GT(elapsed, 0);
  const uint64_t term = c.raft(1).term();
  c.Elect(2);  // node 2 lacks "x": refused
  ASSERT_NE(c.raft(2).state(), StateType::kLeader);
  EXPECT_GT(c.raft(1).term(), term) << "node 1 should have moved to the candidate's term";
  EXPECT_EQ(c.raft(1).election_elapsed(), elapsed) << "the refused candidate reset the timer";
  // A granted vote does restart it.
  c.Tick(2, 3);
  c.Elect(1);
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
}

TEST(ElectionTest, HigherTermMakesLeaderStepDown) {
  TestCluster c(3);
  c.Elect(1);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = 2;
  m.to = 1;
  m.term = c.raft(1).term() + 5;
  ASSERT_TRUE(c.node(1).Step(m).ok());
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
  EXPECT_EQ(c.raft(1).term(), m.term);
  EXPECT_EQ(c.raft(1).lead(), 2u);
}

TEST(ElectionTest, StaleTermMessagesAreDroppedAndCounted) {
  TestCluster c(3);
  c.Elect(1);
  c.Elect(2);
  const uint64_t before = c.raft(2).drops().stale_term;
  Message m;
  m.type = MessageType::kAppResp;
  m.from = 3;
  m.to = 2;
  m.term = 1;
  ASSERT_TRUE(c.node(2).Step(m).ok());
  EXPECT_EQ(c.raft(2).drops().stale_term, before + 1);
}

TEST(ElectionTest, PartitionedNodeRejoiningWithoutPreVoteDisruptsLeader) {
  TestCluster c(3, 0, PreVote(false));
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 3; ++i) c.Elect(3);  // campaigns alone, bumping its term each time
  EXPECT_EQ(c.raft(3).term(), 4u);
  c.Recover();
  // Its first message at term 4 makes the leader step down.
  c.node(3).Campaign();
  c.Stabilize();
  EXPECT_GE(c.raft(1).term(), 5u);
  EXPECT_NE(c.raft(1).state(), StateType::kLeader);
}

TEST(ElectionTest, PartitionedNodeRejoiningWithPreVoteDoesNotDisrupt) {
  TestCluster c(3, 0, PreVote(true));
  c.Elect(1);
  const uint64_t term = c.raft(1).term();
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "written while 3 was away").ok());
  c.Stabilize();
  for (int i = 0; i < 3; ++i) c.Elect(3);
  // PreVote failed every time, so the term never moved.
  EXPECT_EQ(c.raft(3).term(), term);
  EXPECT_EQ(c.raft(3).state(), StateType::kPreCandidate);
  c.Recover();
  c.Elect(3);  // 1 and 2 have a newer log: the pre-vote is refused, nobody changes term
  EXPECT_EQ(c.Leader(), 1u);
  EXPECT_EQ(c.raft(1).term(), term);
}

TEST(ElectionTest, PreVoteStillElectsWhenLeaderIsGone) {
  TestCluster c(3, 0, PreVote(true));
  c.Elect(1);
  c.Isolate(1);
  // Without the leader, 2 and 3 time out; 2 wins a pre-vote and then the real vote.
  const uint64_t leader = c.Elect(2);
  EXPECT_EQ(leader, 2u);
  EXPECT_EQ(c.raft(2).term(), 2u);
}

TEST(ElectionTest, CheckQuorumLeaderStepsDownWithoutQuorum) {
  TestCluster c(3, 0, PreVote(false, true));
  c.Elect(1);
  c.Isolate(1);
  // Two election timeouts: the first clears recent_active, the second finds no quorum.
  for (int i = 0; i < 2 * 10 + 1; ++i) c.Tick(1);
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
}

TEST(ElectionTest, CheckQuorumLeaderStaysWithQuorum) {
  TestCluster c(3, 0, PreVote(false, true));
  c.Elect(1);
  for (int i = 0; i < 50; ++i) {
    c.Tick(1);
    c.Stabilize();
  }
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
}

TEST(ElectionTest, CheckQuorumFollowersIgnoreVotesWhileHearingLeader) {
  TestCluster c(3, 0, PreVote(false, true));
  c.Elect(1);
  // 3 cannot hear the leader but 2 can: 2 must not vote 3 in (leader lease).
  c.Cut(1, 3);
  c.Elect(3);
  EXPECT_EQ(c.raft(2).term(), 1u);
  EXPECT_EQ(c.raft(2).lead(), 1u);
  EXPECT_GT(c.raft(2).drops().ignored_votes, 0u);
  EXPECT_EQ(c.Leader(), 1u);
}

TEST(ElectionTest, CheckQuorumRestartedFollowerKeepsTheLeaseItMayHaveGiven) {
  TestCluster c(3, 0, PreVote(false, true));
  c.Elect(1);
  // 2 acknowledged the leader, then restarted: its last run may have promised the leader
  // an election timeout without a rival (lease reads rely on it), so it still refuses 3.
  c.Restart(2);
  c.Cut(1, 3);
  c.Cut(1, 2);
  c.Elect(3);
  EXPECT_NE(c.raft(3).state(), StateType::kLeader);
  EXPECT_GT(c.raft(2).drops().ignored_votes, 0u);
  // After an election timeout without a leader, 2 votes again.
  c.Tick(2, 20);
  c.Stabilize();
  c.Elect(3);
  EXPECT_EQ(c.raft(3).state(), StateType::kLeader);
}

// A pre-candidate (its term unchanged by PreVote) that then hears the leader's heartbeat
// follows it and acknowledges the heartbeat, which the leader may count toward a lease:
// from then on it must refuse rivals for an election timeout, like any follower. It did
// not: only a follower's own receipt restarted its lease clock. Found by the simulator's
// lease check (seed 9200030808 --voters=3).
TEST(ElectionTest, APreCandidateThatHearsTheLeaderKeepsItsLease) {
  TestCluster c(3, 0, PreVote(true, true));
  c.Elect(1);
  c.Isolate(2);
  c.Tick(2, 2 * 10);  // past its election timeout: pre-campaigns, unheard
  ASSERT_EQ(c.raft(2).state(), StateType::kPreCandidate);
  c.Recover();
  c.Tick(1);  // the leader's heartbeat
  c.Stabilize();
  ASSERT_EQ(c.raft(2).state(), StateType::kFollower);
  ASSERT_EQ(c.raft(2).lead(), 1u);
  // 3 cannot hear the leader; 2 just did, so 2 must not vote 3 in.
  c.Cut(1, 3);
  c.Elect(3);
  EXPECT_NE(c.raft(3).state(), StateType::kLeader);
  EXPECT_GT(c.raft(2).drops().ignored_votes, 0u);
  EXPECT_EQ(c.Leader(), 1u);
}

// Found by the simulator's vote check (seed 829): a leader of term 2, stopped, resumed to
// answers of term 3 from followers that had moved on ("tell it our term"), and then node
// 2's vote request of term 3. The answers had raised its term with no leader and no vote
// in it, so the request no longer looked like one of a newer term, the only kind the
// lease rule was applied to, and it granted. A follower that just acknowledged a leader
// and then meets an answer of a newer term (a late one, to a campaign of its own) would
// do the same, and the leader's lease reads could miss the winner's writes.
TEST(ElectionTest, ANodeThatHeardTheLeaderVotesForNoRivalWhateverRaisedItsTerm) {
  TestCluster c(3, 0, PreVote(false, true));
  c.Elect(1);
  c.Tick(1);  // a heartbeat: node 3 hears the leader
  c.Stabilize();
  Raft& r = c.mutable_raft(3);
  ASSERT_EQ(r.lead(), 1u);
  const uint64_t term = r.term() + 1;
  Message answer;
  answer.type = MessageType::kAppResp;
  answer.from = 2;
  answer.to = 3;
  answer.term = term;
  ASSERT_TRUE(r.Step(answer).ok());
  ASSERT_EQ(r.term(), term);
  ASSERT_EQ(r.lead(), kNone);
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = 2;
  vote.to = 3;
  vote.term = term;
  vote.index = r.log().LastIndex();
  vote.log_term = r.log().LastTerm();
  ASSERT_TRUE(r.Step(vote).ok());
  EXPECT_EQ(r.vote(), kNone);
  EXPECT_EQ(r.drops().ignored_votes, 1u);
}

TEST(ElectionTest, LearnerNeverCampaigns) {
  TestCluster c(1, 1);
  c.Elect(1);
  c.Isolate(2);
  c.Tick(2, 100);
  EXPECT_EQ(c.raft(2).state(), StateType::kFollower);
  EXPECT_FALSE(c.raft(2).Promotable());
}

TEST(ElectionTest, FollowerRefusesProposalWithoutLeader) {
  TestCluster c(3);
  absl::Status s = c.Propose(2, "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(c.raft(2).drops().proposals, 1u);
}

}  // namespace
}  // namespace rb::raft
