// The Figure 8 anomaly of the Raft paper on its own schedule: safe with the correct commit
// rule, and caught at once with the commit_by_counting mutant (base/mutation.h). Built
// twice: figure8_test is the production core; figure8_mutant_test has the mutants
// compiled in (base/mutation.bzl) and runs the mutant too.
#include "base/mutation.h"
#include "gtest/gtest.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

// The schedule of Figure 8 (d). With a core that commits earlier-term entries by counting
// replicas (the commit_by_counting mutant), the invariant checker (the one the simulator
// runs after every event) must stop the run at the unsafe commit in (c): S5, which lacks
// the entry, could still win.
void RunFigure8Schedule() {
  TestCluster c(5, 0, [&](Config* cfg) {
    cfg->max_size_per_msg_bytes = 1;  // one entry per append
  });
  c.SetLog(1, {1, 2}, 3);  // S1: index 2 from term 2 (its own, once)
  c.SetLog(2, {1, 2}, 2);  // S2 received it
  c.SetLog(3, {1}, 2);
  c.SetLog(4, {1}, 2);
  c.SetLog(5, {1, 3}, 3);  // S5: index 2 from term 3, never replicated
  // (c) S1 leads term 4 and re-replicates index 2 to S3, but not its own term-4 entry.
  c.Cut(1, 4);
  c.Cut(1, 5);
  c.set_filter(StripEntriesFrom(3));
  ASSERT_EQ(c.Elect(1), 1u);
  c.Stabilize();
  ASSERT_EQ(c.raft(3).log().LastIndex(), 2u);
  // (d) S1 is cut off; S5 wins term 5 with S2, S3, S4 and overwrites index 2.
  c.Recover();
  c.Isolate(1);
  c.Elect(5);  // term 4: the others already voted for S1
  c.Elect(5);  // term 5: S2, S3, S4 vote for S5, whose last term (3) beats theirs (2)
  c.Stabilize();
  // Safe core: index 2 was never committed, so S5 overwriting it is legal.
  EXPECT_EQ(c.raft(5).state(), StateType::kLeader);
  EXPECT_EQ(c.raft(2).log().TermOrZero(2), 3u);
}

TEST(ReplicationTest, Figure8ScheduleIsSafe) {
  RunFigure8Schedule();  // the invariant checker runs throughout and stays quiet
}

#ifdef RB_MUTANTS
TEST(ReplicationDeathTest, Figure8BugIsCaughtAtTheUnsafeCommit) {
  // In (c), S1 (term 4) counts index 2 (term 2) on a majority and commits it: the rule a
  // leader breaks there is checked where it breaks it (before (d) would show the damage:
  // S5 could win and overwrite it, as the commit-safety check also says).
  mutation::Activate(mutation::Mutant::kCommitByCounting);
  EXPECT_DEATH(RunFigure8Schedule(),
               "on node 1 \\(term 4, leader\\): leader committed entry 2 of term 2 by counting");
  mutation::Activate(mutation::Mutant::kNone);
}
#endif  // RB_MUTANTS

}  // namespace
}  // namespace rb::raft
