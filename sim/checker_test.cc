// The simulator's checkers are only worth something if they catch real bugs. Each test
// runs a deliberately broken node variant and expects a violation within a bounded number
// of seeds.
//
// The Figure 8 bug (a leader committing an entry of an earlier term by counting replicas)
// needs a rare interleaving. Random schedules with leader-targeted faults do reach it, but
// only about once in 7,000 five-voter seeds (3 in 20,000 when last measured): too many for
// a bounded search here. So its test replays one schedule that random search found, and
// raft/raft_replication_test proves the rule with a scripted schedule.
#include "base/logging.h"
#include "gtest/gtest.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

// Runs seeds 1..max_seeds with the bug; returns the first failure (empty if none).
std::string FirstFailure(const node::NodeOptions::Bugs& bugs, int max_seeds, uint64_t* seed_out) {
  SetMinLogSeverity(LogSeverity::kFatal);
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(max_seeds); ++seed) {
    SimOptions o;
    o.seed = seed;
    o.bugs = bugs;
    SimResult r = RunSimulation(o);
    if (!r.ok) {
      *seed_out = seed;
      return r.failure;
    }
  }
  return "";
}

TEST(CheckerTest, AcknowledgingBeforePersistingIsCaught) {
  node::NodeOptions::Bugs bugs;
  bugs.send_before_persist = true;
  uint64_t seed = 0;
  const std::string failure = FirstFailure(bugs, 10, &seed);
  ASSERT_FALSE(failure.empty()) << "not caught within 10 seeds";
  EXPECT_TRUE(failure.find("before") != std::string::npos &&
              failure.find("durable") != std::string::npos)
      << "seed " << seed << ": " << failure;
}

TEST(CheckerTest, SkippingVotePersistenceIsCaught) {
  node::NodeOptions::Bugs bugs;
  bugs.skip_vote_persistence = true;
  uint64_t seed = 0;
  const std::string failure = FirstFailure(bugs, 10, &seed);
  ASSERT_FALSE(failure.empty()) << "not caught within 10 seeds";
  EXPECT_NE(failure.find("vote"), std::string::npos) << "seed " << seed << ": " << failure;
}

// Found by: bazel run -c opt //sim:simulate -- --seed=100000 --seeds=20000 --voters=5
//   --membership_changes=false --bug=commit_by_counting
// If the simulator's draws change, this seed stops reproducing the schedule (the test then
// fails on its first expectation); search again with that command and pin a new one.
TEST(CheckerTest, CommitByCountingIsCaughtOnAFoundSchedule) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 108855;
  o.voters = 5;
  o.membership_changes = false;
  o.bugs.commit_by_counting = true;
  const SimResult broken = RunSimulation(o);
  ASSERT_FALSE(broken.ok) << "the schedule no longer reaches Figure 8: " << broken.scenario;
  EXPECT_NE(broken.failure.find("lacks committed entry"), std::string::npos) << broken.failure;
  // The same schedule with the correct commit rule is fine: the checker blames the bug.
  o.bugs.commit_by_counting = false;
  const SimResult correct = RunSimulation(o);
  EXPECT_TRUE(correct.ok) << correct.failure;
}

}  // namespace
}  // namespace rb::sim
