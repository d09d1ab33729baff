// The simulator's checkers are only worth something if they catch real bugs. Each test
// runs a deliberately broken node variant and expects a violation within a bounded number
// of seeds. (The Figure 8 commit rule is proven in raft/raft_replication_test: random
// schedules have not reached that exact interleaving; see the README.)
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

}  // namespace
}  // namespace rb::sim
