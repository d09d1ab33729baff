// Node over the real SQLite store: the same behaviour as over the in-memory model, and it
// survives a restart (the store is reopened from its directory).
#include "node/sqlite_node_store.h"

#include <deque>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "node/memory_node_store.h"
#include "node/node.h"
#include "node/null_transport.h"
#include "storage/test_util.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

raft::ConfState Solo() {
  raft::ConfState cs;
  cs.voters = {1};
  return cs;
}

std::unique_ptr<Node> Start(SqliteNodeStore* store, Transport* transport, uint64_t snapshot_every) {
  NodeOptions options;
  options.raft.id = 1;
  options.snapshot_every_entries = snapshot_every;
  options.snapshot_keep_entries = 5;
  auto node = Node::Create(options, store, transport);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *std::move(node) : nullptr;
}

// Registers a client session through the log; returns its client id.
uint64_t RegisterSession(Node* node) {
  kvpb::Command c;
  c.mutable_register_session();
  uint64_t id = 0;
  node->Write(c, [&](auto r) {
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) id = r->session_id();
  });
  EXPECT_NE(id, 0u);
  return id;
}

void PutAndWait(Node* node, uint64_t client, uint64_t seq, std::string key, std::string value) {
  kvpb::Command c;
  c.set_client_id(client);
  c.set_seq(seq);
  c.mutable_put()->set_key(std::move(key));
  c.mutable_put()->set_value(std::move(value));
  bool done = false;
  node->Write(c, [&](auto r) {
    EXPECT_TRUE(r.ok()) << r.status();
    done = true;
  });
  EXPECT_TRUE(done);  // a lone voter with a synchronous store answers at once
}

TEST(SqliteNodeStoreTest, SingleNodeWritesReadsAndRestarts) {
  uint64_t client = 0;
  storage::StoreOptions options;
  options.dir = storage::MakeTempDir();
  NullTransport transport;
  {
    auto store = *SqliteNodeStore::Open(options, Solo());
    auto node = Start(store.get(), &transport, /*snapshot_every=*/0);
    node->Campaign();
    ASSERT_TRUE(node->is_leader());
    client = RegisterSession(node.get());
    for (uint64_t i = 1; i <= 20; ++i) PutAndWait(node.get(), client, i, absl::StrCat("k", i), "v");
    std::optional<std::string> read;
    node->Read("k7", ReadConsistency::kLinearizable, [&](auto r) { read = *r; });
    EXPECT_EQ(read, "v");
  }
  auto store = *SqliteNodeStore::Open(options, Solo());
  EXPECT_EQ(**store->Get("k20"), "v");
  const uint64_t applied = store->applied_index();
  auto node = Start(store.get(), &transport, 0);
  node->Campaign();
  ASSERT_TRUE(node->is_leader());
  PutAndWait(node.get(), client, 21, "k21", "after restart");
  EXPECT_GT(store->applied_index(), applied);
  // The session survived too: a retry of an old command is not applied again.
  kvpb::Command old;
  old.set_client_id(client);
  old.set_seq(3);
  old.mutable_put()->set_key("k3");
  old.mutable_put()->set_value("must not win");
  node->Write(old, [](auto) {});
  EXPECT_EQ(**store->Get("k3"), "v");
}

// A store over a fresh directory whose writer thread and scheduler are queues that the
// test runs by hand.
struct HandDrivenStore {
  explicit HandDrivenStore(const raft::ConfState& bootstrap = Solo()) {
    storage::StoreOptions options;
    options.dir = storage::MakeTempDir();
    store = *SqliteNodeStore::Open(
        options, bootstrap, [this](std::function<void()> c) { completed.push_back(std::move(c)); },
        [this](std::function<void()> job) { jobs.push_back(std::move(job)); });
  }
  std::deque<std::function<void()>> jobs;       // the writer's queue
  std::deque<std::function<void()>> completed;  // the scheduler's
  std::unique_ptr<SqliteNodeStore> store;
};

// With a writer thread, a Ready that writes nothing (a ReadIndex round's heartbeats and
// read states) completes at once, never handed to the writer; one that writes is.
TEST(SqliteNodeStoreTest, AReadyThatWritesNothingIsNotHandedToTheWriter) {
  HandDrivenStore hand;
  auto& jobs = hand.jobs;
  auto& completed = hand.completed;
  auto& store = hand.store;

  raft::Ready empty;
  empty.messages.emplace_back();
  empty.read_states.push_back(raft::ReadState{3, "ctx"});
  int done = 0;
  store->Persist(empty, nullptr, nullptr, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  EXPECT_EQ(done, 1) << "an empty Ready waited for the writer";
  EXPECT_TRUE(jobs.empty());

  raft::Ready vote;
  vote.hard_state = raft::HardState{1, 1, 0};
  vote.must_sync = true;
  store->Persist(vote, nullptr, nullptr, [&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  });
  EXPECT_EQ(done, 1);
  ASSERT_EQ(jobs.size(), 1u) << "a Ready that writes must go to the writer";
  jobs.front()();
  ASSERT_EQ(completed.size(), 1u);
  completed.front()();
  EXPECT_EQ(done, 2);
}

// With a writer thread, a small Ready that only applies commits without an fsync on the
// node's thread and completes at once: a lone write saves the hand-offs to the writer and
// back. A second in a row (it must sync) and a large one go to the writer.
TEST(SqliteNodeStoreTest, ASmallApplyOnlyReadyIsWrittenOnTheNodesThread) {
  HandDrivenStore hand;
  auto& jobs = hand.jobs;
  auto& completed = hand.completed;
  auto& store = hand.store;
  auto run_writer = [&] {
    ASSERT_EQ(jobs.size(), 1u) << "the Ready did not go to the writer";
    jobs.front()();
    jobs.pop_front();
    ASSERT_EQ(completed.size(), 1u);
    completed.front()();
    completed.pop_front();
  };
  int done = 0;
  auto count = [&done](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    ++done;
  };
  std::deque<raft::Ready> readies;  // each untouched until its persist is done
  auto apply_only = [&](uint64_t index, size_t value_bytes) {
    raft::Ready& rd = readies.emplace_back();
    rd.hard_state = raft::HardState{1, 1, index};
    rd.committed_entries = {
        raft::Entry{1, index, raft::EntryType::kNormal, std::string(value_bytes, 'v')}};
    store->Persist(
        rd,
        [index, value_bytes](KvTxn* t) -> absl::Status {
          RETURN_IF_ERROR(t->Put(absl::StrCat("k", index), std::string(value_bytes, 'v'), index));
          return t->SetApplied(index, Solo());
        },
        nullptr, count);
  };
  auto append = [&](uint64_t index) {
    raft::Ready& rd = readies.emplace_back();
    rd.entries = {raft::Entry{1, index, raft::EntryType::kNormal, std::string(70 << 10, 'v')}};
    rd.hard_state = raft::HardState{1, 1, index - 1};
    rd.must_sync = true;
    store->Persist(rd, nullptr, nullptr, count);
    run_writer();
  };

  append(1);
  apply_only(1, 100);
  EXPECT_EQ(done, 2) << "a small apply waited for the writer";
  EXPECT_TRUE(jobs.empty());
  EXPECT_EQ(store->store().unsynced_commits(), 1u);

  // A second in a row must sync: the writer's job.
  apply_only(1, 100);
  EXPECT_EQ(done, 2);
  run_writer();
  EXPECT_EQ(done, 3);
  EXPECT_EQ(store->store().unsynced_commits(), 0u);

  // More than the inline limit (64 KiB): the writer's, still without an fsync.
  append(2);
  apply_only(2, 70 << 10);
  EXPECT_EQ(done, 4);
  run_writer();
  EXPECT_EQ(done, 5);
  EXPECT_EQ(store->store().unsynced_commits(), 1u);
  // A read syncs it before showing it.
  EXPECT_EQ(**store->Get("k2"), std::string(70 << 10, 'v'));
  EXPECT_EQ(store->store().unsynced_commits(), 0u);
}

// With a writer thread, on_durable runs on it the moment the write is durable, before the
// completion is handed to the node's thread; never for a write that failed. With no write
// to wait for (nothing to write, or a small apply on the node's thread), just before done.
TEST(SqliteNodeStoreTest, OnDurableRunsOnTheWriterOnceTheWriteIsDurable) {
  HandDrivenStore hand;
  std::vector<std::string> events;
  const uint64_t syncs_before = hand.store->store().wal_syncs();
  auto durable = [&] {
    const storage::Store& db = hand.store->store();
    events.push_back(absl::StrCat("durable after ", db.wal_syncs() - syncs_before, " fsync(s), ",
                                  db.unsynced_commits(), " unsynced"));
  };
  auto done = [&](absl::Status s) { events.push_back(absl::StrCat("done ", s.ToString())); };

  raft::Ready append;
  append.entries = {raft::Entry{1, 1, raft::EntryType::kNormal, "put"}};
  append.hard_state = raft::HardState{1, 1, 0};
  append.must_sync = true;
  hand.store->Persist(append, nullptr, durable, done);
  EXPECT_TRUE(events.empty()) << "on_durable ran before the write";
  ASSERT_EQ(hand.jobs.size(), 1u);
  hand.jobs.front()();
  hand.jobs.pop_front();
  EXPECT_EQ(events, std::vector<std::string>{"durable after 1 fsync(s), 0 unsynced"});
  ASSERT_EQ(hand.completed.size(), 1u);
  hand.completed.front()();
  hand.completed.pop_front();
  EXPECT_EQ(events, (std::vector<std::string>{"durable after 1 fsync(s), 0 unsynced", "done OK"}));

  // A small Ready that only applies is written on the node's thread and left unsynced (it
  // need not be durable: NodeStore::Persist): on_durable, then done, at once.
  events.clear();
  raft::Ready apply_only;
  apply_only.hard_state = raft::HardState{1, 1, 1};
  apply_only.committed_entries = append.entries;
  hand.store->Persist(
      apply_only,
      [](KvTxn* t) -> absl::Status {
        RETURN_IF_ERROR(t->Put("k", "v", 1));
        return t->SetApplied(1, Solo());
      },
      durable, done);
  EXPECT_TRUE(hand.jobs.empty());
  EXPECT_EQ(events, (std::vector<std::string>{"durable after 1 fsync(s), 1 unsynced", "done OK"}));

  // A write that fails: done hears it, on_durable never runs.
  events.clear();
  raft::Ready fails;
  fails.hard_state = raft::HardState{1, 1, 2};
  fails.entries = {raft::Entry{1, 2, raft::EntryType::kNormal, "put"}};
  fails.committed_entries = fails.entries;
  fails.must_sync = true;
  hand.store->Persist(
      fails, [](KvTxn*) { return absl::InternalError("apply failed"); }, durable, done);
  ASSERT_EQ(hand.jobs.size(), 1u);
  hand.jobs.front()();
  ASSERT_EQ(hand.completed.size(), 1u);
  hand.completed.front()();
  EXPECT_EQ(events, std::vector<std::string>{"done INTERNAL: apply failed"});

  // A Ready that writes nothing completes at once: on_durable first.
  events.clear();
  hand.jobs.clear();
  hand.completed.clear();
  raft::Ready nothing;
  nothing.messages.emplace_back();
  hand.store->Persist(nothing, nullptr, durable, done);
  EXPECT_EQ(events, (std::vector<std::string>{"durable after 1 fsync(s), 1 unsynced", "done OK"}));
}

// Without a writer, on_durable waits for the completion (the simulator's scheduler delays
// it by the disk's latency), and runs just before done.
TEST(SqliteNodeStoreTest, WithoutAWriterOnDurableRunsWithTheCompletion) {
  std::vector<std::string> events;
  std::deque<std::function<void()>> completions;
  storage::StoreOptions options;
  options.dir = storage::MakeTempDir();
  auto store = *SqliteNodeStore::Open(
      options, Solo(), [&](std::function<void()> c) { completions.push_back(std::move(c)); });
  raft::Ready append;
  append.entries = {raft::Entry{1, 1, raft::EntryType::kNormal, "put"}};
  append.hard_state = raft::HardState{1, 1, 0};
  append.must_sync = true;
  store->Persist(
      append, nullptr, [&] { events.push_back("durable"); },
      [&](absl::Status s) { events.push_back(absl::StrCat("done ", s.ToString())); });
  EXPECT_TRUE(events.empty()) << "on_durable ran before the completion";
  ASSERT_EQ(completions.size(), 1u);
  completions.front()();
  EXPECT_EQ(events, (std::vector<std::string>{"durable", "done OK"}));
}

// Records what a node sends.
class Recorder : public Transport {
 public:
  void Send(raft::Message m) override { sent.push_back(std::move(m)); }
  std::vector<raft::Message> sent;
};

// A follower's answer to an append leaves from the writer's thread as soon as the entries
// are durable, without waiting for the node's thread to run the completion; and only once.
TEST(SqliteNodeStoreTest, AFollowersAnswerLeavesWhenItsWriteIsDurable) {
  raft::ConfState three;
  three.voters = {1, 2, 3};
  HandDrivenStore hand(three);
  Recorder transport;
  NodeOptions options;
  options.raft.id = 2;
  auto node = *Node::Create(options, hand.store.get(), &transport);

  raft::Message app;
  app.type = raft::MessageType::kApp;
  app.from = 1;
  app.to = 2;
  app.term = 1;
  app.entries.push_back(raft::Entry{1, 1, raft::EntryType::kNormal, "put"});
  node->Receive(app);
  ASSERT_EQ(hand.jobs.size(), 1u) << "the entries did not go to the writer";
  EXPECT_TRUE(transport.sent.empty()) << "answered before the entries were written";
  hand.jobs.front()();
  hand.jobs.pop_front();
  ASSERT_EQ(transport.sent.size(), 1u) << "the answer waited for the node's thread";
  EXPECT_EQ(transport.sent[0].type, raft::MessageType::kAppResp);
  EXPECT_EQ(transport.sent[0].to, 1u);
  EXPECT_EQ(transport.sent[0].index, 1u);
  EXPECT_FALSE(transport.sent[0].reject);
  EXPECT_EQ(hand.store->store().unsynced_commits(), 0u);
  ASSERT_EQ(hand.completed.size(), 1u);
  hand.completed.front()();
  hand.completed.pop_front();
  EXPECT_EQ(transport.sent.size(), 1u) << "the answer went twice";
  EXPECT_EQ(*hand.store->raft_storage().LastIndex(), 1u);
}

// The state machine is durable in the database: compacting the log takes no snapshot (a
// copy of the whole state) until the core asks for one for a follower.
TEST(SqliteNodeStoreTest, CompactionTakesASnapshotOnlyOnceOneIsWanted) {
  storage::StoreOptions options;
  options.dir = storage::MakeTempDir();
  NullTransport transport;
  auto store = *SqliteNodeStore::Open(options, Solo());
  auto node = Start(store.get(), &transport, /*snapshot_every=*/10);
  node->Campaign();
  const uint64_t client = RegisterSession(node.get());
  for (uint64_t i = 1; i <= 35; ++i)
    PutAndWait(node.get(), client, i, absl::StrCat("k", i % 7), "v");
  EXPECT_GT(*store->raft_storage().FirstIndex(), 20u);
  EXPECT_EQ(store->snapshot_index(), 0u);
  EXPECT_EQ(node->last_snapshot_index(), 0u);
  EXPECT_FALSE(store->snapshot_wanted());

  // What the core does for a follower behind the log's start.
  EXPECT_TRUE(
      raft::IsErrSnapshotTemporarilyUnavailable(store->raft_storage().GetSnapshot().status()));
  EXPECT_TRUE(store->snapshot_wanted());
  PutAndWait(node.get(), client, 36, "k36", "v");  // the node takes it after this Ready
  EXPECT_FALSE(store->snapshot_wanted());
  auto snapshot = store->raft_storage().GetSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // Taken after the Ready that appended k36, before the one that applied it.
  EXPECT_GE((*snapshot)->metadata.index + 1, *store->raft_storage().FirstIndex());
  EXPECT_EQ((*snapshot)->metadata.index + 1, store->applied_index());
  EXPECT_EQ(node->last_snapshot_index(), (*snapshot)->metadata.index);
  EXPECT_EQ(**store->Get("k3"), "v");
}

TEST(SqliteNodeStoreTest, ExistingStoreKeepsItsConfiguration) {
  storage::StoreOptions options;
  options.dir = storage::MakeTempDir();
  { auto store = *SqliteNodeStore::Open(options, Solo()); }
  raft::ConfState other;
  other.voters = {1, 2, 3};
  auto store = *SqliteNodeStore::Open(options, other);
  EXPECT_EQ(store->raft_storage().GetInitialState()->conf_state, Solo());
}

TEST(SqliteNodeStoreTest, DigestMatchesTheMemoryStoreAndSeesEveryRow) {
  // The same writes through both stores: equal digests (the simulator compares replicas
  // of either kind by them). One row more, or one value changed, and they differ.
  storage::StoreOptions options;
  options.dir = storage::MakeTempDir();
  auto sqlite = *SqliteNodeStore::Open(options, Solo());
  MemoryNodeStore memory(Solo());
  auto write = [](NodeStore* store, uint64_t index, const std::string& key,
                  const std::string& value) {
    ASSERT_TRUE(store
                    ->Apply([&](KvTxn* txn) {
                      RETURN_IF_ERROR(txn->Put(key, value, index));
                      return txn->SetApplied(index, Solo());
                    })
                    .ok());
  };
  // More rows than one page of the SQLite digest's scan.
  for (uint64_t i = 1; i <= 2100; ++i) {
    write(sqlite.get(), i, absl::StrCat("k", i), "v");
    write(&memory, i, absl::StrCat("k", i), "v");
  }
  // A reserved row (sessions live there) counts too.
  write(sqlite.get(), 2101, std::string("\0session/1", 10), "s");
  write(&memory, 2101, std::string("\0session/1", 10), "s");
  auto a = sqlite->Digest();
  auto b = memory.Digest();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rows, 2101u);
  EXPECT_EQ(a->applied_index, 2101u);
  EXPECT_TRUE(a->SameState(*b));
  write(&memory, 2102, "k7", "changed");
  write(sqlite.get(), 2102, "k7", "v");
  EXPECT_FALSE(sqlite->Digest()->SameState(*memory.Digest()));
}

}  // namespace
}  // namespace rb::node
