#include "raft/progress.h"

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

Progress Make(uint64_t match, uint64_t next, ProgressState state) {
  Progress pr(4, 0);
  pr.match = match;
  pr.next = next;
  if (state == ProgressState::kReplicate) pr.BecomeReplicate();
  pr.next = next;
  return pr;
}

TEST(ProgressTest, ProbePausesAfterOneAppendUntilUpdated) {
  Progress pr = Make(0, 5, ProgressState::kProbe);
  EXPECT_FALSE(pr.IsPaused());
  pr.UpdateOnEntriesSend(3, 30, 5);
  EXPECT_TRUE(pr.IsPaused());
  EXPECT_EQ(pr.next, 5u);  // probing does not advance next optimistically
  EXPECT_TRUE(pr.MaybeUpdate(7));
  EXPECT_FALSE(pr.IsPaused());
  EXPECT_EQ(pr.next, 8u);
}

TEST(ProgressTest, ReplicateAdvancesOptimisticallyAndFillsWindow) {
  Progress pr = Make(4, 5, ProgressState::kReplicate);
  for (int i = 0; i < 4; ++i) pr.UpdateOnEntriesSend(1, 10, pr.next);
  EXPECT_EQ(pr.next, 9u);
  EXPECT_TRUE(pr.IsPaused());
  pr.MaybeUpdate(6);
  pr.inflights.FreeLE(6);
  pr.msg_app_flow_paused = pr.inflights.Full();
  EXPECT_FALSE(pr.IsPaused());
}

TEST(ProgressTest, MaybeDecrToInReplicateResetsToMatch) {
  Progress pr = Make(5, 10, ProgressState::kReplicate);
  EXPECT_FALSE(pr.MaybeDecrTo(4, 4));  // stale: below match
  EXPECT_TRUE(pr.MaybeDecrTo(9, 9));
  EXPECT_EQ(pr.next, 6u);
}

TEST(ProgressTest, MaybeDecrToInProbeUsesHint) {
  Progress pr = Make(0, 10, ProgressState::kProbe);
  EXPECT_FALSE(pr.MaybeDecrTo(5, 5));  // not the probe in flight (next-1 = 9)
  EXPECT_TRUE(pr.MaybeDecrTo(9, 3));
  EXPECT_EQ(pr.next, 4u);
  EXPECT_TRUE(pr.MaybeDecrTo(3, 0));
  EXPECT_EQ(pr.next, 1u);  // never below match + 1
}

TEST(ProgressTest, SnapshotStateIsPausedAndProbesAfterIt) {
  Progress pr = Make(2, 3, ProgressState::kProbe);
  pr.BecomeSnapshot(10);
  EXPECT_TRUE(pr.IsPaused());
  pr.BecomeProbe();
  EXPECT_EQ(pr.next, 11u);
  EXPECT_EQ(pr.pending_snapshot, 0u);
}

}  // namespace
}  // namespace rb::raft
