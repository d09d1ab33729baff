// Node's answers to writes at commit (NodeOptions::answer_writes_at_commit): which writes
// are answered before their apply is written, with what, and what is left to the apply.
#include <optional>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/node.h"
#include "node/test_network.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

void AnswerAtCommit(NodeOptions* o) { o->answer_writes_at_commit = true; }

// A write's answer, and whether the leader's store held the key when it came.
struct Answer {
  std::optional<absl::StatusOr<kvpb::CommandResult>> result;
  bool key_applied_then = false;
};

// Writes cmd on node 1 of net, recording its answer in *a.
void WriteOnNode1(Network* net, kvpb::Command cmd, Answer* a) {
  const std::string key = cmd.has_put() ? cmd.put().key() : cmd.delete_().key();
  net->node(1).Write(std::move(cmd), [net, a, key](absl::StatusOr<kvpb::CommandResult> r) {
    ASSERT_FALSE(a->result.has_value()) << "answered twice";
    a->result = std::move(r);
    absl::StatusOr<std::optional<std::string>> held = net->store(1).Get(key);
    a->key_applied_then = held.ok() && held->has_value();
  });
}

// The disk is asynchronous: the leader's Ready that commits the write, and applies it, is
// still to be written when the follower's acknowledgment arrives.
TEST(NodeWritesTest, APlainPutIsAnsweredAtCommitBeforeItsApplyIsWritten) {
  Network net(3, /*async_disk=*/true, nullptr, AnswerAtCommit);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Answer a;
  WriteOnNode1(&net, Put(0, 1, "k", "v"), &a);
  net.Settle();
  ASSERT_TRUE(a.result.has_value());
  ASSERT_TRUE(a.result->ok()) << a.result->status();
  EXPECT_FALSE(a.key_applied_then);
  // The answer names the entry's index, as an applied one does.
  EXPECT_EQ((*a.result)->revision(), net.node(1).raw().raft().log().committed());
  EXPECT_EQ(**net.store(1).Get("k"), "v");  // applied all the same, once its Ready is written
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 1u);
  EXPECT_EQ(net.node(1).counters().writes_committed, 1u);
  EXPECT_EQ(net.node(1).pending_writes(), 0u);
}

TEST(NodeWritesTest, WithoutTheOptionAPlainPutIsAnsweredOnceApplied) {
  Network net(3, /*async_disk=*/true);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Answer a;
  WriteOnNode1(&net, Put(0, 1, "k", "v"), &a);
  net.Settle();
  ASSERT_TRUE(a.result.has_value() && a.result->ok());
  EXPECT_TRUE(a.key_applied_then);
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 0u);
}

// Their results depend on what the state machine finds, or on the client's session.
TEST(NodeWritesTest, WritesWhoseResultTheStateDecidesAreAnsweredOnceApplied) {
  Network net(3, /*async_disk=*/true, nullptr, AnswerAtCommit);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Answer seed;
  WriteOnNode1(&net, Put(0, 1, "k", "v"), &seed);
  net.Settle();

  kvpb::Command update = Put(0, 2, "k", "w");
  update.mutable_put()->set_require_existing(true);
  Answer updated;
  WriteOnNode1(&net, update, &updated);
  kvpb::Command del;
  del.set_seq(3);
  del.mutable_delete_()->set_key("gone");
  Answer deleted;
  WriteOnNode1(&net, del, &deleted);
  net.Settle();
  ASSERT_TRUE(updated.result.has_value() && updated.result->ok());
  EXPECT_TRUE((*updated.result)->existed());
  EXPECT_TRUE(updated.key_applied_then);
  ASSERT_TRUE(deleted.result.has_value() && deleted.result->ok());
  EXPECT_FALSE((*deleted.result)->existed());
  EXPECT_EQ(**net.store(1).Get("k"), "w");
  // A session's write: answered by the apply, which finds the session unknown.
  Answer in_session;
  WriteOnNode1(&net, Put(42, 1, "s", "v"), &in_session);
  net.Settle();
  ASSERT_TRUE(in_session.result.has_value());
  EXPECT_EQ(in_session.result->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 1u);  // the first put only
}

// The server's path: a loop round's writes, proposed together, answered each with its
// own entry's index.
TEST(NodeWritesTest, TheWritesOfABatchAreAnsweredAtCommitWithTheirOwnIndexes) {
  Network net(3, /*async_disk=*/true, nullptr, AnswerAtCommit);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  const uint64_t before = net.node(1).raw().raft().log().LastIndex();
  Answer a[3];
  net.node(1).BeginBatch();
  for (int k = 0; k < 3; ++k) WriteOnNode1(&net, Put(0, k + 1, absl::StrCat("k", k), "v"), &a[k]);
  net.node(1).EndBatch();
  net.Settle();
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(a[k].result.has_value() && a[k].result->ok()) << k;
    EXPECT_FALSE(a[k].key_applied_then) << k;
    EXPECT_EQ((*a[k].result)->revision(), before + 1 + k) << k;
    EXPECT_EQ(**net.store(1).Get(absl::StrCat("k", k)), "v") << k;
  }
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 3u);
}

// The node that answered a write shows it to a stale read, as it would have had it answered
// once applied: the read waits for the apply.
TEST(NodeWritesTest, AStaleReadOnTheNodeThatAnsweredAWriteWaitsForItsApply) {
  Network net(3, /*async_disk=*/true, nullptr, AnswerAtCommit);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Answer a;
  WriteOnNode1(&net, Put(0, 1, "k", "v"), &a);
  std::optional<absl::StatusOr<std::optional<std::string>>> read;
  while (!a.result.has_value() && (!net.queue().empty())) {
    // Deliver messages but hold the leader's disk: once the follower's acknowledgment
    // lands, the write is answered and its apply is still to be written.
    raft::Message m = std::move(net.queue().front());
    net.queue().pop_front();
    if (m.to != 1) {
      net.node(m.to).Receive(std::move(m));
      net.Sync();
    } else {
      net.node(1).Receive(std::move(m));
    }
  }
  ASSERT_TRUE(a.result.has_value() && a.result->ok());
  ASSERT_FALSE(a.key_applied_then);
  net.node(1).Read("k", ReadConsistency::kLocal, [&](auto r) { read = std::move(r); });
  EXPECT_FALSE(read.has_value());  // not before the apply
  net.Settle();
  ASSERT_TRUE(read.has_value() && read->ok()) << (read ? read->status().ToString() : "");
  EXPECT_EQ(**read, "v");
  // A follower's stale read is not held back: it answered nothing.
  std::optional<absl::StatusOr<std::optional<std::string>>> follower_read;
  net.node(2).Read("k", ReadConsistency::kLocal, [&](auto r) { follower_read = std::move(r); });
  EXPECT_TRUE(follower_read.has_value());
}

// A write whose entry a later leader replaced is lost: its answer says the outcome is
// unknown, and the entry that commits at its index answers nothing.
TEST(NodeWritesTest, AWriteLostWithItsLeaderIsNotAnsweredByTheEntryThatTookItsIndex) {
  Network net(3, /*async_disk=*/false, nullptr, AnswerAtCommit);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Answer a;
  WriteOnNode1(&net, Put(0, 1, "k", "v"), &a);
  const uint64_t index = net.node(1).raw().raft().log().LastIndex();
  net.queue().clear();  // its appends are lost
  ASSERT_EQ(net.ElectLeader(2), 2u);
  net.node(2).Write(Put(0, 2, "other", "x"), [](auto) {});
  net.Settle();
  ASSERT_GE(net.node(1).raw().raft().log().committed(), index);
  ASSERT_TRUE(a.result.has_value());
  EXPECT_EQ(a.result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(net.store(1).Get("k")->has_value());
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 0u);
}

// Records of cancelled writes stay until their index commits; past max_pending_requests of
// them, a new write is answered once applied, as without the option.
TEST(NodeWritesTest, PastTheBoundAWriteIsAnsweredOnceApplied) {
  Network net(3, /*async_disk=*/true, nullptr, [](NodeOptions* o) {
    o->answer_writes_at_commit = true;
    o->max_pending_requests = 2;
  });
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.drop = [](const raft::Message&) { return true; };
  Answer cancelled[2];
  for (uint64_t seq = 1; seq <= 2; ++seq) {
    WriteOnNode1(&net, Put(0, seq, absl::StrCat("c", seq), "v"), &cancelled[seq - 1]);
    net.node(1).CancelWrite(0, seq);
  }
  net.Settle();
  net.drop = nullptr;
  Answer late;
  WriteOnNode1(&net, Put(0, 3, "k", "v"), &late);
  net.Settle();
  ASSERT_TRUE(late.result.has_value() && late.result->ok());
  EXPECT_TRUE(late.key_applied_then);
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 0u);
  // The records went with their commit: the next write is answered at commit again.
  Answer next;
  WriteOnNode1(&net, Put(0, 4, "n", "v"), &next);
  net.Settle();
  ASSERT_TRUE(next.result.has_value() && next.result->ok());
  EXPECT_FALSE(next.key_applied_then);
  EXPECT_EQ(net.node(1).counters().writes_answered_at_commit, 1u);
}

}  // namespace
}  // namespace rb::node
