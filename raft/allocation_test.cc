// Pins the steady-state replicate path as allocation-free apart from payloads (which are
// shared, so a payload is allocated once per proposal whatever the fan-out). An allocation
// count, not a timing: deterministic for a given build.
#include "base/alloc_counter.h"
#include "gtest/gtest.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace rb::raft {
namespace {

constexpr int kMessages = 2000;
// MemoryStorage's vector doubles now and then; that is the storage's, not per message.
constexpr uint64_t kAllowedStorageGrowth = 24;

std::unique_ptr<RawNode> MakeNode(uint64_t id, MemoryStorage* storage,
                                  std::vector<uint64_t> voters) {
  ConfState cs;
  cs.voters = std::move(voters);
  storage->SetConfState(cs);
  Config c;
  c.id = id;
  c.storage = storage;
  c.max_inflight_msgs = 4 * kMessages;
  return *RawNode::Create(c);
}

void Handle(RawNode* node, MemoryStorage* storage, Ready* rd, std::vector<Message>* out) {
  node->GetReady(rd);
  ASSERT_TRUE(storage->Append(rd->entries).ok());
  if (rd->hard_state) storage->SetHardState(*rd->hard_state);
  for (Message& m : rd->messages) out->push_back(std::move(m));
  node->Advance();
}

TEST(AllocationTest, FollowerAppendPathAllocatesNothingPerMessage) {
  MemoryStorage storage;
  auto node = MakeNode(2, &storage, {1, 2});
  std::vector<Message> incoming(kMessages), out;
  out.reserve(4 * kMessages);
  for (int i = 0; i < kMessages; ++i) {
    Message& m = incoming[i];
    m.type = MessageType::kApp;
    m.from = 1;
    m.to = 2;
    m.term = 1;
    m.index = i;
    m.log_term = i == 0 ? 0 : 1;
    m.commit = i;
    m.entries.push_back(
        Entry{1, static_cast<uint64_t>(i + 1), EntryType::kNormal, std::string(100, 'x')});
  }
  Ready rd;
  // Warm up buffers (Ready vectors, unstable log) with the first tenth.
  for (int i = 0; i < kMessages / 10; ++i) {
    ASSERT_TRUE(node->Step(std::move(incoming[i])).ok());
    Handle(node.get(), &storage, &rd, &out);
  }
  const uint64_t before = AllocationCount();
  for (int i = kMessages / 10; i < kMessages; ++i) {
    ASSERT_TRUE(node->Step(std::move(incoming[i])).ok());
    Handle(node.get(), &storage, &rd, &out);
  }
  EXPECT_LE(AllocationCount() - before, kAllowedStorageGrowth);
  EXPECT_EQ(node->raft().log().committed(), static_cast<uint64_t>(kMessages - 1));
}

TEST(AllocationTest, LeaderProposalFanOutSharesOnePayload) {
  MemoryStorage s1, s2, s3;
  auto leader = MakeNode(1, &s1, {1, 2, 3});
  leader->Campaign();
  Ready rd;
  std::vector<Message> out;
  out.reserve(8 * kMessages);
  Handle(leader.get(), &s1, &rd, &out);
  // Make both followers replicate (acknowledge the leader's first entry).
  for (uint64_t id : {2, 3}) {
    Message vote;
    vote.type = MessageType::kVoteResp;
    vote.from = id;
    vote.to = 1;
    vote.term = 1;
    ASSERT_TRUE(leader->Step(vote).ok());
  }
  Handle(leader.get(), &s1, &rd, &out);
  ASSERT_EQ(leader->raft().state(), StateType::kLeader);
  for (uint64_t id : {2, 3}) {
    Message ack;
    ack.type = MessageType::kAppResp;
    ack.from = id;
    ack.to = 1;
    ack.term = 1;
    ack.index = 1;
    ASSERT_TRUE(leader->Step(ack).ok());
  }
  Handle(leader.get(), &s1, &rd, &out);
  std::vector<std::string> payloads(kMessages, std::string(100, 'p'));
  out.clear();
  const uint64_t before = AllocationCount();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(leader->Propose(std::move(payloads[i])).ok());
    Handle(leader.get(), &s1, &rd, &out);
  }
  const uint64_t allocations = AllocationCount() - before;
  // One shared block per proposal; nothing per MsgApp (two per proposal here).
  EXPECT_LE(allocations, kMessages + kAllowedStorageGrowth);
  ASSERT_EQ(out.size(), 2u * kMessages);
  // Both followers' messages carry the very buffer that was persisted.
  EXPECT_TRUE(out[0].entries[0].data.SharesBufferWith(out[1].entries[0].data));
}

}  // namespace
}  // namespace rb::raft
