// Node over MemoryNodeStore and an in-process transport: the ordering and client-facing
// behaviour the server and the simulator rely on.
#include "node/node.h"

#include <deque>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "node/member_directory.h"
#include "node/memory_node_store.h"
#include "node/null_transport.h"
#include "raft/codec.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

class Network;

class Link : public Transport {
 public:
  Link(Network* net, uint64_t from) : net_(net), from_(from) {}
  void Send(raft::Message m) override;
  void TellRemoved(uint64_t to, uint64_t removed_at_index) override;

 private:
  Network* net_;
  uint64_t from_;
};

// Three nodes; persists complete when the test says so (Sync), messages when Deliver runs.
class Network {
 public:
  // clock_us, if given, is every node's clock (lease reads; CheckQuorum on).
  explicit Network(int n, bool async_disk = false, const uint64_t* clock_us = nullptr) {
    raft::ConfState cs;
    for (int i = 1; i <= n; ++i) cs.voters.push_back(i);
    for (int i = 1; i <= n; ++i) {
      auto& slot = nodes_[i];
      MemoryNodeStore::Scheduler scheduler;
      if (async_disk) {
        scheduler = [this](std::function<void()> work) { disk_queue_.push_back(std::move(work)); };
      }
      slot.store = std::make_unique<MemoryNodeStore>(cs, scheduler);
      slot.link = std::make_unique<Link>(this, i);
      NodeOptions options;
      options.raft.id = i;
      options.raft.seed = 7;
      if (clock_us != nullptr) {
        options.raft.check_quorum = true;
        options.tick_us = 100'000;
        options.clock_us = [clock_us] { return *clock_us; };
      }
      slot.node = *Node::Create(options, slot.store.get(), slot.link.get());
    }
  }
  Node& node(uint64_t id) { return *nodes_.at(id).node; }
  MemoryNodeStore& store(uint64_t id) { return *nodes_.at(id).store; }
  void Queue(raft::Message m) { queue_.push_back(std::move(m)); }
  std::deque<raft::Message>& queue() { return queue_; }
  void Sync() {
    while (!disk_queue_.empty()) {
      auto work = std::move(disk_queue_.front());
      disk_queue_.pop_front();
      work();
    }
  }
  void Settle() {
    for (int i = 0; i < 10000 && (!queue_.empty() || !disk_queue_.empty()); ++i) {
      Sync();
      if (queue_.empty()) continue;
      raft::Message m = std::move(queue_.front());
      queue_.pop_front();
      if (drop && drop(m)) continue;
      nodes_.at(m.to).node->Receive(std::move(m));
    }
  }
  // Messages for which this returns true are lost in delivery.
  std::function<bool(const raft::Message&)> drop;
  // Every Transport::TellRemoved call, as "from -> to: index".
  std::vector<std::string> tells;

  // A new process over the same store (its run counted by incarnation).
  void Restart(uint64_t id, uint64_t incarnation) {
    auto& slot = nodes_.at(id);
    slot.node.reset();
    NodeOptions options;
    options.raft.id = id;
    options.raft.seed = 7;
    options.incarnation = incarnation;
    slot.node = *Node::Create(options, slot.store.get(), slot.link.get());
  }

  uint64_t ElectLeader(uint64_t id) {
    node(id).Campaign();
    Settle();
    return node(id).is_leader() ? id : 0;
  }

 private:
  struct Slot {
    std::unique_ptr<MemoryNodeStore> store;
    std::unique_ptr<Link> link;
    std::unique_ptr<Node> node;
  };
  std::map<uint64_t, Slot> nodes_;
  std::deque<raft::Message> queue_;
  std::deque<std::function<void()>> disk_queue_;
};

void Link::Send(raft::Message m) { net_->Queue(std::move(m)); }
void Link::TellRemoved(uint64_t to, uint64_t removed_at_index) {
  net_->tells.push_back(absl::StrCat(from_, " -> ", to, ": ", removed_at_index));
}

kvpb::Command Put(uint64_t client, uint64_t seq, std::string k, std::string v) {
  kvpb::Command c;
  c.set_client_id(client);
  c.set_seq(seq);
  c.mutable_put()->set_key(std::move(k));
  c.mutable_put()->set_value(std::move(v));
  return c;
}

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

TEST(NodeTest, LeaseReadsNeedNoRoundTripUntilTheLeaseEnds) {
  uint64_t now_us = 1'000'000;
  Network net(3, /*async_disk=*/false, &now_us);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  Node& leader = net.node(1);
  // 10 ticks of 100 ms, less 2 ticks, less the drift margins: about 0.65 s.
  EXPECT_GT(leader.lease_us(), 600'000u);
  EXPECT_LT(leader.lease_us(), 800'000u);
  // No lease yet: the first lease read is a ReadIndex round, which takes one.
  bool done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  ASSERT_TRUE(done);
  ASSERT_TRUE(leader.HasLease());
  // Cut off from everyone: lease reads are still answered at once, linearizable ones wait.
  net.drop = [](const raft::Message&) { return true; };
  now_us += leader.lease_us() / 3;
  done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  EXPECT_TRUE(done);
  EXPECT_EQ(leader.counters().lease_reads, 1u);
  bool linearizable = false;
  leader.ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status) { linearizable = true; });
  net.Settle();
  EXPECT_FALSE(linearizable);
  // Past the lease (measured from when its confirming round began): no more.
  now_us += leader.lease_us();
  EXPECT_FALSE(leader.HasLease());
  done = false;
  leader.ReadBarrier(ReadConsistency::kLease, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  EXPECT_FALSE(done);
}

TEST(NodeTest, ALeaderThatHandsOverTrustsNoLeaseForTheRestOfItsTerm) {
  uint64_t now_us = 1'000'000;
  Network net(3, /*async_disk=*/false, &now_us);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool done = false;
  net.node(1).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  ASSERT_TRUE(net.node(1).HasLease());
  // The TimeoutNow is lost: node 1 stays leader, but the message could still arrive later,
  // and its target would campaign ignoring every follower's lease.
  net.drop = [](const raft::Message& m) { return m.type == raft::MessageType::kTimeoutNow; };
  net.node(1).TransferLeader(2);
  net.Settle();
  EXPECT_FALSE(net.node(1).HasLease());
  net.drop = nullptr;
  for (int i = 0; i < 30; ++i) {  // the transfer times out; heartbeats keep the quorum
    net.node(1).Tick();
    net.Settle();
  }
  ASSERT_TRUE(net.node(1).is_leader());
  done = false;
  net.node(1).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status s) { done = s.ok(); });
  net.Settle();
  EXPECT_TRUE(done);
  EXPECT_FALSE(net.node(1).HasLease());
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

int CountOf(const std::deque<raft::Message>& queue, raft::MessageType type, uint64_t to) {
  int n = 0;
  for (const raft::Message& m : queue) n += m.type == type && m.to == to;
  return n;
}

TEST(NodeTest, LinearizableReadsInOneBatchShareOneReadIndexRound) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  bool written = false;
  net.node(1).Write(Put(0, 1, "k", "v"), [&](auto r) { written = r.ok(); });
  net.Settle();
  ASSERT_TRUE(written);
  std::vector<std::string> values;
  auto read = [&](uint64_t id) {
    net.node(id).Read("k", ReadConsistency::kLinearizable, [&](auto r) {
      values.push_back(r.ok() && r->has_value() ? **r : r.status().ToString());
    });
  };
  // Alone, each read is a round of its own: a heartbeat to each follower.
  for (int i = 0; i < 3; ++i) read(1);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 3);
  net.Settle();
  EXPECT_EQ(net.node(1).counters().read_rounds, 3u);
  // In one batch, the first read starts the round and the others join it.
  net.node(1).BeginBatch();
  for (int i = 0; i < 5; ++i) read(1);
  net.node(1).EndBatch();
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 2), 1);
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kHeartbeat, 3), 1);
  EXPECT_EQ(net.node(1).counters().read_rounds, 4u);
  EXPECT_EQ(net.node(1).counters().reads_joined, 4u);
  net.Settle();
  // On a follower, one request to the leader for the batch.
  net.node(3).BeginBatch();
  for (int i = 0; i < 4; ++i) read(3);
  net.node(3).EndBatch();
  EXPECT_EQ(CountOf(net.queue(), raft::MessageType::kReadIndex, 1), 1);
  net.Settle();
  EXPECT_EQ(net.node(3).counters().reads_joined, 3u);
  EXPECT_EQ(values, std::vector<std::string>(12, "v"));
  EXPECT_EQ(net.node(1).pending_requests() + net.node(3).pending_requests(), 0u);
}

TEST(NodeTest, AReadThatJoinedARoundIsCancelledAloneAndTheRoundServesTheRest) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  std::vector<absl::Status> answers(3, absl::UnknownError("not answered"));
  std::vector<uint64_t> tokens;
  net.node(1).BeginBatch();
  for (size_t i = 0; i < answers.size(); ++i) {
    tokens.push_back(net.node(1).ReadBarrier(ReadConsistency::kLinearizable,
                                             [&answers, i](absl::Status s) { answers[i] = s; }));
  }
  net.node(1).EndBatch();
  ASSERT_EQ(net.node(1).counters().reads_joined, 2u);
  net.node(1).CancelRead(tokens[1]);  // joined the round
  net.node(1).CancelRead(tokens[0]);  // started it
  EXPECT_EQ(answers[0].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answers[1].code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(answers[2].code(), absl::StatusCode::kUnknown);
  net.Settle();
  EXPECT_TRUE(answers[2].ok()) << answers[2];
  EXPECT_EQ(net.node(1).pending_requests(), 0u);
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

TEST(NodeTest, LinearizableReadSeesPrecedingWrite) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.node(1).Write(Put(0, 1, "k", "v"), [](auto) {});
  net.Settle();
  std::optional<std::string> seen;
  net.node(3).Read("k", ReadConsistency::kLinearizable, [&](auto r) {
    ASSERT_TRUE(r.ok());
    seen = *r;
  });
  net.Settle();
  EXPECT_EQ(seen, "v");
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

// Found by the simulator (seed 9400003482 --voters=1): a removed node kept naming the
// leader it last followed, itself removed since; clients sent there looped between removed
// nodes. A node outside its configuration names no leader and refuses what it cannot serve.
TEST(NodeTest, RemovedNodeNamesNoLeaderAndRefusesRequests) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  raft::ConfChange remove3;
  remove3.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(remove3).ok());
  net.Settle();
  ASSERT_FALSE(net.node(3).is_member());
  ASSERT_EQ(net.node(3).raw().raft().lead(), 1u) << "the core still remembers its last leader";
  EXPECT_EQ(net.node(3).leader(), raft::kNone);
  absl::Status write, read;
  net.node(3).Write(Put(0, 1, "k", "v"), [&](auto r) { write = r.status(); });
  net.node(3).Read("k", ReadConsistency::kLinearizable, [&](auto r) { read = r.status(); });
  for (const absl::Status& s : {write, read}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    EXPECT_NE(s.message().find("not a member"), std::string::npos) << s;
  }
  EXPECT_EQ(net.node(3).pending_requests(), 0u);
  EXPECT_TRUE(net.node(2).is_member());
  EXPECT_EQ(net.node(2).leader(), 1u);
}

// A removed node that keeps campaigning (it missed its removal) is ignored and counted, as
// are its answers; once added again, it is heard again.
TEST(NodeTest, CampaignsOfARemovedNodeAreIgnoredUntilItIsAddedAgain) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_FALSE(net.node(2).raw().raft().tracker().progress.count(3));
  auto campaign = [&](uint64_t from) {
    raft::Message m;
    m.type = raft::MessageType::kPreVote;
    m.from = from;
    m.to = 2;
    m.term = net.node(2).raw().raft().term() + 1;
    m.log_term = 1;
    m.index = 1;
    net.node(2).Receive(m);
  };
  campaign(3);
  campaign(3);
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
  raft::Message answer;
  answer.type = raft::MessageType::kAppResp;
  answer.from = 3;
  answer.to = 1;
  answer.term = net.node(1).raw().raft().term() + 5;  // would depose the leader if heard
  answer.index = 1;
  // (The leader may have ignored some of node 3's answers already, as it learned of the
  // removal.)
  const uint64_t before = net.node(1).counters().removed_member_messages;
  net.node(1).Receive(answer);
  EXPECT_EQ(net.node(1).counters().removed_member_messages, before + 1);
  EXPECT_TRUE(net.node(1).is_leader());
  net.drop = [](const raft::Message& m) { return m.to == 9; };
  campaign(9);  // never a member: not tombstoned, so left to the core
  net.Settle();
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);

  // A campaign whose log holds all of node 2's is left to the core: the candidate may have
  // been added again in entries node 2 has yet to apply.
  {
    raft::Message m;
    m.type = raft::MessageType::kPreVote;
    m.from = 3;
    m.to = 2;
    m.term = net.node(2).raw().raft().term() + 1;
    m.index = net.node(2).raw().raft().log().LastIndex();
    m.log_term = net.node(2).raw().raft().term();
    net.node(2).Receive(m);
    EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
  }

  cc.changes[0].type = raft::ConfChangeType::kAddLearnerNode;
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_TRUE(net.node(2).raw().raft().tracker().progress.count(3));
  campaign(3);
  EXPECT_EQ(net.node(2).counters().removed_member_messages, 2u);
}

// A node cut off while it was removed never gets the entry that removes it: the leader
// stops replicating to it once the removal is applied. When it campaigns, the members that
// drop its messages tell it the index of its removal, and it can see that its log never
// reached that index (a node that holds the index has applied its removal, or the later
// entry that added it again).
TEST(NodeTest, ANodeThatMissedItsRemovalIsToldOfIt) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  net.drop = [](const raft::Message& m) { return m.to == 3 || m.from == 3; };
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_FALSE(net.node(2).raw().raft().tracker().progress.count(3));
  const uint64_t removed_at = *RemovedAt(net.store(2), 3);
  ASSERT_GT(removed_at, 0u);
  const uint64_t last = net.node(3).raw().raft().log().LastIndex();
  ASSERT_LT(last, removed_at);
  EXPECT_TRUE(net.tells.empty());

  // It campaigns; the members hear it now, and it hears nothing back.
  net.drop = [](const raft::Message& m) { return m.to == 3; };
  net.node(3).Campaign();
  net.Settle();
  const std::string told = absl::StrCat(" -> 3: ", removed_at);
  EXPECT_EQ(net.tells, (std::vector<std::string>{"1" + told, "2" + told}));
  EXPECT_TRUE(net.node(3).MissedItsRemovalAt(removed_at));
  EXPECT_FALSE(net.node(3).MissedItsRemovalAt(last)) << "its log has that index";
  EXPECT_FALSE(net.node(2).MissedItsRemovalAt(removed_at)) << "a member that has the entry";
}

// A word of removal is weighed for an election timeout of the node's own ticks before it
// is believed (Node::HearRemoval). Removed for good, the node still misses its removal then;
// added again meanwhile, it hears from its leader in that time (and receives the change
// that added it), so the word, from a member that lagged behind that change, is dropped.
TEST(NodeTest, AWordOfRemovalIsBelievedOnlyIfItStillHoldsAnElectionTimeoutLater) {
  const int election_ticks = NodeOptions{}.raft.election_tick;
  auto remove_node3_cut_off = [](Network* net) {
    EXPECT_EQ(net->ElectLeader(1), 1u);
    net->drop = [](const raft::Message& m) { return m.to == 3 || m.from == 3; };
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
    EXPECT_TRUE(net->node(1).ProposeConfChange(cc).ok());
    net->Settle();
    return *RemovedAt(net->store(2), 3);
  };

  Network removed(3);
  const uint64_t removed_at = remove_node3_cut_off(&removed);
  ASSERT_GT(removed_at, 0u);
  removed.node(3).HearRemoval(removed_at);
  for (int i = 1; i < election_ticks; ++i) removed.node(3).Tick();
  EXPECT_EQ(removed.node(3).removal_believed_at(), 0u) << "still weighing it";
  removed.node(3).Tick();
  EXPECT_EQ(removed.node(3).removal_believed_at(), removed_at);
  removed.node(3).HearRemoval(removed_at + 1);
  EXPECT_EQ(removed.node(3).removal_believed_at(), removed_at) << "believed once, for good";

  Network readded(3);
  ASSERT_EQ(remove_node3_cut_off(&readded), removed_at);
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, 3});
  ASSERT_TRUE(readded.node(1).ProposeConfChange(cc).ok());
  readded.Settle();
  ASSERT_TRUE(readded.node(2).raw().raft().tracker().progress.count(3));
  readded.node(3).HearRemoval(removed_at);  // from a member yet to apply the re-addition
  ASSERT_TRUE(readded.node(3).MissedItsRemovalAt(removed_at)) << "it cannot tell yet";
  readded.drop = nullptr;
  for (int i = 0; i < election_ticks; ++i) {
    readded.node(1).Tick();
    readded.node(3).Tick();
    readded.Settle();
  }
  EXPECT_EQ(readded.node(3).removal_believed_at(), 0u);
  EXPECT_TRUE(readded.node(3).is_member());
  EXPECT_FALSE(readded.node(3).MissedItsRemovalAt(removed_at));

  // Added again, and its leader's heartbeats reach it while the appends that would carry
  // the change do not (yet): hearing from a leader of its term is enough to drop the word.
  Network slow(3);
  ASSERT_EQ(remove_node3_cut_off(&slow), removed_at);
  ASSERT_TRUE(slow.node(1).ProposeConfChange(cc).ok());
  slow.Settle();
  slow.node(3).HearRemoval(removed_at);
  slow.drop = [](const raft::Message& m) {
    return (m.to == 3 && m.type != raft::MessageType::kHeartbeat) || m.from == 3;
  };
  for (int i = 0; i < election_ticks; ++i) {
    slow.node(1).Tick();
    slow.node(3).Tick();
    slow.Settle();
  }
  EXPECT_TRUE(slow.node(3).MissedItsRemovalAt(removed_at)) << "the change has not reached it";
  EXPECT_EQ(slow.node(3).removal_believed_at(), 0u);
}

// A node that got the entry removing it, but never heard it was committed (the leader
// applied the removal and stopped replicating to it first), believes the tell as well:
// its own entry at that index removes it too. An uncommitted entry that does not, it
// does not.
TEST(NodeTest, ANodeThatHoldsItsRemovalUncommittedBelievesTheTell) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  const uint64_t removal = net.node(1).raw().raft().log().LastIndex() + 1;
  // Node 3 gets the removal's append (the commit index it carries is older), and nothing
  // after it; the leader never hears from it.
  net.drop = [removal](const raft::Message& m) {
    return m.from == 3 || (m.to == 3 && m.commit >= removal);
  };
  raft::ConfChange cc;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, 3});
  ASSERT_TRUE(net.node(1).ProposeConfChange(cc).ok());
  net.Settle();
  ASSERT_EQ(*RemovedAt(net.store(2), 3), removal);
  const raft::RaftLog& log = net.node(3).raw().raft().log();
  ASSERT_GE(log.LastIndex(), removal);
  ASSERT_LT(log.committed(), removal);
  EXPECT_TRUE(net.node(3).MissedItsRemovalAt(removal));
  EXPECT_FALSE(net.node(3).MissedItsRemovalAt(removal - 1)) << "an entry it applied";

  // An uncommitted entry of its own that is not its removal: the tell is not believed.
  Network other(3);
  ASSERT_EQ(other.ElectLeader(1), 1u);
  const uint64_t put = other.node(1).raw().raft().log().LastIndex() + 1;
  other.drop = [put](const raft::Message& m) {
    return m.from == 3 || (m.to == 3 && m.commit >= put);
  };
  other.node(1).Write(Put(0, 0, "k", "v"), [](auto) {});
  other.Settle();
  ASSERT_GE(other.node(3).raw().raft().log().LastIndex(), put);
  ASSERT_LT(other.node(3).raw().raft().log().committed(), put);
  EXPECT_FALSE(other.node(3).MissedItsRemovalAt(put));
}

// What a node's own log says against a tell of its removal, over a log set up by hand:
// entries it holds but never heard were committed.
TEST(NodeTest, ATellOfRemovalIsBelievedOnlyWhereTheLogCannotSayOtherwise) {
  raft::ConfState three;
  three.voters = {1, 2, 3};
  NullTransport nowhere;
  auto conf = [](raft::ConfChangeType type, uint64_t index) {
    raft::ConfChange cc;
    cc.changes.push_back({type, 3});
    return raft::Entry{1, index, raft::EntryType::kConfChange, raft::EncodeConfChange(cc)};
  };
  auto node3_over = [&](MemoryNodeStore* store, std::vector<raft::Entry> entries) {
    raft::Ready rd;
    rd.entries = std::move(entries);
    rd.hard_state = raft::HardState{1, 0, 1};  // only entry 1 known committed
    bool persisted = false;
    store->Persist(rd, nullptr, nullptr, [&](absl::Status s) { persisted = s.ok(); });
    EXPECT_TRUE(persisted);
    NodeOptions options;
    options.raft.id = 3;
    return *Node::Create(options, store, &nowhere);
  };
  const raft::Entry first{1, 1, raft::EntryType::kNormal, ""};
  const raft::Entry other{1, 3, raft::EntryType::kNormal, ""};

  MemoryNodeStore removed_only(three);
  auto node = node3_over(&removed_only, {first, conf(raft::ConfChangeType::kRemoveNode, 2), other});
  EXPECT_FALSE(node->MissedItsRemovalAt(1)) << "known committed: it would have applied it";
  EXPECT_TRUE(node->MissedItsRemovalAt(2)) << "its own entry there removes it";
  EXPECT_FALSE(node->MissedItsRemovalAt(3)) << "its own entry there is something else";
  EXPECT_TRUE(node->MissedItsRemovalAt(4)) << "beyond its log";

  MemoryNodeStore readded(three);
  node = node3_over(&readded, {first, conf(raft::ConfChangeType::kRemoveNode, 2), other,
                               conf(raft::ConfChangeType::kAddLearnerNode, 4)});
  EXPECT_FALSE(node->MissedItsRemovalAt(2)) << "an entry after adds it again";
  EXPECT_TRUE(node->MissedItsRemovalAt(5));
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

// Found by the simulator (seed 61000001002 --voters=1): read contexts were "<id>/<counter>"
// and the counter starts again after a restart, so a late answer to a read of the earlier
// run completed a new read at an old read index: a stale read.
TEST(NodeTest, AnAnswerToAnEarlierRunsReadDoesNotCompleteANewOne) {
  Network net(3);
  ASSERT_EQ(net.ElectLeader(1), 1u);
  auto take_read_index = [&]() {
    for (auto it = net.queue().begin(); it != net.queue().end(); ++it) {
      if (it->type == raft::MessageType::kReadIndex) {
        raft::Message m = std::move(*it);
        net.queue().erase(it);
        return m;
      }
    }
    ADD_FAILURE() << "no MsgReadIndex queued";
    return raft::Message();
  };
  net.node(2).ReadBarrier(ReadConsistency::kLinearizable, [](absl::Status) {});
  raft::Message old_request = take_read_index();  // delayed in the network
  net.Restart(2, /*incarnation=*/1);
  net.node(1).Tick();  // a heartbeat: node 2 learns its leader again
  net.Settle();
  bool answered = false;
  net.node(2).ReadBarrier(ReadConsistency::kLinearizable, [&](absl::Status) { answered = true; });
  take_read_index();                  // the new request is lost
  net.Queue(std::move(old_request));  // the old one arrives at last, and is answered
  net.Settle();
  EXPECT_FALSE(answered) << "a read of the earlier run completed this run's read";
  EXPECT_EQ(net.node(2).pending_requests(), 1u);
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
