// demo_cluster: an in-process Raft cluster on the pure core, driven by ticks, printing what
// happens: elections, replication, commits, a leader crash and re-election.
//
// It stands in for the main job until the server exists (see README). Deterministic: the
// same --seed prints the same story.
//
//   bazel run //tools:demo_cluster -- --nodes=3 --entries=5 --seed=7
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/invariants.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

ABSL_FLAG(int, nodes, 3, "cluster size (1 to 7)");
ABSL_FLAG(int, entries, 5, "entries to commit before and after the leader crash");
ABSL_FLAG(uint64_t, seed, 1, "seed for election jitter");

namespace rb {
namespace {

using raft::Message;
using raft::RawNode;

struct Node {
  std::unique_ptr<raft::MemoryStorage> storage;
  std::unique_ptr<RawNode> raw;
  raft::Ready ready;
  bool up = true;
  std::vector<std::string> applied;
};

class Demo {
 public:
  Demo(int n, uint64_t seed) : seed_(seed) {
    for (int i = 1; i <= n; ++i) cs_.voters.push_back(i);
    for (int i = 1; i <= n; ++i) Start(i);
  }

  void Start(uint64_t id) {
    Node& node = nodes_[id];
    if (node.storage == nullptr) {
      node.storage = std::make_unique<raft::MemoryStorage>();
      node.storage->SetConfState(cs_);
    }
    raft::Config c;
    c.id = id;
    c.storage = node.storage.get();
    c.seed = seed_;
    c.pre_vote = true;
    c.check_quorum = true;
    auto raw = RawNode::Create(c);
    if (!raw.ok()) {
      std::fprintf(stderr, "node %llu: %s\n", static_cast<unsigned long long>(id),
                   raw.status().ToString().c_str());
      std::exit(1);
    }
    node.raw = *std::move(raw);
    node.up = true;
  }

  // One tick of virtual time: tick every live node, then deliver until quiet.
  void Step() {
    ++tick_;
    for (auto& [id, node] : nodes_) {
      if (node.up) node.raw->Tick();
    }
    for (int round = 0; round < 100; ++round) {  // bounded: the cluster goes quiet quickly
      bool moved = false;
      for (auto& [id, node] : nodes_) {
        if (node.up && node.raw->HasReady()) {
          HandleReady(id, node);
          moved = true;
        }
      }
      std::deque<Message> in_flight = std::move(network_);
      network_.clear();
      for (Message& m : in_flight) {
        auto it = nodes_.find(m.to);
        if (it != nodes_.end() && it->second.up) {
          it->second.raw->Step(std::move(m)).IgnoreError();
          moved = true;
        }
      }
      if (!moved) break;
    }
    std::vector<const raft::Raft*> live;
    for (auto& [id, node] : nodes_) {
      if (node.up) live.push_back(&node.raw->raft());
    }
    absl::Status s = checker_.Observe(live);
    if (!s.ok()) {
      std::printf("INVARIANT VIOLATION: %s\n", s.ToString().c_str());
      std::exit(2);
    }
  }

  void HandleReady(uint64_t id, Node& node) {
    node.raw->GetReady(&node.ready);
    raft::Ready& rd = node.ready;
    if (rd.soft_state) {
      Say(id, absl::StrCat("is now ", raft::StateTypeName(rd.soft_state->state),
                           rd.soft_state->lead ? absl::StrCat(" (leader ", rd.soft_state->lead, ")")
                                               : std::string()));
    }
    // Persist, then send, then apply: the order every driver must keep.
    if (!node.storage->Append(rd.entries).ok()) std::exit(1);
    if (rd.hard_state) node.storage->SetHardState(*rd.hard_state);
    for (Message& m : rd.messages) network_.push_back(std::move(m));
    for (const raft::Entry& e : rd.committed_entries) {
      if (e.data.empty()) continue;
      node.applied.push_back(e.data.str());
      Say(id, absl::StrCat("applied #", e.index, " \"", e.data.view(), "\" (term ", e.term, ")"));
    }
    node.raw->Advance();
  }

  uint64_t Leader() const {
    for (const auto& [id, node] : nodes_) {
      if (node.up && node.raw->raft().state() == raft::StateType::kLeader) return id;
    }
    return 0;
  }

  uint64_t WaitForLeader() {
    for (int i = 0; i < 1000; ++i) {
      if (uint64_t l = Leader()) return l;
      Step();
    }
    return 0;
  }

  void Propose(uint64_t leader, const std::string& data) {
    absl::Status s = nodes_[leader].raw->Propose(data);
    Say(leader, absl::StrCat("proposes \"", data, "\"", s.ok() ? "" : ": " + s.ToString()));
    Step();
  }

  void Crash(uint64_t id) {
    nodes_[id].up = false;
    Say(id, "crashes");
  }

  void Say(uint64_t id, const std::string& what) {
    std::printf("[tick %4d] node %llu %s\n", tick_, static_cast<unsigned long long>(id),
                what.c_str());
  }

  bool AllLiveAgree() const {
    const std::vector<std::string>* first = nullptr;
    for (const auto& [id, node] : nodes_) {
      if (!node.up) continue;
      if (first == nullptr) first = &node.applied;
      if (node.applied != *first) return false;
    }
    return true;
  }

 private:
  uint64_t seed_;
  raft::ConfState cs_;
  std::map<uint64_t, Node> nodes_;
  std::deque<Message> network_;
  raft::InvariantChecker checker_;
  int tick_ = 0;
};

int Run() {
  const int n = absl::GetFlag(FLAGS_nodes);
  const int entries = absl::GetFlag(FLAGS_entries);
  if (n < 1 || n > 7) {
    std::fprintf(stderr, "--nodes must be between 1 and 7, got %d\n", n);
    return 1;
  }
  if (entries < 0 || entries > 1000) {
    std::fprintf(stderr, "--entries must be between 0 and 1000, got %d\n", entries);
    return 1;
  }
  std::printf("RaftBadger demo: %d nodes, seed %llu\n", n,
              static_cast<unsigned long long>(absl::GetFlag(FLAGS_seed)));
  Demo demo(n, absl::GetFlag(FLAGS_seed));
  uint64_t leader = demo.WaitForLeader();
  if (leader == 0) return 1;
  for (int i = 0; i < entries; ++i) demo.Propose(leader, absl::StrCat("key", i, "=v", i));
  if (n >= 3) {
    demo.Crash(leader);
    leader = demo.WaitForLeader();
    if (leader == 0) return 1;
    for (int i = 0; i < entries; ++i) {
      demo.Propose(leader, absl::StrCat("key", i, "=w", i));
    }
  }
  for (int i = 0; i < 5; ++i) demo.Step();
  const bool agree = demo.AllLiveAgree();
  std::printf("%s\n", agree ? "all live nodes applied the same entries in the same order"
                            : "NODES DISAGREE");
  return agree ? 0 : 2;
}

}  // namespace
}  // namespace rb

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("An in-process Raft cluster on the pure core, narrated.");
  absl::ParseCommandLine(argc, argv);
  return rb::Run();
}
