// The invariant checker must catch broken states; these tests break them on purpose.
#include "raft/invariants.h"

#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

std::vector<const Raft*> All(TestCluster& c) {
  std::vector<const Raft*> out;
  for (uint64_t id : c.ids()) out.push_back(&c.raft(id));
  return out;
}

TEST(InvariantsTest, HealthyClusterPasses) {
  TestCluster c(3);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  c.Stabilize();
  InvariantChecker checker;
  EXPECT_TRUE(checker.Observe(All(c)).ok());
}

TEST(InvariantsTest, DetectsTwoLeadersInOneTerm) {
  // Two worlds where different nodes lead term 1, observed as one cluster: what a core that
  // granted two votes in one term would produce.
  TestCluster a(3), b(3);
  a.Elect(1);
  b.Elect(2);
  InvariantChecker checker;
  checker.set_full_log_checks(false);
  ASSERT_TRUE(checker.Observe({&a.raft(1)}).ok());
  absl::Status s = checker.Observe({&b.raft(2)});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("two leaders in term 1"), std::string::npos) << s;
}

TEST(InvariantsTest, DetectsCommitGoingBackward) {
  TestCluster c(1);
  c.Elect(1);
  ASSERT_TRUE(c.Propose(1, "x").ok());
  InvariantChecker checker;
  ASSERT_TRUE(checker.Observe(All(c)).ok());
  // The same node id seen again with a lower commit index (as if it lost durable state).
  TestCluster older(1);
  older.Elect(1);
  absl::Status s = checker.Observe({&older.raft(1)});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("commit went back"), std::string::npos) << s;
}

TEST(InvariantsTest, DetectsDivergentCommittedEntries) {
  TestCluster a(3), b(3);
  a.Elect(1);
  b.Elect(1);
  ASSERT_TRUE(a.Propose(1, "left").ok());
  ASSERT_TRUE(b.Propose(1, "right").ok());
  a.Stabilize();
  b.Stabilize();
  InvariantChecker checker;
  checker.set_full_log_checks(true);
  // Same index, same term, different data, both committed: log matching is broken.
  absl::Status s = checker.Observe({&a.raft(1), &b.raft(2)});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("log matching"), std::string::npos) << s;
}

// Later leaders never get acknowledgments: nothing past index 1 commits, and the leader
// of term 3 (node 3) holds index 2 from term 2, and its own entry of term 3 at index 3.
void LeaderOfTerm3HoldsAnUncommittedEntryOfTerm2(TestCluster* c) {
  c->Elect(2);
  c->IgnoreType(MessageType::kAppResp);
  c->Elect(1);
  c->Elect(3);
  ASSERT_EQ(c->raft(3).term(), 3u);
  ASSERT_EQ(c->raft(3).log().committed(), 1u);
  ASSERT_EQ(c->raft(3).log().TermOrZero(2), 2u);
}

TEST(InvariantsTest, DetectsLeaderMissingCommittedEntry) {
  TestCluster a(3), b(3);
  a.Elect(1);
  ASSERT_TRUE(a.Propose(1, "x").ok());
  a.Stabilize();  // index 2 (term 1) committed in a
  LeaderOfTerm3HoldsAnUncommittedEntryOfTerm2(&b);
  InvariantChecker checker;
  checker.set_full_log_checks(false);
  ASSERT_TRUE(checker.Observe({&a.raft(2)}).ok());  // a different id than b's leader
  absl::Status s = checker.Observe({&b.raft(3)});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("lacks committed entry 2 of term 1"), std::string::npos) << s;
}

// Figure 8: a leader commits an earlier term's entry only with one of its own.
TEST(InvariantsTest, DetectsLeaderCommittingAnEarlierTermsEntryByCounting) {
  for (const uint64_t commit : {3, 2}) {
    TestCluster c(3);
    LeaderOfTerm3HoldsAnUncommittedEntryOfTerm2(&c);
    InvariantChecker checker;
    checker.set_full_log_checks(false);
    ASSERT_TRUE(checker.Observe({&c.raft(3)}).ok());
    c.mutable_raft(3).mutable_log().CommitTo(commit);
    absl::Status s = checker.Observe({&c.raft(3)});
    if (commit == 3) {
      EXPECT_TRUE(s.ok()) << s;  // with its own entry: index 2 is committed with it
    } else {
      EXPECT_FALSE(s.ok());
      EXPECT_NE(s.message().find("committed entry 2 of term 2 by counting"), std::string::npos)
          << s;
    }
  }
}

TEST(InvariantsTest, DetectsCampaignWithUnappliedConfChange) {
  TestCluster c(3);
  c.Elect(1);
  Raft& r = c.mutable_raft(2);
  ASSERT_EQ(r.log().applied(), r.log().committed());
  Entry cc;
  cc.type = EntryType::kConfChange;
  cc.term = r.term();
  cc.index = r.log().LastIndex() + 1;
  std::vector<Entry> entries{cc};
  r.mutable_log().Append(absl::MakeSpan(entries));
  InvariantChecker checker;
  checker.set_full_log_checks(false);
  ASSERT_TRUE(checker.Observe({&r}).ok());
  // Learning, while it campaigns, that the change is committed is no violation: it stands
  // down if it wins.
  r.BecomePreCandidate();
  r.mutable_log().CommitTo(cc.index);
  ASSERT_TRUE(checker.Observe({&r}).ok());
  r.BecomeFollower(r.term(), kNone);
  ASSERT_TRUE(checker.Observe({&r}).ok());
  // Campaigning again, knowing it committed and not yet applied, is.
  r.BecomePreCandidate();
  absl::Status s = checker.Observe({&r});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("campaigns with configuration change"), std::string::npos) << s;
}

// No false alarms: the states a node legitimately passes through are accepted. (The
// tests above are the ones that feed the checker broken states.)
TEST(InvariantsTest, CheckNodeAcceptsCandidateThenLeader) {
  TestCluster c(3);
  Raft& r = c.mutable_raft(1);
  r.BecomeCandidate();
  EXPECT_TRUE(CheckNode(r).ok());
  r.BecomeLeader();
  EXPECT_TRUE(CheckNode(r).ok());
}

}  // namespace
}  // namespace rb::raft
