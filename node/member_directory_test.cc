#include "node/member_directory.h"

#include "gtest/gtest.h"
#include "node/memory_node_store.h"
#include "node/state_machine.h"

namespace rb::node {
namespace {

raft::ConfChange Change(raft::ConfChangeType type, uint64_t id, std::string context) {
  raft::ConfChange cc;
  cc.changes.push_back({type, id});
  cc.context = std::move(context);
  return cc;
}

class MemberDirectoryTest : public ::testing::Test {
 protected:
  MemberDirectoryTest() : store_(raft::ConfState{{1}, {}, {}, {}, false}) {}

  void Record(const raft::ConfChange& cc, uint64_t index) {
    ASSERT_TRUE(store_.Apply([&](KvTxn* txn) { return RecordMemberChange(txn, cc, index); }).ok());
  }
  std::optional<std::string> Row(uint64_t id) {
    auto got = store_.Get(MemberRowKey(id));
    EXPECT_TRUE(got.ok());
    return got.ok() ? *got : std::nullopt;
  }

  MemoryNodeStore store_;
};

TEST_F(MemberDirectoryTest, AddRecordsTheContextAndRemoveDeletesIt) {
  Record(Change(raft::ConfChangeType::kAddLearnerNode, 7, "replica4 localhost:1234"), 5);
  EXPECT_EQ(Row(7), "replica4 localhost:1234");
  // A promotion says the same again; a change without context leaves the row alone.
  Record(Change(raft::ConfChangeType::kAddNode, 7, ""), 6);
  EXPECT_EQ(Row(7), "replica4 localhost:1234");
  Record(Change(raft::ConfChangeType::kRemoveNode, 7, "replica4 localhost:1234"), 7);
  EXPECT_EQ(Row(7), std::nullopt);
}

TEST_F(MemberDirectoryTest, ARemovalLeavesATombstoneUntilTheNodeIsAddedAgain) {
  Record(Change(raft::ConfChangeType::kAddNode, 7, "replica4 localhost:1234"), 5);
  EXPECT_EQ(*RemovedAt(store_, 7), 0u);
  Record(Change(raft::ConfChangeType::kRemoveNode, 7, ""), 9);
  EXPECT_EQ(*RemovedAt(store_, 7), 9u);
  EXPECT_EQ(*RemovedAt(store_, 8), 0u);
  EXPECT_FALSE(ValidateKey(RemovedRowKey(7)).ok()) << "clients must not write tombstones";
  // Wiped and joining again under the same name (the same id).
  Record(Change(raft::ConfChangeType::kAddLearnerNode, 7, "replica4 localhost:1234"), 12);
  EXPECT_EQ(*RemovedAt(store_, 7), 0u);
  EXPECT_EQ(Row(7), "replica4 localhost:1234");
}

TEST_F(MemberDirectoryTest, RowsAreReservedAndSortedById) {
  const std::string key = MemberRowKey(0x1234);
  EXPECT_FALSE(ValidateKey(key).ok()) << "clients must not be able to write member rows";
  EXPECT_LT(MemberRowKey(0x1234), MemberRowKey(0x10000));
  EXPECT_EQ(MemberIdFromRowKey(key), 0x1234u);
  EXPECT_EQ(MemberIdFromRowKey(MemberRowPrefix() + "zz"), std::nullopt);
  EXPECT_EQ(MemberIdFromRowKey("member/0000000000001234"), std::nullopt);
}

}  // namespace
}  // namespace rb::node
