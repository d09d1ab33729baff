#include "server/force_new_cluster.h"

#include "gtest/gtest.h"
#include "raft/codec.h"
#include "storage/test_util.h"

namespace rb::server {
namespace {

raft::Entry Removal(uint64_t index, uint64_t term, uint64_t id) {
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, id});
  return raft::Entry{term, index, raft::EntryType::kConfChange, raft::EncodeConfChange(cc)};
}

// Entries 1..10 of term 2, applied through 5 with voters {1,2,3} and learner 4; entry 6
// (committed, not applied) removes 3; the commit index is 7.
std::unique_ptr<storage::Store> Survivor(const std::string& dir) {
  auto store = storage::OpenStore(dir);
  std::vector<raft::Entry> log = storage::MakeEntries(1, 10, 2);
  log[5] = Removal(6, 2, 3);
  raft::ConfState cs;
  cs.voters = {1, 2, 3};
  cs.learners = {4};
  EXPECT_TRUE(store
                  ->Write([&](storage::WriteTxn* txn) -> absl::Status {
                    absl::Status s = txn->AppendEntries(log);
                    if (!s.ok()) return s;
                    s = txn->SetHardState(raft::HardState{3, 1, 7});
                    if (!s.ok()) return s;
                    return txn->SetApplied(5, cs);
                  })
                  .ok());
  return store;
}

TEST(ForceNewClusterTest, KeepsTheWholeLogAndRemovesEveryOtherMember) {
  auto store = Survivor(storage::MakeTempDir());
  std::vector<raft::Entry> before;
  ASSERT_TRUE(store->Entries(1, 11, 1 << 20, &before).ok());
  auto forced = ForceNewCluster(store.get(), 1);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->removed_members, 2u);         // 2 and 4; entry 6 removes 3 already
  EXPECT_EQ(forced->committed_tail_entries, 3u);  // 8, 9, 10: perhaps acknowledged already
  EXPECT_EQ(forced->commit_index, 12u);
  EXPECT_EQ(store->LastIndex().value(), 12u);
  EXPECT_EQ(store->hard_state().commit, 12u);
  EXPECT_EQ(store->hard_state().term, 3u);
  std::vector<raft::Entry> after;
  ASSERT_TRUE(store->Entries(1, 13, 1 << 20, &after).ok());
  ASSERT_EQ(after.size(), 12u);
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].term, before[i].term) << i;
    EXPECT_EQ(after[i].data, before[i].data) << i;
  }
  std::vector<uint64_t> removed;
  for (size_t i = 10; i < after.size(); ++i) {
    EXPECT_EQ(after[i].term, 3u);
    auto cc = raft::DecodeConfChange(after[i].data);
    ASSERT_TRUE(cc.ok());
    ASSERT_EQ(cc->changes.size(), 1u);
    EXPECT_EQ(cc->changes[0].type, raft::ConfChangeType::kRemoveNode);
    removed.push_back(cc->changes[0].node_id);
  }
  EXPECT_EQ(removed, (std::vector<uint64_t>{2, 4}));

  // Forcing again finds the node alone: nothing more is written.
  auto again = ForceNewCluster(store.get(), 1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->removed_members, 0u);
  EXPECT_EQ(store->LastIndex().value(), 12u);
}

// A change past the commit index counts too: the node will apply it.
TEST(ForceNewClusterTest, TheTailsConfChangesCount) {
  auto store = Survivor(storage::MakeTempDir());
  ASSERT_TRUE(store
                  ->Write([](storage::WriteTxn* txn) {
                    return txn->AppendEntries({Removal(9, 2, 2)});  // replaces 9 and 10
                  })
                  .ok());
  auto forced = ForceNewCluster(store.get(), 1);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->removed_members, 1u);  // only 4 is left to remove
  EXPECT_EQ(forced->committed_tail_entries, 2u);
  EXPECT_EQ(store->LastIndex().value(), 10u);
  EXPECT_EQ(store->hard_state().commit, 10u);
  // And a node the tail removes cannot be forced.
  auto other = Survivor(storage::MakeTempDir());
  ASSERT_TRUE(
      other->Write([](storage::WriteTxn* txn) { return txn->AppendEntries({Removal(9, 2, 1)}); })
          .ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(ForceNewCluster(other.get(), 1).status()));
}

TEST(ForceNewClusterTest, RefusesALearnerOrANodeNoLongerAVoter) {
  auto store = Survivor(storage::MakeTempDir());
  EXPECT_TRUE(absl::IsFailedPrecondition(ForceNewCluster(store.get(), 4).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(ForceNewCluster(store.get(), 3).status()));
  EXPECT_EQ(store->LastIndex().value(), 10u);  // untouched
}

}  // namespace
}  // namespace rb::server
