#include "sim/membership_model.h"

#include "gtest/gtest.h"
#include "raft/codec.h"

namespace rb::sim {
namespace {

raft::Entry Change(uint64_t index, std::vector<raft::ConfChangeSingle> changes) {
  raft::ConfChange cc;
  cc.changes = std::move(changes);
  return raft::Entry{/*term=*/1, index, raft::EntryType::kConfChange, raft::EncodeConfChange(cc)};
}

raft::Entry Command(uint64_t index) {
  return raft::Entry{/*term=*/1, index, raft::EntryType::kNormal, std::string("put")};
}

raft::ConfState Voters(std::vector<uint64_t> ids) {
  raft::ConfState cs;
  cs.voters = std::move(ids);
  return cs;
}

TEST(MembershipModelTest, ARemovalHoldsUntilTheNodeIsAddedAgain) {
  using raft::ConfChangeType;
  MembershipModel m(Voters({1, 2, 3}));
  ASSERT_TRUE(m.Apply(Command(1)));
  ASSERT_TRUE(m.Apply(Change(2, {{ConfChangeType::kRemoveNode, 3}})));
  ASSERT_TRUE(m.Apply(Command(3)));
  ASSERT_TRUE(m.Apply(Change(4, {{ConfChangeType::kAddLearnerNode, 3}})));
  ASSERT_TRUE(m.Apply(Change(5, {{ConfChangeType::kRemoveNode, 3}})));
  EXPECT_EQ(m.applied_index(), 5u);

  EXPECT_EQ(m.RemovedAt(3, 1), 0u);
  EXPECT_EQ(m.RemovedAt(3, 2), 2u);
  EXPECT_EQ(m.RemovedAt(3, 3), 2u);
  EXPECT_EQ(m.RemovedAt(3, 4), 0u) << "added again at 4";
  EXPECT_EQ(m.RemovedAt(3, 5), 5u);
  EXPECT_EQ(m.RemovedAt(2, 5), 0u) << "never removed";
}

TEST(MembershipModelTest, AChangeTheConfigurationRefusesRecordsNothing) {
  using raft::ConfChangeType;
  MembershipModel m(Voters({1}));
  // Removing the only voter leaves no voter: the core refuses it, and so must the model.
  ASSERT_TRUE(m.Apply(Change(1, {{ConfChangeType::kRemoveNode, 1}})));
  EXPECT_EQ(m.RemovedAt(1, 1), 0u);
  // A removal in a joint change counts like any other.
  ASSERT_TRUE(m.Apply(Change(2, {{ConfChangeType::kAddNode, 2}})));
  ASSERT_TRUE(
      m.Apply(Change(3, {{ConfChangeType::kRemoveNode, 1}, {ConfChangeType::kAddNode, 3}})));
  EXPECT_EQ(m.RemovedAt(1, 3), 3u);
}

TEST(MembershipModelTest, EntriesGoInOrder) {
  MembershipModel m(Voters({1}));
  EXPECT_FALSE(m.Apply(Command(2))) << "index 1 is missing";
  EXPECT_EQ(m.applied_index(), 0u);
  EXPECT_TRUE(m.Apply(Command(1)));
  EXPECT_TRUE(m.Apply(Command(1))) << "already fed: ignored";
  EXPECT_EQ(m.applied_index(), 1u);
}

}  // namespace
}  // namespace rb::sim
