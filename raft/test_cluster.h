// TestCluster: an in-process network of RawNodes over MemoryStorage, for the core's tests.
//
// Each node is driven exactly like a production driver would (persist the Ready to
// storage, then send, then apply, then Advance). Messages queue in the network and are
// delivered by Deliver()/Stabilize(), which honour cuts, isolation, per-link drop rates and
// ignored message types. After every delivered message the InvariantChecker runs over all
// nodes; a violation fails the test at once.
//
// Not the fault simulator (sim/): no virtual time, no disk faults, no crashes.
#ifndef RAFTBADGER_RAFT_TEST_CLUSTER_H_
#define RAFTBADGER_RAFT_TEST_CLUSTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "raft/invariants.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"
#include "raft/rng.h"

namespace rb::raft {

struct TestNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<RawNode> node;
  std::vector<Entry> applied;          // committed entries in apply order
  std::vector<ReadState> read_states;  // every read state seen
  Ready ready;                         // reused across rounds
};

class TestCluster {
 public:
  // Creates nodes 1..voters as voters (and voters+1..voters+learners as learners) with a
  // shared initial configuration. `tweak` may adjust each node's Config.
  TestCluster(int voters, int learners = 0, std::function<void(Config*)> tweak = nullptr,
              uint64_t seed = 1);

  RawNode& node(uint64_t id) { return *nodes_.at(id).node; }
  const Raft& raft(uint64_t id) const { return nodes_.at(id).node->raft(); }
  Raft& mutable_raft(uint64_t id) { return nodes_.at(id).node->mutable_raft(); }
  TestNode& test_node(uint64_t id) { return nodes_.at(id); }
  MemoryStorage& storage(uint64_t id) { return *nodes_.at(id).storage; }
  std::vector<uint64_t> ids() const;

  // Adds a node with an empty log that knows the cluster's initial configuration (as a
  // joining etcd member is given the initial cluster); it replays every configuration
  // change from the leader's log, or gets a snapshot carrying the configuration.
  void AddNode(uint64_t id);
  // Crashes the node and restarts it from its storage (MemoryStorage is "durable").
  void Restart(uint64_t id);
  // Replaces the node's log with entries of the given terms (index 1, 2, ...) and its
  // hard state's term with `term` (no vote, nothing committed), then restarts it.
  void SetLog(uint64_t id, const std::vector<uint64_t>& terms, uint64_t term);

  // Processes every node's Ready (persist, queue messages, apply). Returns whether any had one.
  bool ProcessReadies();
  // Delivers queued messages (and new ones) until nothing moves. Bounded; crashes if the
  // cluster never goes quiet (a livelock in the core).
  void Stabilize();
  // Delivers only what is queued now, one round.
  void DeliverRound();
  // Ticks one node (or all), then processes Readies (does not deliver).
  void Tick(uint64_t id, int n = 1);
  void TickAll(int n = 1);
  // Campaign on id and stabilize; returns the leader's id or 0.
  uint64_t Elect(uint64_t id);
  // Id of the single node that is leader of the highest term, or 0.
  uint64_t Leader() const;

  absl::Status Propose(uint64_t id, std::string data);
  absl::Status ProposeConfChange(uint64_t id, const ConfChange& cc);

  // Network faults.
  void Cut(uint64_t a, uint64_t b);  // both directions
  void CutOneWay(uint64_t from, uint64_t to);
  void Isolate(uint64_t id);
  void DropRate(uint64_t from, uint64_t to, double rate);
  void IgnoreType(MessageType t) { ignored_types_.insert(t); }
  void Recover();  // heals everything above

  // Messages currently queued (undelivered), for inspection and surgery in tests.
  std::deque<Message>& queue() { return queue_; }
  // A hook to observe, rewrite, or drop (by returning false) each message on delivery.
  void set_filter(std::function<bool(Message*)> f) { filter_ = std::move(f); }
  // Applied data strings on a node (normal entries with non-empty data).
  std::vector<std::string> AppliedData(uint64_t id) const;
  InvariantChecker& checker() { return checker_; }
  // Ticks every node until a leader emerges (bounded); returns it or 0.
  uint64_t TickUntilLeader(int max_ticks = 1000);

 private:
  void CreateNode(uint64_t id, const ConfState* initial);
  void HandleReady(uint64_t id);
  bool Deliverable(Message* m);
  void CheckInvariants();

  std::function<void(Config*)> tweak_;
  ConfState initial_conf_state_;
  uint64_t seed_;
  Rng rng_;
  std::map<uint64_t, TestNode> nodes_;
  std::deque<Message> queue_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::map<std::pair<uint64_t, uint64_t>, double> drop_;
  std::set<MessageType> ignored_types_;
  std::function<bool(Message*)> filter_;
  InvariantChecker checker_;
};

// A delivery filter that removes entries at or after `index` from every append: the
// message still arrives, without them.
std::function<bool(Message*)> StripEntriesFrom(uint64_t index);

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_TEST_CLUSTER_H_
