#include "raft/raw_node.h"

#include "gtest/gtest.h"
#include "raft/codec.h"
#include "raft/memory_storage.h"

namespace rb::raft {
namespace {

// Storage over MemoryStorage whose entry and term reads fail once the disk is "damaged".
class DamageableStorage : public Storage {
 public:
  explicit DamageableStorage(const MemoryStorage* storage) : storage_(storage) {}
  bool damaged = false;

  absl::StatusOr<InitialState> GetInitialState() const override {
    return storage_->GetInitialState();
  }
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<Entry>* out) const override {
    if (damaged) return absl::DataLossError("a page failed its checksum");
    return storage_->Entries(lo, hi, max_bytes, out);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) const override {
    if (damaged) return absl::DataLossError("a page failed its checksum");
    return storage_->Term(i);
  }
  absl::StatusOr<uint64_t> FirstIndex() const override { return storage_->FirstIndex(); }
  absl::StatusOr<uint64_t> LastIndex() const override { return storage_->LastIndex(); }
  absl::StatusOr<std::shared_ptr<const Snapshot>> GetSnapshot() const override {
    return storage_->GetSnapshot();
  }

 private:
  const MemoryStorage* storage_;
};

struct Single {
  Single() {
    ConfState cs;
    cs.voters = {1};
    storage.SetConfState(cs);
    Config c;
    c.id = 1;
    c.storage = &view;
    node = *RawNode::Create(c);
  }
  // A new RawNode over the same storage, as after a crash; `applied` is what the
  // application's state machine had applied.
  std::unique_ptr<RawNode> Restart(uint64_t applied) {
    Config c;
    c.id = 1;
    c.storage = &view;
    c.applied = applied;
    auto restarted = RawNode::Create(c);
    EXPECT_TRUE(restarted.ok()) << restarted.status();
    return restarted.ok() ? *std::move(restarted) : nullptr;
  }
  // Handles Readies until there are none left.
  void HandleAll() {
    for (int i = 0; i < 10 && node->HasReady(); ++i) Handle();
  }
  // Persists and advances one Ready, returning it.
  Ready Handle() {
    Ready rd;
    node->GetReady(&rd);
    EXPECT_TRUE(storage.Append(rd.entries).ok());
    if (rd.hard_state) storage.SetHardState(*rd.hard_state);
    node->Advance();
    return rd;
  }
  MemoryStorage storage;
  DamageableStorage view{&storage};  // what the node reads through
  std::unique_ptr<RawNode> node;
};

TEST(RawNodeTest, ReadyCarriesStateEntriesAndCommittedEntries) {
  Single s;
  EXPECT_FALSE(s.node->HasReady());
  s.node->Campaign();
  ASSERT_TRUE(s.node->HasReady());
  Ready rd = s.Handle();
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->state, StateType::kLeader);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_EQ(rd.hard_state->vote, 1u);
  EXPECT_TRUE(rd.must_sync);
  ASSERT_EQ(rd.entries.size(), 1u);
  // Not committed yet: even a lone voter's entry counts only once it is persisted.
  EXPECT_TRUE(rd.committed_entries.empty());
  ASSERT_TRUE(s.node->HasReady());  // Advance() reported it durable: now it commits
  rd = s.Handle();
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_FALSE(s.node->HasReady());

  ASSERT_TRUE(s.node->Propose("hello").ok());
  rd = s.Handle();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].data, "hello");
  rd = s.Handle();
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].data, "hello");
  EXPECT_EQ(s.node->Status().applied, 2u);
}

TEST(RawNodeTest, ABatchOfProposalsIsAppendedTogetherInOrder) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  ASSERT_TRUE(s.node->ProposeBatch({Payload("a"), Payload("b"), Payload("c")}).ok());
  Ready rd = s.Handle();
  ASSERT_EQ(rd.entries.size(), 3u);
  EXPECT_EQ(rd.entries[0].data, "a");
  EXPECT_EQ(rd.entries[1].data, "b");
  EXPECT_EQ(rd.entries[2].data, "c");
  EXPECT_EQ(rd.entries[2].index, rd.entries[0].index + 2);
  rd = s.Handle();
  EXPECT_EQ(rd.committed_entries.size(), 3u);
}

TEST(RawNodeTest, ABatchOverTheUncommittedLimitIsRefusedWhole) {
  ConfState cs;
  cs.voters = {1, 2};  // nothing commits without the second voter
  MemoryStorage storage;
  storage.SetConfState(cs);
  Config c;
  c.id = 1;
  c.storage = &storage;
  c.max_uncommitted_entries_bytes = 10;
  auto node = *RawNode::Create(c);
  node->Campaign();
  Message vote;
  vote.type = MessageType::kVoteResp;
  vote.from = 2;
  vote.to = 1;
  vote.term = node->raft().term();
  ASSERT_TRUE(node->Step(vote).ok());
  ASSERT_EQ(node->raft().state(), StateType::kLeader);
  ASSERT_TRUE(node->Propose("12345678").ok());
  const uint64_t last = node->raft().log().LastIndex();
  absl::Status s = node->ProposeBatch({Payload("1234"), Payload("5678")});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(node->raft().log().LastIndex(), last);  // neither entry was appended
}

TEST(RawNodeTest, NothingCommitsBeforeTheLeaderPersistsIt) {
  Single s;
  s.node->Campaign();
  Ready rd;
  s.node->GetReady(&rd);
  // The driver has not persisted (nor called Advance): the commit index must not move,
  // or a crash now would lose an entry the node already considered committed.
  EXPECT_EQ(s.node->raft().log().committed(), 0u);
  ASSERT_TRUE(s.storage.Append(rd.entries).ok());
  s.node->Advance();
  EXPECT_EQ(s.node->raft().log().committed(), 1u);
}

TEST(RawNodeTest, CommitOnlyChangeDoesNotRequireSync) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  ASSERT_TRUE(s.node->Propose("x").ok());
  Ready rd = s.Handle();
  EXPECT_TRUE(rd.must_sync);  // new entries
  rd = s.Handle();            // the commit of "x" alone
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->commit, 2u);
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_FALSE(rd.must_sync);
}

TEST(RawNodeTest, RefusesLocalMessagesAndUnknownResponders) {
  Single s;
  Message hup;
  hup.type = MessageType::kHup;
  hup.from = 2;
  EXPECT_EQ(s.node->Step(hup).code(), absl::StatusCode::kInvalidArgument);
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.from = 9;
  resp.term = 1;
  EXPECT_EQ(s.node->Step(resp).code(), absl::StatusCode::kNotFound);
}

TEST(RawNodeTest, RestartKeepsTermVoteAndLog) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  ASSERT_TRUE(s.node->Propose("x").ok());
  s.HandleAll();
  auto restarted = s.Restart(2);
  ASSERT_NE(restarted, nullptr);
  const NodeStatus st = restarted->Status();
  EXPECT_EQ(st.hard_state.term, 1u);
  EXPECT_EQ(st.hard_state.vote, 1u);
  EXPECT_EQ(st.hard_state.commit, 2u);
  EXPECT_EQ(st.applied, 2u);
  EXPECT_EQ(st.soft_state.state, StateType::kFollower);
  EXPECT_FALSE(restarted->HasReady());  // nothing to re-apply
}

TEST(RawNodeTest, RestartReappliesCommittedButUnappliedEntries) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  ASSERT_TRUE(s.node->Propose("x").ok());
  s.HandleAll();
  auto restarted = s.Restart(1);  // the application lost its last apply
  ASSERT_NE(restarted, nullptr);
  ASSERT_TRUE(restarted->HasReady());
  Ready rd;
  restarted->GetReady(&rd);
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(rd.committed_entries[0].data, "x");
}

TEST(RawNodeTest, CreateRejectsInvalidConfigAndCorruptState) {
  MemoryStorage storage;
  Config c;
  c.storage = &storage;
  EXPECT_EQ(RawNode::Create(c).status().code(), absl::StatusCode::kInvalidArgument);  // id 0
  c.id = 1;
  c.election_tick = 1;
  EXPECT_EQ(RawNode::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
  c.election_tick = 10;
  storage.SetHardState(HardState{1, 0, 5});  // commit beyond an empty log
  EXPECT_EQ(RawNode::Create(c).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RawNodeTest, StatusReportsProgressOnLeader) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  const NodeStatus st = s.node->Status();
  EXPECT_EQ(st.soft_state.lead, 1u);
  ASSERT_EQ(st.progress.size(), 1u);
  EXPECT_EQ(st.progress.at(1).match, 1u);
  EXPECT_EQ(st.config.voters, std::vector<uint64_t>{1});
}

TEST(RawNodeTest, FailingToReadCommittedEntriesStopsTheNode) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  ASSERT_TRUE(s.node->Propose("x").ok());
  Ready rd;
  s.node->GetReady(&rd);
  ASSERT_TRUE(s.storage.Append(rd.entries).ok());
  s.node->Advance();  // "x" is durable, so it commits; applying it needs a read
  ASSERT_TRUE(s.node->HasReady());
  s.view.damaged = true;
  s.node->GetReady(&rd);
  EXPECT_EQ(s.node->storage_failure().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(rd.committed_entries.empty());
  EXPECT_FALSE(rd.hard_state.has_value());
  EXPECT_TRUE(rd.messages.empty());
  EXPECT_FALSE(s.node->HasReady());
}

TEST(RawNodeTest, FailingToReadATermWithholdsTheAnswer) {
  Single s;
  s.node->Campaign();
  s.HandleAll();
  s.view.damaged = true;
  // A vote request from a higher term: judging it reads the last entry's term.
  Message m;
  m.type = MessageType::kVote;
  m.from = 2;
  m.to = 1;
  m.term = 5;
  m.index = 1;
  m.log_term = 1;
  s.node->Step(m).IgnoreError();
  EXPECT_EQ(s.node->storage_failure().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(s.node->HasReady()) << "a vote answered without reading the log";
  // Nothing the node does afterwards leaves it either.
  s.node->Tick();
  s.node->Propose("y").IgnoreError();
  EXPECT_FALSE(s.node->HasReady());
}

TEST(RawNodeDeathTest, GetReadyTwiceWithoutAdvanceIsABug) {
  Single s;
  s.node->Campaign();
  Ready rd;
  s.node->GetReady(&rd);
  EXPECT_DEATH(s.node->GetReady(&rd), "without Advance");
}

}  // namespace
}  // namespace rb::raft
