// Membership changes: single-server changes, joint consensus (thesis chapter 4), learners.
#include "gtest/gtest.h"
#include "raft/codec.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

ConfChange Simple(ConfChangeType type, uint64_t id) {
  ConfChange cc;
  cc.changes.push_back({type, id});
  return cc;
}

ConfChange Joint(ConfChangeTransition t, std::vector<ConfChangeSingle> changes) {
  ConfChange cc;
  cc.transition = t;
  cc.changes = std::move(changes);
  return cc;
}

std::vector<uint64_t> Voters(const TestCluster& c, uint64_t id) {
  return c.raft(id).tracker().GetConfState().voters;
}

TEST(MembershipTest, AddVoterCatchesUpAndVotes) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "before").ok());
  c.Stabilize();
  c.AddNode(4);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddNode, 4)).ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(Voters(c, 1), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Voters(c, 4), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(c.AppliedData(4), std::vector<std::string>{"before"});
  // With 4 voters, a majority is 3: 1 and 2 alone cannot commit.
  c.Isolate(3);
  c.Isolate(4);
  ASSERT_TRUE(c.Propose(1, "needs three").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(1).size(), 1u);
}

TEST(MembershipTest, RemoveFollower) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kRemoveNode, 3)).ok());
  c.Stabilize();
  EXPECT_EQ(Voters(c, 1), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(c.raft(1).tracker().progress.count(3), 0u);
  // 1 and 2 are now a full quorum.
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(2), std::vector<std::string>{"x"});
}

// Ticks until some node other than `removed` leads (within an election timeout: the
// removed leader hands over, or steps down when the handover times out).
uint64_t TickUntilMemberLeads(TestCluster& c, uint64_t removed) {
  for (int i = 0; i < 20; ++i) {
    const uint64_t leader = c.Leader();
    if (leader != 0 && leader != removed) return leader;
    c.TickAll(1);
    c.Stabilize();
  }
  return 0;
}

// The removed leader no longer hears from the new one (it is not in the configuration):
// it steps down when its handover times out, within one election timeout.
void TickUntilFollower(TestCluster& c, uint64_t id) {
  for (int i = 0; i < 25 && c.raft(id).state() == StateType::kLeader; ++i) {
    c.TickAll(1);
    c.Stabilize();
  }
}

TEST(MembershipTest, RemovedLeaderHandsOverAndStepsDown) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kRemoveNode, 1)).ok());
  c.Stabilize();
  const uint64_t successor = TickUntilMemberLeads(c, 1);
  EXPECT_TRUE(successor == 2 || successor == 3);
  TickUntilFollower(c, 1);
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
  EXPECT_EQ(Voters(c, 2), (std::vector<uint64_t>{2, 3}));
  c.Isolate(1);
  const uint64_t leader = c.TickUntilLeader();
  EXPECT_TRUE(leader == 2 || leader == 3);
  ASSERT_TRUE(c.Propose(leader, "after removal").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(2), std::vector<std::string>{"after removal"});
}

TEST(MembershipTest, ReplaceLeaderThroughJointConsensus) {
  TestCluster c(3);
  c.Elect(1);
  c.AddNode(4);
  // {1,2,3} -> {2,3,4} in one joint change, left automatically.
  ConfChange cc = Joint(ConfChangeTransition::kAuto,
                        {{ConfChangeType::kRemoveNode, 1}, {ConfChangeType::kAddNode, 4}});
  ASSERT_TRUE(c.ProposeConfChange(1, cc).ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_NE(TickUntilMemberLeads(c, 1), 0u);
  TickUntilFollower(c, 1);
  for (uint64_t id : {2, 3, 4}) {
    const ConfState cs = c.raft(id).tracker().GetConfState();
    EXPECT_EQ(cs.voters, (std::vector<uint64_t>{2, 3, 4})) << id;
    EXPECT_TRUE(cs.voters_outgoing.empty()) << "still joint on " << id;
  }
  EXPECT_EQ(c.raft(1).state(), StateType::kFollower);
  c.Isolate(1);
  const uint64_t leader = c.TickUntilLeader();
  EXPECT_NE(leader, 0u);
  EXPECT_NE(leader, 1u);
}

// Found by the simulator: the removed leader's commit index may never reach the survivor,
// which then still needs the old leader's vote. The handover (a transfer to the survivor)
// gets it elected anyway.
TEST(MembershipTest, RemovedLeaderHandsOverEvenIfTheCommitIsLost) {
  TestCluster c(1);
  c.Elect(1);
  c.AddNode(2);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddLearnerNode, 2)).ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  // Replace 1 by 2, leaving joint consensus automatically; lose every append that would
  // tell node 2 the leave entry is committed.
  ConfChange cc = Joint(ConfChangeTransition::kAuto,
                        {{ConfChangeType::kRemoveNode, 1}, {ConfChangeType::kAddNode, 2}});
  ASSERT_TRUE(c.ProposeConfChange(1, cc).ok());
  c.Stabilize();
  const uint64_t leave_index = c.raft(1).log().LastIndex();
  c.set_filter([&](Message* m) {
    return !(m->type == MessageType::kApp && m->commit >= leave_index && m->to == 2);
  });
  c.Stabilize();
  c.Recover();
  EXPECT_EQ(TickUntilMemberLeads(c, 1), 2u);
  ASSERT_TRUE(c.Propose(2, "survivor").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(2).back(), "survivor");
}

// Found by the simulator (seed 7101035761): as above, but the removed leader had appended
// an entry the survivor never got, and then restarted before handing over. It knows the
// leave is committed and is no voter, so it never campaigns; the survivor, still joint,
// needs its vote, which its shorter log can never win. A rejected vote now carries how far
// the voter knows the candidate's log is committed, which takes the survivor out of the
// joint configuration, and it wins alone.
TEST(MembershipTest, SurvivorLearnsTheLeaveFromTheRemovedLeadersVoteRejection) {
  TestCluster c(1, 0, [](Config* cfg) {
    cfg->pre_vote = true;
    cfg->max_size_per_msg_bytes = 1;  // one entry per append, so the tail can be held back
  });
  c.Elect(1);
  c.AddNode(2);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddLearnerNode, 2)).ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  // Joint {1}&&{2}, left automatically; node 2 hears nothing until the leave is appended.
  c.Cut(1, 2);
  ASSERT_TRUE(c.ProposeConfChange(
                   1, Joint(ConfChangeTransition::kAuto,
                            {{ConfChangeType::kRemoveNode, 1}, {ConfChangeType::kAddNode, 2}}))
                  .ok());
  c.Stabilize();
  ASSERT_TRUE(c.raft(1).tracker().config.voters.IsJoint());
  const uint64_t leave = c.raft(1).log().LastIndex();
  ASSERT_TRUE(c.Propose(1, "tail").ok());  // still joint: accepted, after the leave
  // Node 2 gets entries up to the leave, never the tail, never a commit index reaching the
  // leave, and never the handover.
  c.Recover();
  c.set_filter([&](Message* m) {
    if (m->to != 2) return true;
    if (m->type == MessageType::kTimeoutNow) return false;
    if (!m->entries.empty() && m->entries.back().index > leave) return false;
    m->commit = std::min(m->commit, leave - 1);
    return true;
  });
  c.Stabilize();
  ASSERT_GE(c.raft(1).log().committed(), leave);
  ASSERT_EQ(Voters(c, 1), std::vector<uint64_t>{2});
  ASSERT_EQ(c.raft(2).log().LastIndex(), leave);
  ASSERT_TRUE(c.raft(2).tracker().config.voters.IsJoint());
  c.set_filter(nullptr);
  c.Restart(1);  // a follower now, outside its configuration: it will never campaign
  EXPECT_EQ(c.TickUntilLeader(), 2u);
  EXPECT_EQ(Voters(c, 2), std::vector<uint64_t>{2});
}

// Found by the simulator (seed 52000098599): a candidate may now learn a commit from a
// vote rejection and apply a change that removes it while it campaigns. When the votes
// then came in, it became leader of a configuration without itself, and the core crashed
// looking up its own progress. A candidate that is no longer a voter steps down instead.
TEST(MembershipTest, CandidateRemovedWhileCampaigningDoesNotLead) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  c.node(3).Campaign();
  c.ProcessReadies();
  ASSERT_EQ(c.raft(3).state(), StateType::kCandidate);
  ASSERT_TRUE(c.node(3).ApplyConfChange(Simple(ConfChangeType::kRemoveNode, 3)).ok());
  for (uint64_t from : {1, 2}) {
    Message m;
    m.type = MessageType::kVoteResp;
    m.from = from;
    m.to = 3;
    m.term = c.raft(3).term();
    c.node(3).Step(m).IgnoreError();
  }
  EXPECT_NE(c.raft(3).state(), StateType::kLeader);
}

TEST(MembershipTest, ExplicitJointStaysUntilLeft) {
  TestCluster c(3);
  c.Elect(1);
  c.AddNode(4);
  ASSERT_TRUE(c.ProposeConfChange(
                   1, Joint(ConfChangeTransition::kJointExplicit, {{ConfChangeType::kAddNode, 4}}))
                  .ok());
  c.Stabilize();
  ConfState cs = c.raft(1).tracker().GetConfState();
  EXPECT_EQ(cs.voters, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(cs.voters_outgoing, (std::vector<uint64_t>{1, 2, 3}));
  // In joint consensus only the empty (leave) change is accepted.
  EXPECT_EQ(c.ProposeConfChange(1, Simple(ConfChangeType::kAddNode, 5)).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(c.ProposeConfChange(1, ConfChange{}).ok());
  c.Stabilize();
  cs = c.raft(1).tracker().GetConfState();
  EXPECT_TRUE(cs.voters_outgoing.empty());
  EXPECT_EQ(cs.voters, (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST(MembershipTest, JointConfigurationNeedsBothMajorities) {
  TestCluster c(3);
  c.Elect(1);
  c.AddNode(4);
  c.AddNode(5);
  ASSERT_TRUE(c.ProposeConfChange(
                   1, Joint(ConfChangeTransition::kJointExplicit, {{ConfChangeType::kRemoveNode, 2},
                                                                   {ConfChangeType::kRemoveNode, 3},
                                                                   {ConfChangeType::kAddNode, 4},
                                                                   {ConfChangeType::kAddNode, 5}}))
                  .ok());
  c.Stabilize();
  ASSERT_TRUE(c.raft(1).tracker().config.voters.IsJoint());
  // The new half {1,4,5} is reachable, the old {1,2,3} is not: nothing commits.
  c.Isolate(2);
  c.Isolate(3);
  const uint64_t committed = c.raft(1).log().committed();
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).log().committed(), committed);
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_GT(c.raft(1).log().committed(), committed);
}

TEST(MembershipTest, OnlyOneChangePendingAtATime) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(2);
  c.Isolate(3);  // the first change cannot commit
  c.AddNode(4);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddNode, 4)).ok());
  absl::Status s = c.ProposeConfChange(1, Simple(ConfChangeType::kAddNode, 5));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("pending"), std::string::npos);
}

TEST(MembershipTest, ARefusedProposalLeavesNoChangePending) {
  TestCluster c(3);
  c.Elect(1);
  c.Stabilize();
  c.AddNode(4);
  c.AddNode(5);
  // Two changes in one proposal: refused whole, and the first must not stay pending (it
  // blocked every later change until the log grew past an index it never had).
  Message both;
  both.type = MessageType::kProp;
  both.from = 1;
  both.to = 1;
  for (uint64_t id : {4, 5}) {
    both.entries.push_back(Entry{0, 0, EntryType::kConfChange,
                                 EncodeConfChange(Simple(ConfChangeType::kAddLearnerNode, id))});
  }
  const uint64_t last = c.raft(1).log().LastIndex();
  EXPECT_EQ(c.mutable_raft(1).Step(both).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.raft(1).log().LastIndex(), last);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddLearnerNode, 4)).ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(1).tracker().GetConfState().learners, (std::vector<uint64_t>{4}));
}

TEST(MembershipTest, LearnerReplicatesButDoesNotCount) {
  TestCluster c(3, 1);  // node 4 is a learner
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(4), std::vector<std::string>{"x"});
  EXPECT_TRUE(c.raft(4).is_learner());
  // The learner's acknowledgment does not make a quorum with the leader.
  c.Isolate(2);
  c.Isolate(3);
  ASSERT_TRUE(c.Propose(1, "y").ok());
  c.Stabilize();
  EXPECT_EQ(c.AppliedData(1).size(), 1u);
}

TEST(MembershipTest, LearnerPromotedToVoter) {
  TestCluster c(3);
  c.Elect(1);
  c.AddNode(4);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddLearnerNode, 4)).ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_TRUE(c.raft(4).is_learner());
  EXPECT_EQ(c.raft(1).tracker().GetConfState().learners, std::vector<uint64_t>{4});
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kAddNode, 4)).ok());
  c.Stabilize();
  EXPECT_FALSE(c.raft(4).is_learner());
  EXPECT_EQ(Voters(c, 4), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(c.raft(4).Promotable());
}

TEST(MembershipTest, DemotingVoterInJointGoesThroughLearnersNext) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.ProposeConfChange(1, Joint(ConfChangeTransition::kJointExplicit,
                                           {{ConfChangeType::kAddLearnerNode, 3}}))
                  .ok());
  c.Stabilize();
  ConfState cs = c.raft(1).tracker().GetConfState();
  EXPECT_EQ(cs.learners_next, std::vector<uint64_t>{3});
  EXPECT_EQ(cs.voters_outgoing, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(c.ProposeConfChange(1, ConfChange{}).ok());
  c.Stabilize();
  cs = c.raft(1).tracker().GetConfState();
  EXPECT_EQ(cs.learners, std::vector<uint64_t>{3});
  EXPECT_EQ(cs.voters, (std::vector<uint64_t>{1, 2}));
}

TEST(MembershipTest, InvalidCommittedChangeLeavesConfigurationUnchanged) {
  TestCluster c(1);
  c.Elect(1);
  // Removing the only voter is refused when applied; every node refuses it alike.
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kRemoveNode, 1)).ok());
  c.Stabilize();
  EXPECT_EQ(Voters(c, 1), std::vector<uint64_t>{1});
  EXPECT_EQ(c.raft(1).state(), StateType::kLeader);
}

TEST(MembershipTest, RestartRecoversConfigurationFromLog) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.ProposeConfChange(1, Simple(ConfChangeType::kRemoveNode, 3)).ok());
  c.Stabilize();
  // The applied configuration is saved with the applied index (the harness does what a
  // production store does), so the node comes back with the same voters.
  c.Restart(2);
  EXPECT_EQ(Voters(c, 2), (std::vector<uint64_t>{1, 2}));
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(2).log().committed(), 2u);
  EXPECT_EQ(Voters(c, 2), (std::vector<uint64_t>{1, 2}));
}

}  // namespace
}  // namespace rb::raft
