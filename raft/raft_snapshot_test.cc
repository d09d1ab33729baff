// Snapshots and log compaction: a follower behind the compacted prefix gets a snapshot.
#include "gtest/gtest.h"
#include "raft/codec.h"
#include "raft/test_cluster.h"

namespace rb::raft {
namespace {

// Snapshots node id's applied state and compacts its log up to the applied index.
void SnapshotAndCompact(TestCluster& c, uint64_t id) {
  const uint64_t applied = c.raft(id).log().applied();
  std::string data;
  for (const std::string& s : c.AppliedData(id)) data += s + ",";
  ASSERT_TRUE(
      c.storage(id).CreateSnapshot(applied, c.raft(id).tracker().GetConfState(), data).ok());
  ASSERT_TRUE(c.storage(id).Compact(applied).ok());
}

TEST(SnapshotTest, FollowerBehindCompactedLogGetsSnapshotThenReplicates) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(1, "v" + std::to_string(i)).ok());
  c.Stabilize();
  SnapshotAndCompact(c, 1);
  EXPECT_EQ(c.raft(1).log().FirstIndex(), 12u);

  int snapshots_sent = 0;
  c.Recover();
  c.set_filter([&](Message* m) {
    if (m->type == MessageType::kSnap) ++snapshots_sent;
    return true;
  });
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(snapshots_sent, 1);
  c.node(1).ReportSnapshot(3, /*failed=*/false);
  EXPECT_EQ(c.raft(3).log().committed(), 11u);
  EXPECT_EQ(c.raft(3).log().FirstIndex(), 12u);
  ASSERT_FALSE(c.test_node(3).applied.empty());
  EXPECT_EQ(c.test_node(3).applied[0].data, "snapshot:v0,v1,v2,v3,v4,v5,v6,v7,v8,v9,");

  // Replication resumes normally after the snapshot.
  ASSERT_TRUE(c.Propose(1, "after").ok());
  c.Stabilize();
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(3).log().committed(), 12u);
  EXPECT_EQ(c.AppliedData(3).back(), "after");
  EXPECT_EQ(c.raft(1).tracker().progress.at(3).state, ProgressState::kReplicate);
}

TEST(SnapshotTest, FailedSnapshotReturnsToProbe) {
  TestCluster c(3);
  c.Elect(1);
  c.Isolate(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Stabilize();
  SnapshotAndCompact(c, 1);
  c.Recover();
  c.IgnoreType(MessageType::kSnap);  // the transfer is lost
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(1).tracker().progress.at(3).state, ProgressState::kSnapshot);
  c.node(1).ReportSnapshot(3, /*failed=*/true);
  EXPECT_EQ(c.raft(1).tracker().progress.at(3).state, ProgressState::kProbe);
  EXPECT_EQ(c.raft(1).tracker().progress.at(3).pending_snapshot, 0u);
  // The next heartbeat response re-triggers a snapshot, which now arrives.
  c.Recover();
  c.TickAll(1);
  c.Stabilize();
  c.node(1).ReportSnapshot(3, false);
  c.TickAll(1);
  c.Stabilize();
  EXPECT_EQ(c.raft(3).log().committed(), 4u);
}

// A MsgSnap from leader 1 in term 1 carrying a snapshot at `index` of configuration `cs`.
Message SnapMessage(uint64_t to, uint64_t index, const ConfState& cs) {
  auto snap = std::make_shared<Snapshot>();
  snap->metadata.index = index;
  snap->metadata.term = 1;
  snap->metadata.conf_state = cs;
  Message m;
  m.type = MessageType::kSnap;
  m.from = 1;
  m.to = to;
  m.term = 1;
  m.snapshot = snap;
  return m;
}

TEST(SnapshotTest, StaleSnapshotIsIgnored) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Stabilize();
  ASSERT_TRUE(c.node(2).Step(SnapMessage(2, 2, c.raft(1).tracker().GetConfState())).ok());
  c.ProcessReadies();
  EXPECT_EQ(c.raft(2).log().committed(), 4u);
  EXPECT_FALSE(c.raft(2).log().HasPendingSnapshot());
}

// Found by the simulator: a node added after the leader's newest snapshot gets that
// snapshot (whose configuration predates it), then the entries that add it.
TEST(SnapshotTest, NodeAddedAfterTheSnapshotCatchesUp) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(1, "v" + std::to_string(i)).ok());
  c.Stabilize();
  SnapshotAndCompact(c, 1);  // configuration {1,2,3} at index 6
  c.AddNode(4);
  ConfChange add;
  add.changes.push_back({ConfChangeType::kAddNode, 4});
  ASSERT_TRUE(c.ProposeConfChange(1, add).ok());
  ASSERT_TRUE(c.Propose(1, "after").ok());
  c.Stabilize();
  // The log before index 7 is gone, so node 4 must start from the snapshot without itself.
  ASSERT_TRUE(c.storage(1).Compact(7).ok());
  for (int i = 0; i < 10; ++i) {
    c.TickAll(1);
    c.Stabilize();
    c.node(1).ReportSnapshot(4, false);
  }
  EXPECT_EQ(c.raft(4).tracker().GetConfState().voters, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(c.AppliedData(4).back(), "after");
  EXPECT_EQ(c.raft(4).log().committed(), c.raft(1).log().committed());
}

TEST(SnapshotTest, RestartFromSnapshotRestoresConfigAndLog) {
  TestCluster c(3);
  c.Elect(1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c.Propose(1, "v").ok());
  c.Stabilize();
  SnapshotAndCompact(c, 2);
  c.Restart(2);
  EXPECT_EQ(c.raft(2).log().FirstIndex(), 5u);
  EXPECT_EQ(c.raft(2).log().committed(), 4u);
  EXPECT_EQ(c.raft(2).tracker().GetConfState().voters, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_TRUE(c.Propose(1, "w").ok());
  c.Stabilize();
  EXPECT_EQ(c.raft(2).log().committed(), 5u);
}

}  // namespace
}  // namespace rb::raft
