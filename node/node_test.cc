// Node over MemoryNodeStore and an in-process transport: the ordering and client-facing
// behaviour the server and the simulator rely on.
#include "node/node.h"

#include <deque>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/memory_node_store.h"
#include "node/null_transport.h"
#include "node/test_network.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

TEST(NodeTest, WriteIsAcknowledgedAfterApplyOnEveryNode) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool acked = false;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { acked = r.ok(); });
  EXPECT_FALSE(acked);  // not before the cluster committed it
  net.Settle();
  EXPECT_TRUE(acked);
  for (uint64_t id : {1, 2, 3}) EXPECT_EQ(**net.store(id).Get("k"), "v") << id;
}

TEST(NodeTest, MessagesLeaveOnlyAfterThePersistCompletes) {
  Network net(3, /*async_disk=*/true);
  net.node(1).Campaign();
  // The vote requests carry a term whose vote (for itself) is not yet durable.
  EXPECT_TRUE(net.queue().empty());
  net.Sync();
  EXPECT_FALSE(net.queue().empty());
  EXPECT_EQ(net.store(1).durable_hard_state().vote, 1u);
}

// The in-memory model's side of NodeStore::Persist's on_durable: when the write takes
// effect, just before done; never for a write that did not (a full disk).
TEST(NodeTest, TheMemoryStoreRunsOnDurableJustBeforeDoneAndOnlyForAWriteThatTookEffect) {
  std::deque<std::function<void()>> disk;
  raft::ConfState solo;
  solo.voters = {1};
  MemoryNodeStore store(solo, [&](std::function<void()> w) { disk.push_back(std::move(w)); });
  std::vector<std::string> events;
  raft::Ready rd;
  rd.hard_state = raft::HardState{1, 1, 0};
  rd.must_sync = true;
  auto persist = [&] {
    store.Persist(
        rd, nullptr,
        [&] { events.push_back(absl::StrCat("durable, term ", store.durable_hard_state().term)); },
        [&](absl::Status s) {
          events.push_back(absl::StrCat("done ", absl::StatusCodeToString(s.code())));
        });
    EXPECT_TRUE(events.empty()) << "before the disk ran the write";
    ASSERT_EQ(disk.size(), 1u);
    disk.front()();
    disk.pop_front();
  };
  store.set_disk_full(true);
  persist();
  EXPECT_EQ(events, std::vector<std::string>{"done RESOURCE_EXHAUSTED"});
  events.clear();
  store.set_disk_full(false);
  persist();
  EXPECT_EQ(events, (std::vector<std::string>{"durable, term 1", "done OK"}));
}

TEST(NodeTest, LeaderAppendsLeaveWhileItsOwnWriteIsInFlight) {
  Network net(3, /*async_disk=*/true);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool acked = false;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { acked = r.ok(); });
  // The leader's own write has not completed, yet the append is already on its way.
  int appends = 0;
  for (const raft::Message& m : net.queue()) appends += m.type == raft::MessageType::kApp;
  EXPECT_EQ(appends, 2);
  // A follower's acknowledgment waits for its own disk.
  std::deque<raft::Message> appends_out = std::move(net.queue());
  net.queue().clear();
  for (raft::Message& m : appends_out) net.node(m.to).Receive(std::move(m));
  EXPECT_TRUE(net.queue().empty());
  net.Settle();
  EXPECT_TRUE(acked);
}

// Counts the store calls a Ready costs.
class CountingStore : public MemoryNodeStore {
 public:
  using MemoryNodeStore::MemoryNodeStore;
  void Persist(const raft::Ready& rd, ApplyFn apply, std::function<void()> on_durable,
               std::function<void(absl::Status)> done) override {
    ++persists;
    applies_inside += apply != nullptr;
    MemoryNodeStore::Persist(rd, std::move(apply), std::move(on_durable), std::move(done));
  }
  absl::Status Apply(const std::function<absl::Status(KvTxn*)>& fn) override {
    ++separate_applies;
    return MemoryNodeStore::Apply(fn);
  }
  int persists = 0, applies_inside = 0, separate_applies = 0;
};

raft::ConfState SoloVoter() {
  raft::ConfState cs;
  cs.voters = {1};
  return cs;
}

// Node 1 over `store`, the lone voter, leading (it sends nothing: there are no peers).
std::unique_ptr<Node> LeadAlone(NodeStore* store) {
  static Link no_peers(nullptr, 1);
  NodeOptions options;
  options.raft.id = 1;
  auto node = *Node::Create(options, store, &no_peers);
  node->Campaign();
  EXPECT_TRUE(node->is_leader());
  return node;
}

TEST(NodeTest, AReadyCostsOneWriteWithItsAppliesInside) {
  CountingStore store(SoloVoter());
  auto node = LeadAlone(&store);
  int acked = 0;
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    node->Write(Put(0, seq, absl::StrCat("k", seq), "v"), [&](auto r) { acked += r.ok(); });
  }
  EXPECT_EQ(acked, 5);
  EXPECT_EQ(store.separate_applies, 0);
  EXPECT_GT(store.applies_inside, 0);
  EXPECT_EQ(static_cast<uint64_t>(store.persists), node->counters().readies);
  EXPECT_EQ(**store.Get("k5"), "v");
}

// Registers a session through the log on the leader; returns its client id.
uint64_t RegisterSession(Network& net, uint64_t leader) {
  kvpb::Command c;
  c.set_seq(424242);  // tells this attempt apart while it waits (no session yet)
  c.mutable_register_session();
  uint64_t id = 0;
  net.node(leader).Write(c, [&](auto r) {
    if (r.ok()) id = r->session_id();
  });
  net.Settle();
  return id;
}

TEST(NodeTest, WritesInOneBatchShareAReadyAndItsWrite) {
  CountingStore store(SoloVoter());
  auto node = LeadAlone(&store);
  int acked = 0;
  const int before_alone = store.persists;
  for (uint64_t seq = 1; seq <= 10; ++seq) {
    node->Write(Put(0, seq, "alone", "v"), [&](auto r) { acked += r.ok(); });
  }
  const int alone = store.persists - before_alone;
  const int before_batch = store.persists;
  node->BeginBatch();
  for (uint64_t seq = 11; seq <= 20; ++seq) {
    node->Write(Put(0, seq, "batched", "v"), [&](auto r) { acked += r.ok(); });
  }
  EXPECT_EQ(store.persists, before_batch);  // nothing happens until the batch ends
  node->EndBatch();
  const int batched = store.persists - before_batch;
  EXPECT_EQ(acked, 20);
  EXPECT_GE(alone, 10);   // one write (and more) per proposal
  EXPECT_LE(batched, 2);  // the ten entries, then their application with the commit
}

// The appends in the queue for `to`, and the entries they carry in all.
std::pair<int, size_t> AppendsTo(const std::deque<raft::Message>& queue, uint64_t to) {
  std::pair<int, size_t> count{0, 0};
  for (const raft::Message& m : queue) {
    if (m.type != raft::MessageType::kApp || m.to != to) continue;
    ++count.first;
    count.second += m.entries.size();
  }
  return count;
}

TEST(NodeTest, WritesInOneBatchReachEachFollowerInOneAppend) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  int acked = 0;
  // Alone, each write is an append of its own to each follower, and an answer back.
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    net.node(1).Write(Put(0, seq, "alone", "v"), [&](auto r) { acked += r.ok(); });
  }
  EXPECT_EQ(AppendsTo(net.queue(), 2), std::make_pair(5, size_t{5}));
  net.Settle();
  net.node(1).BeginBatch();
  for (uint64_t seq = 6; seq <= 15; ++seq) {
    net.node(1).Write(Put(0, seq, "batched", "v"), [&](auto r) { acked += r.ok(); });
  }
  EXPECT_TRUE(net.queue().empty());  // nothing is proposed before the batch ends
  net.node(1).EndBatch();
  EXPECT_EQ(AppendsTo(net.queue(), 2), std::make_pair(1, size_t{10}));
  EXPECT_EQ(AppendsTo(net.queue(), 3), std::make_pair(1, size_t{10}));
  net.Settle();
  EXPECT_EQ(acked, 15);
  EXPECT_EQ(net.node(1).counters().writes_proposed, 15u);
  EXPECT_EQ(net.node(1).counters().writes_proposed_together, 10u);
}

TEST(NodeTest, AWriteHeldInABatchIsRefusedIfTheLeaderIsDeposedBeforeItEnds) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  const uint64_t last = net.node(1).raw().raft().log().LastIndex();
  absl::Status outcome;
  net.node(1).BeginBatch();
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { outcome = r.status(); });
  // In the same round, a message of a later term makes node 1 a follower.
  raft::Message later;
  later.type = raft::MessageType::kHeartbeat;
  later.from = 2;
  later.to = 1;
  later.term = net.node(1).raw().raft().term() + 1;
  net.node(1).Receive(later);
  net.node(1).EndBatch();
  EXPECT_EQ(outcome.code(), absl::StatusCode::kUnavailable) << outcome;
  EXPECT_TRUE(absl::StrContains(outcome.message(), "not the leader")) << outcome;
  // Not proposed, nor forwarded to the new leader.
  EXPECT_EQ(net.node(1).raw().raft().log().LastIndex(), last);
  EXPECT_EQ(AppendsTo(net.queue(), 2).second, 0u);
  for (const raft::Message& m : net.queue()) EXPECT_NE(m.type, raft::MessageType::kProp);
  EXPECT_EQ(net.node(1).pending_writes(), 0u);
}

TEST(NodeTest, ABatchOverTheUncommittedLimitIsProposedOneByOne) {
  // Node 1 leads voters 1 and 2; 2 never answers, so nothing commits.
  MemoryNodeStore store([] {
    raft::ConfState cs;
    cs.voters = {1, 2};
    return cs;
  }());
  NullTransport nowhere;
  NodeOptions options;
  options.raft.id = 1;
  options.raft.max_uncommitted_entries_bytes = 100;
  auto node = *Node::Create(options, &store, &nowhere);
  node->Campaign();
  raft::Message vote;
  vote.type = raft::MessageType::kVoteResp;
  vote.from = 2;
  vote.to = 1;
  vote.term = node->raw().raft().term();
  node->Receive(vote);
  ASSERT_TRUE(node->is_leader());
  int refused = 0, other = 0;
  // The core takes any proposal while nothing is uncommitted: make something so.
  node->Write(Put(0, 1, "k", std::string(30, 'v')), [&](auto) { ++other; });
  ASSERT_EQ(node->counters().writes_proposed, 1u);
  other = 0;
  node->BeginBatch();
  for (uint64_t seq = 2; seq <= 7; ++seq) {
    node->Write(Put(0, seq, "k", std::string(30, 'v')), [&](auto r) {
      (r.status().code() == absl::StatusCode::kResourceExhausted ? refused : other)++;
    });
  }
  node->EndBatch();
  // Together they are over the limit; one by one, those that fit get in, as they would
  // have without the batch.
  EXPECT_GT(node->counters().writes_proposed, 1u);
  EXPECT_GT(refused, 0);
  EXPECT_EQ(node->counters().writes_proposed + refused, 7u);
  EXPECT_EQ(other, 0);  // the proposed ones wait for a commit that cannot come
  EXPECT_EQ(node->pending_writes(), node->counters().writes_proposed);
}

TEST(NodeTest, RetriedCommandIsAppliedOnce) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  const uint64_t client = RegisterSession(net, 1);
  ASSERT_NE(client, 0u);
  int results = 0;
  net.node(1).Write(Put(client, 1, "counter", "1"), [&](auto r) { results += r.ok(); });
  net.Settle();
  // The client did not hear back (say), and retries the same command after a new leader
  // took over: it is applied once, and the retry gets the recorded outcome.
  ASSERT_EQ(net.ElectLeader(2), 2u);
  net.node(2).Write(Put(client, 1, "counter", "1"), [&](auto r) { results += r.ok(); });
  net.Settle();
  EXPECT_EQ(results, 2);
  EXPECT_EQ(net.node(2).counters().duplicates_suppressed, 1u);
}

TEST(NodeTest, CountersFollowElectionsWritesAndApplies) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  EXPECT_EQ(net.node(1).counters().elections_won, 1u);
  EXPECT_EQ(net.node(1).counters().elections_started, 1u);  // pre-vote, then vote: one
  EXPECT_EQ(net.node(2).counters().elections_won, 0u);
  EXPECT_EQ(net.node(2).counters().leader_changes, 1u);
  const NodeCounters before = net.node(1).counters();
  int ok = 0, failed = 0;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    net.node(1).Write(Put(0, seq, "k", "v"), [&](auto r) { r.ok() ? ++ok : ++failed; });
  }
  net.node(2).Write(Put(0, 9, "k", "v"), [&](auto r) { r.ok() ? ++ok : ++failed; });
  net.Settle();
  ASSERT_EQ(ok, 3);
  ASSERT_EQ(failed, 1);
  const NodeCounters& after = net.node(1).counters();
  EXPECT_EQ(after.writes_received - before.writes_received, 3u);
  EXPECT_EQ(after.writes_proposed - before.writes_proposed, 3u);
  EXPECT_EQ(after.writes_committed - before.writes_committed, 3u);
  EXPECT_EQ(after.writes_failed, before.writes_failed);
  EXPECT_EQ(after.entries_applied - before.entries_applied, 3u);
  EXPECT_GE(after.ready_entries - before.ready_entries, 3u);
  EXPECT_EQ(net.node(2).counters().writes_failed, 1u);  // not the leader
  EXPECT_EQ(net.node(2).counters().writes_proposed, 0u);

  ASSERT_EQ(net.ElectLeader(3), 3u);
  EXPECT_EQ(net.node(3).counters().elections_won, 1u);
  EXPECT_EQ(net.node(1).counters().leader_changes, 2u);
}

TEST(NodeTest, AnUnknownSessionIsReportedAndWritesNothing) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  absl::Status status;
  net.node(1).Write(Put(77, 1, "k", "v"), [&](auto r) { status = r.status(); });
  net.Settle();
  EXPECT_TRUE(IsSessionExpired(status)) << status;
  EXPECT_FALSE(net.store(1).Get("k")->has_value());
}

TEST(NodeTest, FollowerRedirectsWritesToTheLeader) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  absl::Status status;
  net.node(3).Write(Put(0, 1, "k", "v"), [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("leader is 1"), std::string::npos) << status;
  EXPECT_EQ(net.node(3).leader(), 1u);
}

TEST(NodeTest, BadRequestsGetClearErrors) {
  Network net(1);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  absl::Status status;
  net.node(1).Write(Put(0, 1, "", "v"), [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  net.node(1).Write(kvpb::Command(), [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  net.node(1).Read(std::string(1, '\0'), ReadConsistency::kLocal,
                   [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(NodeTest, WriteOrReadWithoutLeaderIsUnavailableAtOnce) {
  Network net(3);
  absl::Status status;
  net.node(2).Write(Put(0, 1, "k", "v"), [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  status = absl::OkStatus();
  net.node(2).Read("k", ReadConsistency::kLinearizable, [&](auto r) { status = r.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

// A caller that gives up frees what its request held on the node.
TEST(NodeTest, CancelledRequestsAreAnsweredAndForgotten) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.drop = [](const raft::Message&) { return true; };  // nothing arrives: all stay pending
  absl::Status read_status, write_status;
  const uint64_t token = net.node(1).ReadBarrier(ReadConsistency::kLinearizable,
                                                 [&](absl::Status s) { read_status = s; });
  ASSERT_NE(token, 0u);
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { write_status = r.status(); });
  net.Settle();
  ASSERT_EQ(net.node(1).pending_requests(), 2u);
  net.node(1).CancelRead(token);
  net.node(1).CancelWrite(0, 1);
  EXPECT_EQ(read_status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(write_status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(net.node(1).pending_requests(), 0u);
  net.node(1).CancelRead(token);  // twice, or after the answer: nothing happens
  net.node(1).CancelWrite(0, 1);
}

// A callback that issues the next request at once, from inside the completion of an
// asynchronous persist, must not re-enter the Ready loop (it used to call GetReady with a
// Ready outstanding, and the core aborted).
TEST(NodeTest, CallbackIssuingTheNextRequestDoesNotReenterTheReadyLoop) {
  Network net(1, /*async_disk=*/true);
  net.node(1).Campaign();
  net.Settle();
  ASSERT_TRUE(net.node(1).is_leader());
  int acked = 0;
  std::function<void(uint64_t)> write = [&](uint64_t seq) {
    net.node(1).Write(Put(0, seq, "k", absl::StrCat(seq)), [&, seq](auto r) {
      ASSERT_TRUE(r.ok()) << r.status();
      ++acked;
      if (seq < 5) write(seq + 1);  // the next request, from inside the callback
    });
  };
  write(1);
  net.Settle();
  EXPECT_EQ(acked, 5);
  EXPECT_EQ(**net.store(1).Get("k"), "5");
}

TEST(NodeTest, LeaderLosingLeadershipFailsPendingWrites) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  absl::Status status;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { status = r.status(); });
  net.queue().clear();  // the appends are lost
  ASSERT_EQ(net.ElectLeader(2), 2u);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("retry"), std::string::npos);
}

// Found by the simulator: after a restart, the store must report the configuration as of
// the applied index, or the node forgets membership changes it already applied.
TEST(NodeTest, RestartKeepsAppliedConfiguration) {
  raft::ConfState solo;
  solo.voters = {1};
  MemoryNodeStore store(solo);
  class Drop : public Transport {
   public:
    void Send(raft::Message) override {}
  } drop;
  NodeOptions options;
  options.raft.id = 1;
  {
    auto node = *Node::Create(options, &store, &drop);
    node->Campaign();
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, 2});
    ASSERT_TRUE(node->ProposeConfChange(cc).ok());
    ASSERT_EQ(node->raw().raft().tracker().GetConfState().learners, std::vector<uint64_t>{2});
  }
  auto restarted = *Node::Create(options, &store, &drop);
  EXPECT_EQ(restarted->raw().raft().tracker().GetConfState().learners, std::vector<uint64_t>{2});
}

// Found by the simulator: a lost snapshot must not leave the follower paused for good.
TEST(NodeTest, LostSnapshotIsSentAgain) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  // Node 3 misses everything while the log grows; then the leader compacts its log.
  net.drop = [](const raft::Message& m) { return m.to == 3; };
  for (uint64_t i = 1; i <= 30; ++i) {
    net.node(1).Write(Put(0, i, "k", "v"), [](auto) {});
    net.Settle();
  }
  ASSERT_TRUE(net.store(1).SnapshotAndCompact(2).ok());
  // Node 3 is back, but the first snapshot sent to it is lost.
  int snapshots = 0;
  net.drop = [&](const raft::Message& m) {
    return m.type == raft::MessageType::kSnap && ++snapshots == 1;
  };
  for (int round = 0; round < 100 && net.store(3).applied_index() < 31; ++round) {
    net.node(1).Tick();
    net.node(2).Tick();
    net.node(3).Tick();
    net.Settle();
  }
  EXPECT_GE(snapshots, 2);  // the lost one, and the one that arrived
  EXPECT_GE(net.store(3).applied_index(), 31u);
  EXPECT_EQ(**net.store(3).Get("k"), "v");
}

TEST(NodeTest, PeerMessageForAnotherNodeIsDroppedAndCounted) {
  Network net(3);
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = 2;
  m.to = 3;
  m.term = 1;
  net.node(1).Receive(m);
  EXPECT_EQ(net.node(1).counters().dropped_peer_messages, 1u);
}

TEST(NodeTest, AFollowerWithAFullDiskStallsServesStaleReadsAndCatchesUpOnceFreed) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.node(1).Write(Put(0, 1, "k", "old"), [](auto) {});
  net.Settle();
  net.store(3).set_disk_full(true);
  std::optional<absl::StatusOr<kvpb::CommandResult>> written;
  net.node(1).Write(Put(0, 2, "k", "new"), [&](auto r) { written = std::move(r); });
  net.Settle();
  // The other two hold a majority: the write commits without node 3.
  ASSERT_TRUE(written.has_value() && written->ok());
  EXPECT_EQ(net.node(3).disk_full().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(net.node(3).failure().ok());  // not a fatal error
  EXPECT_EQ(net.node(3).counters().disk_full_stalls, 1u);
  std::optional<absl::StatusOr<std::optional<std::string>>> stale, linearizable;
  net.node(3).Read("k", ReadConsistency::kLocal, [&](auto r) { stale = std::move(r); });
  net.node(3).Read("k", ReadConsistency::kLinearizable, [&](auto r) { linearizable = r; });
  ASSERT_TRUE(stale.has_value() && stale->ok());
  EXPECT_EQ(**stale, "old");
  ASSERT_TRUE(linearizable.has_value());
  EXPECT_EQ(linearizable->status().code(), absl::StatusCode::kUnavailable);

  // Retries before the space comes back change nothing.
  for (int i = 0; i < 25; ++i) net.node(3).Tick();
  net.Settle();
  EXPECT_EQ(net.node(3).counters().disk_full_retries, 2u);
  EXPECT_FALSE(net.node(3).disk_full().ok());

  net.store(3).set_disk_full(false);
  for (int i = 0; i < 10 && !net.node(3).disk_full().ok(); ++i) net.node(3).Tick();
  net.Settle();
  EXPECT_TRUE(net.node(3).disk_full().ok());
  stale.reset();
  net.node(3).Read("k", ReadConsistency::kLocal, [&](auto r) { stale = std::move(r); });
  ASSERT_TRUE(stale.has_value() && stale->ok());
  EXPECT_EQ(**stale, "new");
}

TEST(NodeTest, ALeaderWithAFullDiskRefusesWritesAndAnswersTheStalledOneOnceFreed) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.store(1).set_disk_full(true);
  std::optional<absl::StatusOr<kvpb::CommandResult>> stalled, refused;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { stalled = std::move(r); });
  net.Settle();
  // Proposed before the disk was known full: it may still commit, so no answer yet.
  EXPECT_FALSE(stalled.has_value());
  EXPECT_FALSE(net.node(1).disk_full().ok());
  net.node(1).Write(Put(0, 2, "k", "w"), [&](auto r) { refused = std::move(r); });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused->status().message().find("disk is full"), std::string::npos);
  EXPECT_EQ(net.node(1).counters().writes_refused_disk, 1u);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, 4});
  EXPECT_EQ(net.node(1).ProposeConfChange(cc).code(), absl::StatusCode::kResourceExhausted);

  net.store(1).set_disk_full(false);
  for (int i = 0; i < 10 && !stalled.has_value(); ++i) {
    net.node(1).Tick();
    net.Settle();
  }
  ASSERT_TRUE(stalled.has_value());
  EXPECT_TRUE(stalled->ok()) << stalled->status();
  std::optional<absl::StatusOr<kvpb::CommandResult>> again;
  net.node(1).Write(Put(0, 3, "k", "x"), [&](auto r) { again = std::move(r); });
  net.Settle();
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->ok()) << again->status();
}

TEST(NodeTest, LowDiskSpaceRefusesNewWritesButKeepsReadsAndReplication) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.node(1).SetLowDiskSpace(absl::ResourceExhaustedError("12 MiB free, 64 MiB kept"));
  std::optional<absl::StatusOr<kvpb::CommandResult>> refused;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { refused = std::move(r); });
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused->status().message().find("12 MiB free"), std::string::npos);
  std::optional<absl::StatusOr<std::optional<std::string>>> read;
  net.node(1).Read("k", ReadConsistency::kLinearizable, [&](auto r) { read = std::move(r); });
  net.Settle();
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->ok()) << read->status();

  net.node(1).SetLowDiskSpace(absl::OkStatus());
  std::optional<absl::StatusOr<kvpb::CommandResult>> accepted;
  net.node(1).Write(Put(0, 2, "k", "v"), [&](auto r) { accepted = std::move(r); });
  net.Settle();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_TRUE(accepted->ok()) << accepted->status();
}

}  // namespace
}  // namespace rb::node
