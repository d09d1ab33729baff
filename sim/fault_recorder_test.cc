#include "sim/fault_recorder.h"

#include <vector>

#include "gtest/gtest.h"

namespace rb::sim::internal {
namespace {

// Two steps of one chain over two streams: a node, a coin, a delay; some of the draws are
// the step's effects (plain draws of the stream, not decisions).
struct ChainRun {
  raft::Rng main{7}, strand{8}, burst{9}, disk{10};
  std::vector<uint64_t> seen;
  std::vector<FaultStep> steps;
  uint64_t after = 0;  // the main stream's next value once both steps ran

  void Go(std::vector<FaultStep> replay) {
    FaultRecorder r({&main, &strand, &burst, &disk}, std::move(replay));
    for (int i = 0; i < 2; ++i) {
      r.Begin(FaultStep::Chain::kNemesis, 1000 * (i + 1));
      if (r.dropped()) {
        seen.push_back(r.SkipDropped());
        r.End(&steps);
        continue;
      }
      seen.push_back(r.Uniform(FaultStream::kMain, 5));
      seen.push_back(r.Chance(FaultStream::kStrand, 1, 2));
      main.Next();  // an effect: drawn alike whether recorded or replayed
      r.Describe("crash node x");
      seen.push_back(r.Range(FaultStream::kMain, 100, 200));
      r.End(&steps);
    }
    mismatches = r.mismatches();
    after = main.Next();
  }
  uint64_t mismatches = 0;
};

TEST(FaultRecorderTest, AReplayMakesTheRecordedChoicesWithoutDrawingThem) {
  ChainRun recorded;
  recorded.Go({});
  ASSERT_EQ(recorded.steps.size(), 2u);
  EXPECT_EQ(recorded.steps[0].decisions.size(), 3u);
  EXPECT_EQ(recorded.steps[0].description, "crash node x");

  // Change the recorded choices: a replay makes those, and its streams still end where
  // the recording's did.
  std::vector<FaultStep> edited = recorded.steps;
  edited[0].decisions[0].value = 4;
  ChainRun replayed;
  replayed.Go(edited);
  EXPECT_EQ(replayed.seen[0], 4u);
  EXPECT_EQ(replayed.after, recorded.after);
  EXPECT_EQ(replayed.mismatches, 0u);
}

TEST(FaultRecorderTest, ADroppedStepDrawsNothingButKeepsTheLaterStepsInLine) {
  ChainRun recorded;
  recorded.Go({});
  std::vector<FaultStep> edited = recorded.steps;
  edited[0].dropped = true;
  ChainRun replayed;
  replayed.Go(edited);
  ASSERT_EQ(replayed.seen.size(), 4u);  // the dropped step gave only its next delay
  EXPECT_EQ(replayed.seen[0], recorded.seen[2]);
  EXPECT_EQ(replayed.seen[1], recorded.seen[3]);  // the second step as recorded
  EXPECT_EQ(replayed.after, recorded.after);
  EXPECT_TRUE(replayed.steps[0].dropped);
  EXPECT_EQ(replayed.mismatches, 0u);
}

TEST(FaultRecorderTest, AChoiceThatNoLongerFitsIsDrawnAndCounted) {
  ChainRun recorded;
  recorded.Go({});
  std::vector<FaultStep> edited = recorded.steps;
  edited[1].decisions[0].value = 99;  // out of Uniform(5)'s range
  ChainRun replayed;
  replayed.Go(edited);
  EXPECT_LT(replayed.seen[3], 5u);
  EXPECT_GT(replayed.mismatches, 0u);
  EXPECT_EQ(replayed.after, recorded.after);  // the step drew the same amount
}

}  // namespace
}  // namespace rb::sim::internal
