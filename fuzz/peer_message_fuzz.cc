// Arbitrary peer messages stepped into the nodes of a 3-node cluster, in every role (a
// leader, a follower, a candidate, a node that never heard from anyone), between ticks and
// rounds of real traffic. Messages come either as raw bytes through the wire decoder (as
// the transport receives them) or built field by field from the input (to reach deep
// states) and then round-tripped through the codec. After every step each node's core
// must pass its invariant check; nothing may crash. Safety across nodes is not checked: a
// peer that lies (a forged leader, a rewritten log) is outside what Raft defends against.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>

#include "fuzz/input_reader.h"
#include "node/memory_node_store.h"
#include "node/node.h"
#include "proto/kv.pb.h"
#include "raft/codec.h"
#include "raft/invariants.h"

namespace rb::fuzz {
namespace {

constexpr uint64_t kNodes = 3;
constexpr int kMaxSteps = 64;
constexpr int kMaxDeliveries = 2000;  // per settle: bounds a round of real traffic

class Cluster;

class Wire : public node::Transport {
 public:
  explicit Wire(std::deque<raft::Message>* queue) : queue_(queue) {}
  void Send(raft::Message m) override {
    if (queue_->size() < 10000) queue_->push_back(std::move(m));
  }

 private:
  std::deque<raft::Message>* queue_;
};

class Cluster {
 public:
  Cluster() : wire_(&queue_) {
    raft::ConfState cs;
    for (uint64_t i = 1; i <= kNodes; ++i) cs.voters.push_back(i);
    for (uint64_t i = 1; i <= kNodes; ++i) {
      stores_[i] = std::make_unique<node::MemoryNodeStore>(cs);
      node::NodeOptions options;
      options.raft.id = i;
      options.raft.seed = i;
      options.raft.pre_vote = true;
      options.raft.check_quorum = true;
      auto n = node::Node::Create(options, stores_[i].get(), &wire_);
      if (!n.ok()) Die("creating a node", n.status());
      nodes_[i] = *std::move(n);
    }
  }

  node::Node& node(uint64_t id) { return *nodes_.at(id); }

  void Settle() {
    for (int i = 0; i < kMaxDeliveries && !queue_.empty(); ++i) {
      raft::Message m = std::move(queue_.front());
      queue_.pop_front();
      if (m.to >= 1 && m.to <= kNodes) nodes_[m.to]->Receive(std::move(m));
    }
    queue_.clear();
  }

  void TickAll() {
    for (auto& [id, n] : nodes_) n->Tick();
  }

  void Check() {
    for (auto& [id, n] : nodes_) {
      absl::Status s = raft::CheckNode(n->raw().raft());
      if (!s.ok()) Die("node invariant", s);
    }
  }

  static void Die(const char* what, const absl::Status& s) {
    std::fprintf(stderr, "peer_message_fuzz: %s: %s\n", what, std::string(s.message()).c_str());
    std::abort();
  }

 private:
  std::deque<raft::Message> queue_;
  Wire wire_;
  std::map<uint64_t, std::unique_ptr<node::MemoryNodeStore>> stores_;
  std::map<uint64_t, std::unique_ptr<node::Node>> nodes_;
};

std::string EntryData(InputReader& in, raft::EntryType type) {
  if (type != raft::EntryType::kNormal) {
    if (in.Bool()) return in.Bytes(64);
    raft::ConfChange cc;
    const uint64_t n = 1 + in.Below(3);
    for (uint64_t i = 0; i < n; ++i) {
      raft::ConfChangeSingle c;
      c.type = static_cast<raft::ConfChangeType>(in.Below(3));
      c.node_id = in.Below(6);
      cc.changes.push_back(c);
    }
    cc.transition = static_cast<raft::ConfChangeTransition>(in.Below(3));
    return raft::EncodeConfChange(cc);
  }
  if (in.Bool()) return in.Bytes(64);
  raftbadger::kvpb::Command cmd;
  cmd.set_client_id(in.Below(4));
  cmd.set_seq(in.Number());
  cmd.mutable_put()->set_key(in.Bytes(8));
  cmd.mutable_put()->set_value(in.Bytes(16));
  return cmd.SerializeAsString();
}

raft::Message Structured(InputReader& in) {
  raft::Message m;
  m.type = static_cast<raft::MessageType>(in.Below(19));
  m.to = in.Below(kNodes + 2);
  m.from = in.Below(kNodes + 3);
  m.term = in.Number();
  m.log_term = in.Number();
  m.index = in.Number();
  m.commit = in.Number();
  m.reject = in.Bool();
  m.reject_hint = in.Number();
  if (in.Bool()) m.context = in.Bytes(16);
  const uint64_t entries = in.Below(4);
  for (uint64_t i = 0; i < entries; ++i) {
    raft::Entry e;
    e.index = in.Bool() ? m.index + 1 + i : in.Number();
    e.term = in.Number();
    e.type = static_cast<raft::EntryType>(in.Below(3));
    e.data = EntryData(in, e.type);
    m.entries.push_back(std::move(e));
  }
  if (m.type == raft::MessageType::kSnap) {
    auto snap = std::make_shared<raft::Snapshot>();
    snap->metadata.index = in.Number();
    snap->metadata.term = in.Number();
    const uint64_t voters = in.Below(4);
    for (uint64_t v = 0; v < voters; ++v)
      snap->metadata.conf_state.voters.push_back(1 + in.Below(4));
    snap->data = in.Bytes(32);
    m.snapshot = std::move(snap);
  }
  return m;
}

// For triage: FUZZ_VERBOSE=1 prints every message the input delivers.
void Print(uint64_t target, const raft::Message& m) {
  std::fprintf(stderr,
               "-> node %llu: %s from %llu to %llu term %llu log_term %llu index %llu "
               "commit %llu reject %d entries",
               static_cast<unsigned long long>(target), raft::MessageTypeName(m.type),
               static_cast<unsigned long long>(m.from), static_cast<unsigned long long>(m.to),
               static_cast<unsigned long long>(m.term), static_cast<unsigned long long>(m.log_term),
               static_cast<unsigned long long>(m.index), static_cast<unsigned long long>(m.commit),
               m.reject ? 1 : 0);
  for (const raft::Entry& e : m.entries) {
    std::fprintf(stderr, " %llu/%llu/%d", static_cast<unsigned long long>(e.index),
                 static_cast<unsigned long long>(e.term), static_cast<int>(e.type));
  }
  if (m.snapshot != nullptr) {
    std::fprintf(stderr, " snapshot %llu/%llu",
                 static_cast<unsigned long long>(m.snapshot->metadata.index),
                 static_cast<unsigned long long>(m.snapshot->metadata.term));
  }
  std::fprintf(stderr, "\n");
}

void Setup(Cluster& c, uint8_t mode) {
  switch (mode % 4) {
    case 0:  // node 1 leads
    case 1:  // node 2 leads; node 1 follows
      c.node(1 + mode % 4).Campaign();
      c.Settle();
      break;
    case 2:  // node 1 campaigns; nothing delivered yet
      c.node(1).Campaign();
      break;
    default:  // nobody has heard from anyone
      break;
  }
}

}  // namespace
}  // namespace rb::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rb;
  fuzz::InputReader in(data, size);
  fuzz::Cluster c;
  fuzz::Setup(c, in.U8());
  c.Check();
  for (int step = 0; step < fuzz::kMaxSteps && !in.empty(); ++step) {
    const uint8_t flags = in.U8();
    raft::Message m;
    if (flags & 1) {
      auto decoded = raft::DecodeMessage(in.Bytes(4096));
      if (!decoded.ok()) continue;  // the transport drops and counts it
      m = *std::move(decoded);
    } else {
      // Only what survives the wire reaches a node.
      auto decoded = raft::DecodeMessage(raft::EncodeMessage(fuzz::Structured(in)));
      if (!decoded.ok()) continue;
      m = *std::move(decoded);
    }
    // The transport hands a message to its own node whatever `to` says.
    const uint64_t target = 1 + (flags >> 1) % fuzz::kNodes;
    if (std::getenv("FUZZ_VERBOSE") != nullptr) fuzz::Print(target, m);
    c.node(target).Receive(std::move(m));
    if (flags & 0x10) c.TickAll();
    if (flags & 0x20) {
      if (flags & 0x40) c.node(1).Write(raftbadger::kvpb::Command(), [](auto) {});
      c.Settle();
    }
    c.Check();
  }
  return 0;
}
