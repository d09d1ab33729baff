// The simulator's checkers are only worth something if they catch real bugs. Each test
// runs a deliberately broken node variant and expects a violation within a bounded number
// of seeds.
//
// The Figure 8 bug (a leader committing an entry of an earlier term by counting replicas)
// is caught at the unsafe commit by the commit-safety invariant (raft/invariants.h): a
// voter lacking the entry could still win an election. Waiting for such a voter to win and
// overwrite the entry instead took about 7,000 seeds. raft/raft_replication_test also
// proves the rule on the scripted schedule of the paper.
#include "base/logging.h"
#include "gtest/gtest.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

// Runs seeds 1..max_seeds of `base` with the bug; returns the first failure (empty if
// none) and its seed.
std::string FirstFailure(SimOptions base, const node::NodeOptions::Bugs& bugs, int max_seeds,
                         uint64_t* seed_out) {
  SetMinLogSeverity(LogSeverity::kFatal);
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(max_seeds); ++seed) {
    base.seed = seed;
    base.bugs = bugs;
    SimResult r = RunSimulation(base);
    if (!r.ok) {
      *seed_out = seed;
      return r.failure;
    }
  }
  return "";
}

TEST(CheckerTest, ARunPastItsEventBoundFailsNamingIt) {
  // A livelocked cluster keeps scheduling events forever; a bound far below a normal run's
  // count stands in for one. The run must fail, not hang, and say which bound it met.
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 1;
  o.max_events_per_node_tick = 1;
  SimResult r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("ran away"), std::string::npos) << r.failure;
  EXPECT_NE(r.failure.find("1 per node per tick"), std::string::npos) << r.failure;

  o.max_events_per_node_tick = 1000;
  o.max_pending_events = 5;
  r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("events pending"), std::string::npos) << r.failure;

  // The default bounds leave a normal run alone.
  SimOptions normal;
  normal.seed = 1;
  r = RunSimulation(normal);
  EXPECT_TRUE(r.ok) << r.failure;
}

TEST(CheckerTest, AnUnfinishedLinearizabilityCheckFailsTheRun) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 1;
  o.max_linearizability_steps_per_key = 1;  // no history of this run settles in one step
  SimResult r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(r.linearizability_inconclusive);
  EXPECT_NE(r.failure.find("could not finish"), std::string::npos) << r.failure;
}

TEST(CheckerTest, AcknowledgingBeforePersistingIsCaught) {
  node::NodeOptions::Bugs bugs;
  bugs.send_before_persist = true;
  uint64_t seed = 0;
  const std::string failure = FirstFailure(SimOptions(), bugs, 10, &seed);
  ASSERT_FALSE(failure.empty()) << "not caught within 10 seeds";
  EXPECT_TRUE(failure.find("before") != std::string::npos &&
              failure.find("durable") != std::string::npos)
      << "seed " << seed << ": " << failure;
}

TEST(CheckerTest, SkippingVotePersistenceIsCaught) {
  node::NodeOptions::Bugs bugs;
  bugs.skip_vote_persistence = true;
  uint64_t seed = 0;
  const std::string failure = FirstFailure(SimOptions(), bugs, 10, &seed);
  ASSERT_FALSE(failure.empty()) << "not caught within 10 seeds";
  EXPECT_NE(failure.find("vote"), std::string::npos) << "seed " << seed << ": " << failure;
}

// Every new leader gets a leader-targeted fault, and appends carry one entry each, so a
// follower can acknowledge an entry of an earlier term without the leader's own.
void ExpectCommitByCountingCaught(int voters, int max_seeds) {
  SimOptions o;
  o.voters = voters;
  o.leader_faults = SimOptions::LeaderFaults::kAlways;
  o.max_msg_bytes = 1;
  node::NodeOptions::Bugs bugs;
  bugs.commit_by_counting = true;
  uint64_t seed = 0;
  const std::string failure = FirstFailure(o, bugs, max_seeds, &seed);
  ASSERT_FALSE(failure.empty()) << "not caught within " << max_seeds << " seeds";
  EXPECT_NE(failure.find("lacks committed entry"), std::string::npos)
      << "seed " << seed << ": " << failure;
  // The same schedule with the correct commit rule is fine: the checker blames the bug.
  o.seed = seed;
  o.bugs = node::NodeOptions::Bugs();
  const SimResult correct = RunSimulation(o);
  EXPECT_TRUE(correct.ok) << "seed " << seed << ": " << correct.failure;
}

TEST(CheckerTest, CommitByCountingIsCaughtWithThreeVoters) { ExpectCommitByCountingCaught(3, 200); }

TEST(CheckerTest, CommitByCountingIsCaughtWithFiveVoters) { ExpectCommitByCountingCaught(5, 200); }

}  // namespace
}  // namespace rb::sim
