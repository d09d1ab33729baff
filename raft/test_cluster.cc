#include "raft/test_cluster.h"

#include <algorithm>

#include "base/logging.h"
#include "raft/codec.h"

namespace rb::raft {

TestCluster::TestCluster(int voters, int learners, std::function<void(Config*)> tweak,
                         uint64_t seed)
    : tweak_(std::move(tweak)), seed_(seed), rng_(seed) {
  ConfState cs;
  for (int i = 1; i <= voters; ++i) cs.voters.push_back(i);
  for (int i = voters + 1; i <= voters + learners; ++i) cs.learners.push_back(i);
  initial_conf_state_ = cs;
  for (int i = 1; i <= voters + learners; ++i) CreateNode(i, &cs);
}

void TestCluster::CreateNode(uint64_t id, const ConfState* initial) {
  TestNode& tn = nodes_[id];
  if (tn.storage == nullptr) {
    tn.storage = std::make_unique<MemoryStorage>();
    if (initial != nullptr) tn.storage->SetConfState(*initial);
  }
  Config c;
  c.id = id;
  c.storage = tn.storage.get();
  c.seed = seed_;
  // The application's applied index survives a restart with its state machine.
  c.applied = tn.applied.empty() ? 0 : tn.applied.back().index;
  if (tweak_) tweak_(&c);
  auto node = RawNode::Create(c);
  RB_CHECK(node.ok(), node.status().ToString());
  tn.node = *std::move(node);
}

std::vector<uint64_t> TestCluster::ids() const {
  std::vector<uint64_t> out;
  for (const auto& [id, n] : nodes_) out.push_back(id);
  return out;
}

void TestCluster::AddNode(uint64_t id) { CreateNode(id, &initial_conf_state_); }

void TestCluster::Restart(uint64_t id) {
  TestNode& tn = nodes_.at(id);
  tn.node.reset();
  checker_.ForgetNode(id);
  // Entries in flight to or from the crashed node are lost.
  std::deque<Message> kept;
  for (Message& m : queue_) {
    if (m.to != id && m.from != id) kept.push_back(std::move(m));
  }
  queue_ = std::move(kept);
  // Committed-but-unapplied entries are re-applied after restart; applied ones are kept.
  const uint64_t commit = tn.storage->hard_state().commit;
  while (!tn.applied.empty() && tn.applied.back().index > commit) tn.applied.pop_back();
  CreateNode(id, nullptr);
}

void TestCluster::SetLog(uint64_t id, const std::vector<uint64_t>& terms, uint64_t term) {
  TestNode& tn = nodes_.at(id);
  ConfState cs = tn.node->raft().tracker().GetConfState();
  tn.storage = std::make_unique<MemoryStorage>();
  tn.storage->SetConfState(cs);
  std::vector<Entry> entries;
  for (size_t i = 0; i < terms.size(); ++i) {
    entries.push_back(Entry{terms[i], i + 1, EntryType::kNormal, "e" + std::to_string(i + 1)});
  }
  RB_CHECK(tn.storage->Append(entries).ok());
  tn.storage->SetHardState(HardState{term, kNone, 0});
  tn.applied.clear();
  tn.node.reset();
  checker_ = InvariantChecker();  // a rewritten history is a new world
  CreateNode(id, nullptr);
}

void TestCluster::HandleReady(uint64_t id) {
  TestNode& tn = nodes_.at(id);
  Ready& rd = tn.ready;
  tn.node->GetReady(&rd);
  // 1. Persist.
  if (rd.snapshot != nullptr) {
    RB_CHECK(tn.storage->ApplySnapshot(rd.snapshot).ok());
  }
  RB_CHECK(tn.storage->Append(rd.entries).ok());
  if (rd.hard_state) tn.storage->SetHardState(*rd.hard_state);
  // 2. Send.
  for (Message& m : rd.messages) queue_.push_back(std::move(m));
  // 3. Apply.
  if (rd.snapshot != nullptr) {
    tn.applied.clear();
    tn.applied.push_back(Entry{rd.snapshot->metadata.term, rd.snapshot->metadata.index,
                               EntryType::kNormal, "snapshot:" + rd.snapshot->data});
  }
  for (const Entry& e : rd.committed_entries) {
    if (e.type == EntryType::kConfChange) {
      auto cc = DecodeConfChange(e.data);
      RB_CHECK(cc.ok(), cc.status().ToString());
      // An invalid change leaves the configuration as is. A valid one is saved with the
      // applied index, as a production store does, so a restart comes back with it.
      auto cs = tn.node->ApplyConfChange(*cc);
      if (cs.ok()) tn.storage->SetConfState(*cs);
    }
    tn.applied.push_back(e);
  }
  for (const ReadState& rs : rd.read_states) tn.read_states.push_back(rs);
  tn.node->Advance();
}

bool TestCluster::ProcessReadies() {
  bool any = false;
  for (auto& [id, tn] : nodes_) {
    // Bounded: each Ready drains the node's output.
    for (int i = 0; i < 100 && tn.node->HasReady(); ++i) {
      HandleReady(id);
      any = true;
    }
  }
  CheckInvariants();
  return any;
}

void TestCluster::CheckInvariants() {
  std::vector<const Raft*> rafts;
  for (const auto& [id, tn] : nodes_) rafts.push_back(&tn.node->raft());
  absl::Status s = checker_.Observe(rafts);
  if (s.ok()) s = checker_.CheckCommitSafety(rafts);
  RB_CHECK(s.ok(), s.ToString());
}

bool TestCluster::Deliverable(Message* m) {
  if (nodes_.count(m->to) == 0) return false;
  if (cut_.count({m->from, m->to}) > 0) return false;
  if (ignored_types_.count(m->type) > 0) return false;
  auto it = drop_.find({m->from, m->to});
  if (it != drop_.end() && rng_.Uniform(1000000) < it->second * 1000000) return false;
  if (filter_ && !filter_(m)) return false;
  return true;
}

void TestCluster::DeliverRound() {
  ProcessReadies();
  std::deque<Message> round = std::move(queue_);
  queue_.clear();
  for (Message& m : round) {
    if (!Deliverable(&m)) continue;
    const uint64_t to = m.to;
    nodes_.at(to).node->Step(std::move(m)).IgnoreError();
    ProcessReadies();
  }
}

void TestCluster::Stabilize() {
  constexpr int kMaxRounds = 10000;
  for (int round = 0; round < kMaxRounds; ++round) {
    ProcessReadies();
    if (queue_.empty()) return;
    DeliverRound();
  }
  RB_FATAL("cluster did not stabilize within ", kMaxRounds, " rounds");
}

void TestCluster::Tick(uint64_t id, int n) {
  for (int i = 0; i < n; ++i) nodes_.at(id).node->Tick();
  ProcessReadies();
}

void TestCluster::TickAll(int n) {
  for (int i = 0; i < n; ++i) {
    for (auto& [id, tn] : nodes_) tn.node->Tick();
  }
  ProcessReadies();
}

uint64_t TestCluster::Elect(uint64_t id) {
  nodes_.at(id).node->Campaign();
  Stabilize();
  return Leader();
}

uint64_t TestCluster::Leader() const {
  uint64_t leader = 0, term = 0;
  for (const auto& [id, tn] : nodes_) {
    const Raft& r = tn.node->raft();
    if (r.state() == StateType::kLeader && r.term() >= term) {
      leader = id;
      term = r.term();
    }
  }
  return leader;
}

uint64_t TestCluster::TickUntilLeader(int max_ticks) {
  for (int i = 0; i < max_ticks; ++i) {
    TickAll();
    Stabilize();
    if (uint64_t l = Leader()) return l;
  }
  return 0;
}

absl::Status TestCluster::Propose(uint64_t id, std::string data) {
  absl::Status s = nodes_.at(id).node->Propose(std::move(data));
  ProcessReadies();
  return s;
}

absl::Status TestCluster::ProposeConfChange(uint64_t id, const ConfChange& cc) {
  absl::Status s = nodes_.at(id).node->ProposeConfChange(cc);
  ProcessReadies();
  return s;
}

void TestCluster::Cut(uint64_t a, uint64_t b) {
  cut_.insert({a, b});
  cut_.insert({b, a});
}

void TestCluster::CutOneWay(uint64_t from, uint64_t to) { cut_.insert({from, to}); }

void TestCluster::Isolate(uint64_t id) {
  for (const auto& [other, tn] : nodes_) {
    if (other != id) Cut(id, other);
  }
}

void TestCluster::DropRate(uint64_t from, uint64_t to, double rate) { drop_[{from, to}] = rate; }

void TestCluster::Recover() {
  cut_.clear();
  drop_.clear();
  ignored_types_.clear();
  filter_ = nullptr;
}

std::vector<std::string> TestCluster::AppliedData(uint64_t id) const {
  std::vector<std::string> out;
  for (const Entry& e : nodes_.at(id).applied) {
    if (e.type == EntryType::kNormal && !e.data.empty()) out.push_back(e.data.str());
  }
  return out;
}

std::function<bool(Message*)> StripEntriesFrom(uint64_t index) {
  return [index](Message* m) {
    if (m->type == MessageType::kApp) {
      auto& es = m->entries;
      es.erase(std::remove_if(es.begin(), es.end(),
                              [index](const Entry& e) { return e.index >= index; }),
               es.end());
    }
    return true;
  };
}

}  // namespace rb::raft
