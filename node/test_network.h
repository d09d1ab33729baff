// A test network for Node: nodes over MemoryNodeStore joined by an in-process transport
// whose messages the test delivers (Network::Settle) and whose persists it may hold
// (async_disk, Network::Sync). Shared by the node's tests.
#ifndef RAFTBADGER_NODE_TEST_NETWORK_H_
#define RAFTBADGER_NODE_TEST_NETWORK_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "node/memory_node_store.h"
#include "node/node.h"
#include "proto/kv.pb.h"

namespace rb::node {

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
  // clock_us, if given, is every node's clock (lease reads; CheckQuorum on). configure, if
  // given, changes each node's options last, also on Restart.
  explicit Network(int n, bool async_disk = false, const uint64_t* clock_us = nullptr,
                   std::function<void(NodeOptions*)> configure = nullptr)
      : configure_(std::move(configure)) {
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
      if (configure_) configure_(&options);
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
    if (configure_) configure_(&options);
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
  std::function<void(NodeOptions*)> configure_;
  std::map<uint64_t, Slot> nodes_;
  std::deque<raft::Message> queue_;
  std::deque<std::function<void()>> disk_queue_;
};

// A Put command of client `client` (0: no session) with sequence number `seq`.
raftbadger::kvpb::Command Put(uint64_t client, uint64_t seq, std::string k, std::string v);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_TEST_NETWORK_H_
