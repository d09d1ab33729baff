#include "sim/simulation.h"

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "node/memory_node_store.h"
#include "node/sqlite_node_store.h"
#include "proto/kv.pb.h"
#include "raft/invariants.h"
#include "raft/rng.h"
#include "sim/linearizability.h"
#include "storage/snapshot.h"

namespace rb::sim {
namespace {

namespace kvpb = raftbadger::kvpb;

constexpr uint64_t kTickUs = 10'000;  // one Raft tick of virtual time
// 20 ticks: randomized timeouts take 20 distinct values, so two candidates rarely collide
// round after round even with tens of milliseconds of delay.
constexpr int kElectionTicks = 20;
constexpr uint64_t kOpTimeoutUs = 3'000'000;
constexpr uint64_t kAttemptTimeoutUs = 400'000;
// After healing, a leader must exist within this many election timeouts, and requests
// issued after that must complete. Raft's liveness is probabilistic (split votes can
// repeat), so the bound is generous: 20 election timeouts, 4 s of virtual time.
constexpr uint64_t kLivenessElectionTimeouts = 20;
constexpr uint64_t kLivenessBoundUs = kLivenessElectionTimeouts * kElectionTicks * kTickUs;
constexpr int kKeys = 5;

// What one seed draws: the scenario.
struct Scenario {
  int voters = 3;
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t snapshot_every = 0;
  uint64_t max_msg_bytes = 64 << 10;  // 1: one entry per MsgApp
  uint64_t min_delay_us = 100, max_delay_us = 5'000;
  uint32_t drop_per_mille = 0, duplicate_per_mille = 0;
  uint64_t fault_interval_us = 0;  // mean time between faults; 0: none
  uint32_t crash_weight = 0, partition_weight = 0, clog_weight = 0, pause_weight = 0;
  uint32_t membership_weight = 0;   // configuration changes and leader transfers
  uint32_t max_drift_permille = 0;  // each node's clock runs up to this much fast or slow
  uint64_t max_disk_latency_us = 0;

  std::string Describe() const {
    return absl::StrCat(
        "voters=", voters, " prevote=", pre_vote, " checkquorum=", check_quorum,
        " snapshot_every=", snapshot_every, " max_msg=", max_msg_bytes, " delay=", min_delay_us,
        "..", max_delay_us, "us drop=", drop_per_mille, "/1000 dup=", duplicate_per_mille,
        "/1000 fault_interval=", fault_interval_us,
        "us weights(crash/partition/clog/pause)=", crash_weight, "/", partition_weight, "/",
        clog_weight, "/", pause_weight, " membership=", membership_weight,
        " drift<=", max_drift_permille, "/1000 disk_latency<=", max_disk_latency_us, "us");
  }
};

Scenario DrawScenario(const SimOptions& o, raft::Rng* rng) {
  Scenario s;
  if (o.voters > 0) {
    s.voters = o.voters;
  } else {
    static constexpr int kSizes[] = {1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 7};
    s.voters = kSizes[rng->Uniform(sizeof(kSizes) / sizeof(kSizes[0]))];
  }
  s.pre_vote = rng->Chance(2, 3);
  s.check_quorum = rng->Chance(2, 3);
  static constexpr uint64_t kSnapshotEvery[] = {0, 20, 100};
  s.snapshot_every = kSnapshotEvery[rng->Uniform(3)];
  static constexpr uint64_t kMaxMsgBytes[] = {1, 300, 64 << 10};
  s.max_msg_bytes = kMaxMsgBytes[rng->Uniform(3)];
  if (o.network_faults) {
    s.min_delay_us = rng->Range(50, 2'000);
    s.max_delay_us = s.min_delay_us + rng->Range(0, 40'000);
    s.drop_per_mille = static_cast<uint32_t>(rng->Chance(1, 3) ? 0 : rng->Range(1, 200));
    s.duplicate_per_mille = static_cast<uint32_t>(rng->Chance(1, 2) ? 0 : rng->Range(1, 50));
    s.clog_weight = static_cast<uint32_t>(rng->Range(0, 3));
  }
  if (o.crashes) s.crash_weight = static_cast<uint32_t>(rng->Range(0, 3));
  if (o.pauses) s.pause_weight = static_cast<uint32_t>(rng->Range(0, 2));
  if (o.membership_changes) s.membership_weight = static_cast<uint32_t>(rng->Range(0, 2));
  // A removed node that never learns of its removal campaigns forever with ever higher
  // terms; without PreVote every campaign deposes the leader (Raft thesis 4.2.3). Clusters
  // that change membership run with PreVote, as etcd's defaults do.
  if (s.membership_weight > 0) s.pre_vote = true;
  if (o.clock_drift) s.max_drift_permille = static_cast<uint32_t>(rng->Range(0, 100));
  if (o.partitions) s.partition_weight = static_cast<uint32_t>(rng->Range(0, 3));
  if (s.crash_weight + s.partition_weight + s.clog_weight + s.pause_weight + s.membership_weight >
          0 &&
      !rng->Chance(1, 6)) {
    s.fault_interval_us = rng->Range(100'000, 2'000'000);
  }
  if (o.disk_latency) s.max_disk_latency_us = rng->Range(10, 20'000);
  return s;
}

class Simulation;

class SimTransport : public node::Transport {
 public:
  SimTransport(Simulation* sim, uint64_t id) : sim_(sim), id_(id) {}
  void Send(raft::Message m) override;

 private:
  Simulation* sim_;
  uint64_t id_;
};

struct SimNode {
  uint64_t id = 0;
  // Memory back end: the disk model, which survives crashes.
  std::unique_ptr<node::MemoryNodeStore> memory;
  // SQLite back end: the real store, open while the process runs, over files in `dir`.
  std::unique_ptr<node::SqliteNodeStore> sqlite;
  std::string dir;
  raft::HardState closed_hard_state;  // SQLite: the durable hard state when it was closed
  uint64_t incarnation = 0;           // bumped by each crash: older completions are dropped
  std::unique_ptr<node::Node> node;   // null while crashed
  std::unique_ptr<SimTransport> transport;
  uint64_t durable_term = 0;  // highest durable term seen (monotonic across restarts)
  uint64_t durable_commit = 0;
  uint64_t last_applied = 0;  // across restarts: no index applied twice
  uint64_t tick_us = 0;       // this node's clock: the nominal tick, drifted
  uint64_t paused_until = 0;  // stopped process: nothing runs before this time
  bool paused(uint64_t now) const { return paused_until > now; }
  node::NodeStore* store() {
    return memory != nullptr ? static_cast<node::NodeStore*>(memory.get()) : sqlite.get();
  }
  raft::HardState durable_hard_state() const {
    if (memory != nullptr) return memory->durable_hard_state();
    return sqlite != nullptr ? sqlite->store().hard_state() : closed_hard_state;
  }
};

struct Client {
  uint64_t id = 0;
  uint64_t seq = 0;
  int op = -1;             // index into the history of the operation in progress
  uint64_t attempt = 0;    // token: callbacks from older attempts are ignored
  uint64_t preferred = 0;  // node to try first (last known leader)
  kvpb::Command command;
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult Run();

  void SendMessage(uint64_t from, raft::Message m);

 private:
  // Heap entries stay small and trivially movable (the heap moves them on every push and
  // pop): a delivery refers to a message parked in message_pool_, a closure to one parked
  // in closure_pool_, and a tick carries its node id.
  enum class EventKind : uint8_t { kClosure, kDeliver, kTick };
  struct Event {
    uint64_t time;
    uint64_t seq;
    uint64_t arg;  // kDeliver: message slot; kClosure: closure slot; kTick: node id
    EventKind kind;
    bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };
  template <typename T>
  struct Pool {
    std::vector<T> slots;
    std::vector<uint64_t> free;
    uint64_t Put(T value) {
      if (free.empty()) {
        slots.push_back(std::move(value));
        return slots.size() - 1;
      }
      const uint64_t slot = free.back();
      free.pop_back();
      slots[slot] = std::move(value);
      return slot;
    }
    T Take(uint64_t slot) {
      T value = std::move(slots[slot]);
      free.push_back(slot);
      return value;
    }
  };

  void Schedule(uint64_t delay_us, std::function<void()> fn);
  void ScheduleDelivery(uint64_t delay_us, raft::Message m);
  // Folds an event into the trace hash (and prints it when tracing).
  void Trace(uint64_t kind, uint64_t a, uint64_t b, uint64_t c,
             const std::function<std::string()>& describe);
  void Fail(const std::string& what);

  node::NodeOptions MakeNodeOptions(uint64_t id) const;
  void StartNode(SimNode* n);
  std::function<void(std::function<void()>)> DiskScheduler(uint64_t id);
  void CompleteDiskWork(uint64_t id, uint64_t incarnation, uint64_t delay_us,
                        std::function<void()> work);
  bool TransferSnapshot(const raft::Message& m);
  void Crash(SimNode* n);
  void Deliver(raft::Message m);
  void TickNode(uint64_t id);
  void InjectFault();
  // A configuration change or leader transfer, proposed through the leader.
  void ChangeMembership(uint64_t leader);
  void HealAll();
  void OnSend(SimNode* n, const raft::Message& m);
  void OnApply(SimNode* n, const raft::Entry& e);
  void CheckAfterEvent();

  void ClientNext(Client* c);
  void ClientAttempt(Client* c);
  void ClientDone(Client* c, uint64_t attempt, const absl::Status& status,
                  const std::function<void(Operation*)>& record);
  void ClientRetry(Client* c, uint64_t attempt);
  SimNode* PickNode(Client* c);

  SimOptions options_;
  raft::Rng rng_;
  Scenario scenario_;
  SimResult result_;
  uint64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t end_us_ = 0;
  uint64_t healed_at_ = 0;
  bool healed_ = false;
  bool failed_ = false;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::map<uint64_t, SimNode> nodes_;
  std::vector<Client> clients_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;  // (from, to) links down
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> clogged_until_;
  raft::InvariantChecker checker_;
  Pool<raft::Message> message_pool_;
  Pool<std::function<void()>> closure_pool_;
  // The node the current event acted on (0: possibly several); only it is re-checked.
  uint64_t touched_ = 0;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> applied_;  // index -> (term, data hash)
  uint64_t hash_ = 0;
  raft::ConfState initial_conf_;
  std::string sqlite_base_dir_;
};

void SimTransport::Send(raft::Message m) { sim_->SendMessage(id_, std::move(m)); }

// One multiply-rotate round per value: cheap, and any change in any value changes the
// running hash (it only has to tell runs apart, not resist adversaries).
uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v * 0x9e3779b97f4a7c15ULL;
  h = (h << 31) | (h >> 33);
  return h * 0xbf58476d1ce4e5b9ULL;
}

uint64_t HashBytes(absl::string_view s) {
  uint64_t h = s.size();
  for (char c : s) h = Mix(h, static_cast<unsigned char>(c));
  return h;
}

Simulation::Simulation(const SimOptions& options) : options_(options), rng_(options.seed) {
  raft::Rng scenario_rng = rng_.Fork();
  scenario_ = DrawScenario(options_, &scenario_rng);
  result_.scenario = scenario_.Describe();
  end_us_ = options_.fault_phase_us + options_.quiet_phase_us;
}

void Simulation::Schedule(uint64_t delay_us, std::function<void()> fn) {
  events_.push(
      Event{now_ + delay_us, next_seq_++, closure_pool_.Put(std::move(fn)), EventKind::kClosure});
}

void Simulation::ScheduleDelivery(uint64_t delay_us, raft::Message m) {
  events_.push(
      Event{now_ + delay_us, next_seq_++, message_pool_.Put(std::move(m)), EventKind::kDeliver});
}

void Simulation::Trace(uint64_t kind, uint64_t a, uint64_t b, uint64_t c,
                       const std::function<std::string()>& describe) {
  hash_ = Mix(Mix(Mix(Mix(Mix(hash_, now_), kind), a), b), c);
  if (options_.trace != nullptr) *options_.trace << now_ << "us " << describe() << "\n";
}

void Simulation::Fail(const std::string& what) {
  if (failed_) return;
  failed_ = true;
  result_.ok = false;
  result_.failure = absl::StrCat("at ", now_, "us: ", what);
}

node::NodeOptions Simulation::MakeNodeOptions(uint64_t id) const {
  node::NodeOptions o;
  o.raft.id = id;
  o.raft.election_tick = kElectionTicks;
  o.raft.heartbeat_tick = 1;
  o.raft.pre_vote = scenario_.pre_vote;
  o.raft.check_quorum = scenario_.check_quorum;
  o.raft.max_inflight_msgs = 64;
  o.raft.max_size_per_msg_bytes = scenario_.max_msg_bytes;
  o.raft.seed = options_.seed;  // mixed with the id inside the core
  o.snapshot_every_entries = scenario_.snapshot_every;
  o.snapshot_keep_entries = 10;
  o.bugs = options_.bugs;
  return o;
}

void Simulation::StartNode(SimNode* n) {
  if (options_.storage == SimOptions::Storage::kSqlite && n->sqlite == nullptr) {
    storage::StoreOptions store_options;
    store_options.dir = n->dir;
    store_options.sync = false;  // process crashes only: the OS keeps what was written
    store_options.verify_on_open = false;
    store_options.page_cache_bytes = 4 << 20;
    auto opened = node::SqliteNodeStore::Open(store_options, initial_conf_, DiskScheduler(n->id));
    if (!opened.ok()) {
      Fail(absl::StrCat("node ", n->id, " cannot open its store: ", opened.status().ToString()));
      return;
    }
    n->sqlite = *std::move(opened);
  }
  node::NodeHooks hooks;
  hooks.on_send = [this, n](const raft::Message& m) { OnSend(n, m); };
  hooks.on_apply = [this, n](const raft::Entry& e) { OnApply(n, e); };
  auto created =
      node::Node::Create(MakeNodeOptions(n->id), n->store(), n->transport.get(), std::move(hooks));
  if (!created.ok()) {
    Fail(absl::StrCat("node ", n->id,
                      " cannot restart from its disk: ", created.status().ToString()));
    return;
  }
  n->node = *std::move(created);
  Trace(1, n->id, 0, 0, [&] { return absl::StrCat("node ", n->id, " starts"); });
}

void Simulation::Crash(SimNode* n) {
  Trace(2, n->id, 0, 0, [&] { return absl::StrCat("node ", n->id, " crashes (kill -9)"); });
  n->node.reset();   // volatile state gone; pending client callbacks are never called
  ++n->incarnation;  // a persist completion in flight is never delivered
  if (n->memory != nullptr) {
    n->memory->Crash();  // and, in the memory model, its write is lost
  } else {
    n->closed_hard_state = n->sqlite->store().hard_state();
    n->sqlite.reset();  // the process dies: the store is closed, the files stay
  }
  checker_.ForgetNode(n->id);
}

void Simulation::SendMessage(uint64_t from, raft::Message m) {
  const uint64_t to = m.to;
  auto describe = [&] {
    return absl::StrCat(from, "->", to, " ", raft::MessageTypeName(m.type), " term=", m.term,
                        " index=", m.index, " entries=", m.entries.size(), " commit=", m.commit,
                        m.reject ? " reject" : "");
  };
  if (cut_.count({from, to}) > 0 || rng_.Chance(scenario_.drop_per_mille, 1000)) {
    Trace(3, from, to, static_cast<uint64_t>(m.type), [&] { return "drop " + describe(); });
    return;
  }
  uint64_t delay = rng_.Range(scenario_.min_delay_us, scenario_.max_delay_us);
  auto clog = clogged_until_.find({from, to});
  if (clog != clogged_until_.end() && clog->second > now_) delay += clog->second - now_;
  Trace(4, from, to, static_cast<uint64_t>(m.type), [&] { return "send " + describe(); });
  if (rng_.Chance(scenario_.duplicate_per_mille, 1000)) {
    raft::Message copy = m;
    const uint64_t dup_delay = rng_.Range(scenario_.min_delay_us, 4 * scenario_.max_delay_us);
    ScheduleDelivery(dup_delay, std::move(copy));
  }
  ScheduleDelivery(delay, std::move(m));
}

void Simulation::Deliver(raft::Message m) {
  touched_ = m.to;
  SimNode& n = nodes_.at(m.to);
  Trace(5, m.from, m.to, static_cast<uint64_t>(m.type), [&] {
    return absl::StrCat("deliver ", m.from, "->", m.to, " ", raft::MessageTypeName(m.type),
                        n.node == nullptr ? " (node down)" : "");
  });
  if (n.node == nullptr) return;
  if (m.type == raft::MessageType::kSnap && options_.storage == SimOptions::Storage::kSqlite &&
      !n.paused(now_) && !TransferSnapshot(m)) {
    Trace(15, m.from, m.to, 0, [&] { return std::string("snapshot transfer failed: dropped"); });
    return;
  }
  if (n.paused(now_)) {
    // A stopped process reads its socket when it resumes.
    ScheduleDelivery(n.paused_until - now_, std::move(m));
    return;
  }
  ++result_.messages_delivered;
  n.node->Receive(std::move(m));
}

void Simulation::TickNode(uint64_t id) {
  touched_ = id;
  SimNode& n = nodes_.at(id);
  if (n.node != nullptr && !n.paused(now_)) n.node->Tick();
  events_.push(Event{now_ + n.tick_us, next_seq_++, id, EventKind::kTick});
}

void Simulation::OnSend(SimNode* n, const raft::Message& m) {
  // Durability before promises: a granted vote or an append acknowledgment may leave the
  // node only once what it promises is on disk.
  // A promise made in an older term is moot once the durable term is newer (one Ready can
  // carry a vote of term T and hard state of term T+1).
  const raft::HardState hs = n->durable_hard_state();
  if (m.type == raft::MessageType::kVoteResp && !m.reject) {
    if (hs.term < m.term || (hs.term == m.term && hs.vote != m.to)) {
      Fail(absl::StrCat("node ", n->id, " granted its vote to ", m.to, " in term ", m.term,
                        " before the vote was durable (durable term ", hs.term, ", vote ", hs.vote,
                        ")"));
    }
  }
  if (m.type == raft::MessageType::kAppResp && !m.reject) {
    auto last = n->store()->raft_storage().LastIndex();
    if (hs.term <= m.term && (!last.ok() || *last < m.index)) {
      Fail(absl::StrCat("node ", n->id, " acknowledged index ", m.index,
                        " before it was durable (durable last index ", last.ok() ? *last : 0, ")"));
    }
  }
}

void Simulation::OnApply(SimNode* n, const raft::Entry& e) {
  if (e.index <= n->last_applied) {
    Fail(absl::StrCat("node ", n->id, " applied index ", e.index, " twice (last applied ",
                      n->last_applied, ")"));
  }
  n->last_applied = e.index;
  const auto fingerprint = std::make_pair(e.term, HashBytes(e.data.view()));
  auto [it, inserted] = applied_.emplace(e.index, fingerprint);
  if (!inserted && it->second != fingerprint) {
    Fail(absl::StrCat("node ", n->id, " applied a different command at index ", e.index, " (term ",
                      e.term, " vs ", it->second.first, ")"));
  }
}

void Simulation::CheckAfterEvent() {
  // Whole-log comparison across nodes (O(nodes^2 * log)) every 4096 events and at the end;
  // otherwise only the node the event acted on is checked (the others did not change).
  const bool full_logs = result_.events % 4096 == 0;
  const bool all_nodes = full_logs || touched_ == 0;
  std::vector<const raft::Raft*> live;
  for (auto& [id, n] : nodes_) {
    if (!all_nodes && id != touched_) continue;
    const raft::HardState hs = n.durable_hard_state();
    if (hs.term < n.durable_term || hs.commit < n.durable_commit) {
      Fail(absl::StrCat("node ", id, "'s durable state went back: term ", n.durable_term, "->",
                        hs.term, ", commit ", n.durable_commit, "->", hs.commit));
    }
    n.durable_term = std::max(n.durable_term, hs.term);
    n.durable_commit = std::max(n.durable_commit, hs.commit);
    if (n.node != nullptr) live.push_back(&n.node->raw().raft());
  }
  checker_.set_full_log_checks(full_logs);
  absl::Status s = checker_.Observe(live);
  if (!s.ok()) Fail(s.ToString());
}

void Simulation::InjectFault() {
  if (now_ >= options_.fault_phase_us) return;
  const uint32_t total = scenario_.crash_weight + scenario_.partition_weight +
                         scenario_.clog_weight + scenario_.pause_weight +
                         scenario_.membership_weight;
  uint64_t pick = rng_.Uniform(total);
  std::vector<uint64_t> ids;
  uint64_t leader = 0;
  for (auto& [id, n] : nodes_) {
    ids.push_back(id);
    if (n.node != nullptr && n.node->is_leader()) leader = id;
  }
  // Half the faults aim at the leader, as a nemesis would: that is where the interesting
  // schedules start (a leader dying with entries half replicated, Figure 8).
  const bool at_leader = leader != 0 && rng_.Chance(1, 2);
  if (pick < scenario_.crash_weight) {
    SimNode& n = nodes_.at(at_leader ? leader : ids[rng_.Uniform(ids.size())]);
    if (n.node != nullptr) {
      Crash(&n);
      const uint64_t id = n.id;
      Schedule(rng_.Range(50'000, 3'000'000), [this, id] {
        SimNode& again = nodes_.at(id);
        if (again.node == nullptr) StartNode(&again);
      });
    }
  } else if ((pick -= scenario_.crash_weight) < scenario_.partition_weight) {
    const size_t n = ids.size();
    const uint64_t pattern = at_leader ? 0 : rng_.Uniform(3);
    std::string what;
    if (pattern == 2 && n >= 4) {
      // Majorities ring: each node hears only its two neighbours, so several overlapping
      // majorities each see part of the cluster.
      for (size_t i = 0; i < n; ++i) {
        for (size_t j = 0; j < n; ++j) {
          const size_t d = (i + n - j) % n;
          if (i != j && d != 1 && d != n - 1) cut_.insert({ids[i], ids[j]});
        }
      }
      what = "majorities ring";
    } else if (pattern == 1 && n >= 3) {
      // Bridge: two halves that only one node (the bridge) connects.
      const uint64_t bridge = ids[rng_.Uniform(n)];
      std::set<uint64_t> half;
      for (uint64_t id : ids) {
        if (id != bridge && rng_.Chance(1, 2)) half.insert(id);
      }
      for (uint64_t a : ids) {
        for (uint64_t b : ids) {
          if (a != bridge && b != bridge && half.count(a) != half.count(b)) cut_.insert({a, b});
        }
      }
      what = absl::StrCat("bridge through ", bridge, ", halves {", absl::StrJoin(half, ","), "}");
    } else {
      // Two sides, symmetric or one-way; aimed at the leader: it alone or with one follower.
      std::set<uint64_t> side;
      if (at_leader) {
        side.insert(leader);
        if (n > 2 && rng_.Chance(1, 2)) side.insert(ids[rng_.Uniform(n)]);
      } else {
        for (uint64_t id : ids) {
          if (rng_.Chance(1, 2)) side.insert(id);
        }
      }
      const bool one_way = rng_.Chance(1, 4);
      for (uint64_t a : ids) {
        for (uint64_t b : ids) {
          if (side.count(a) > 0 && side.count(b) == 0) {
            cut_.insert({a, b});
            if (!one_way) cut_.insert({b, a});
          }
        }
      }
      what = absl::StrCat("split {", absl::StrJoin(side, ","), "}", one_way ? " one-way" : "");
    }
    Trace(6, pattern, cut_.size(), 0, [&] { return "partition: " + what; });
    Schedule(rng_.Range(200'000, 3'000'000), [this] {
      cut_.clear();
      Trace(7, 0, 0, 0, [] { return std::string("partition healed"); });
    });
  } else if ((pick -= scenario_.partition_weight) < scenario_.clog_weight) {
    const uint64_t a = ids[rng_.Uniform(ids.size())], b = ids[rng_.Uniform(ids.size())];
    clogged_until_[{a, b}] = now_ + rng_.Range(100'000, 2'000'000);
    Trace(8, a, b, 0, [&] { return absl::StrCat("clog link ", a, "->", b); });
  } else if ((pick -= scenario_.clog_weight) < scenario_.membership_weight) {
    ChangeMembership(leader);
  } else {
    // A stopped process (GC pause, SIGSTOP, a stalled VM): it neither ticks nor reads.
    SimNode& n = nodes_.at(at_leader ? leader : ids[rng_.Uniform(ids.size())]);
    n.paused_until = now_ + rng_.Range(50'000, 2'000'000);
    Trace(14, n.id, n.paused_until, 0,
          [&] { return absl::StrCat("node ", n.id, " paused until ", n.paused_until, "us"); });
  }
  Schedule(rng_.Range(scenario_.fault_interval_us / 2, scenario_.fault_interval_us * 3 / 2),
           [this] { InjectFault(); });
}

void Simulation::ChangeMembership(uint64_t leader) {
  if (leader == 0) return;
  node::Node& l = *nodes_.at(leader).node;
  const raft::ProgressTracker& tracker = l.raw().raft().tracker();
  std::vector<uint64_t> voters = tracker.config.voters.incoming.ids();
  std::vector<uint64_t> learners = tracker.config.learners.ids();
  std::vector<uint64_t> others;  // known nodes outside the configuration
  for (auto& [id, n] : nodes_) {
    if (!tracker.config.voters.Contains(id) && !tracker.config.learners.Contains(id)) {
      others.push_back(id);
    }
  }
  auto pick = [this](const std::vector<uint64_t>& from) { return from[rng_.Uniform(from.size())]; };
  raft::ConfChange cc;
  std::string what;
  if (tracker.config.voters.IsJoint()) {
    what = "leave joint configuration";  // an explicit joint change waits for this
  } else {
    switch (rng_.Uniform(5)) {
      case 0:
        if (others.empty()) return;
        cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, pick(others)});
        what = absl::StrCat("add learner ", cc.changes[0].node_id);
        break;
      case 1:
        if (learners.empty()) return;
        cc.changes.push_back({raft::ConfChangeType::kAddNode, pick(learners)});
        what = absl::StrCat("promote ", cc.changes[0].node_id);
        break;
      case 2:
        if (voters.size() <= 3) return;  // keep a cluster that tolerates a failure
        cc.changes.push_back({raft::ConfChangeType::kRemoveNode, pick(voters)});
        what = absl::StrCat("remove ", cc.changes[0].node_id);
        break;
      case 3: {
        // Replace a voter through joint consensus (left automatically, or explicitly).
        std::vector<uint64_t> candidates = learners;
        candidates.insert(candidates.end(), others.begin(), others.end());
        if (candidates.empty()) return;
        cc.transition = rng_.Chance(1, 2) ? raft::ConfChangeTransition::kAuto
                                          : raft::ConfChangeTransition::kJointExplicit;
        cc.changes.push_back({raft::ConfChangeType::kRemoveNode, pick(voters)});
        cc.changes.push_back({raft::ConfChangeType::kAddNode, pick(candidates)});
        what = absl::StrCat("replace ", cc.changes[0].node_id, " by ", cc.changes[1].node_id,
                            " (joint)");
        break;
      }
      default: {
        const uint64_t target = pick(voters);
        Trace(16, leader, target, 0,
              [&] { return absl::StrCat("transfer leadership ", leader, " -> ", target); });
        l.TransferLeader(target);
        return;
      }
    }
  }
  const absl::Status s = l.ProposeConfChange(cc);
  Trace(17, leader, cc.changes.size(), s.ok(), [&] {
    return absl::StrCat("leader ", leader, " proposes: ", what, s.ok() ? "" : " (refused)");
  });
}

void Simulation::HealAll() {
  healed_ = true;
  healed_at_ = now_;
  cut_.clear();
  clogged_until_.clear();
  scenario_.drop_per_mille = 0;
  scenario_.duplicate_per_mille = 0;
  Trace(9, 0, 0, 0, [] { return std::string("faults stop; everything healed"); });
  for (auto& [id, n] : nodes_) {
    n.paused_until = 0;
    if (n.node == nullptr) StartNode(&n);
  }
  // Liveness: a leader within the bound.
  Schedule(kLivenessBoundUs, [this] {
    for (auto& [id, n] : nodes_) {
      if (n.node != nullptr && n.node->is_leader()) return;
    }
    Fail(absl::StrCat("no leader ", kLivenessElectionTimeouts,
                      " election timeouts after the cluster was healed"));
  });
}

SimNode* Simulation::PickNode(Client* c) {
  auto it = nodes_.find(c->preferred);
  if (it != nodes_.end() && it->second.node != nullptr && rng_.Chance(9, 10)) return &it->second;
  std::vector<SimNode*> up;
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr) up.push_back(&n);
  }
  if (up.empty()) return nullptr;
  return up[rng_.Uniform(up.size())];
}

void Simulation::ClientNext(Client* c) {
  if (now_ + kOpTimeoutUs > end_us_) return;  // no new operations that cannot finish
  Operation op;
  op.client = c->id;
  op.key = absl::StrCat("k", rng_.Uniform(kKeys));
  op.call_us = now_;
  const uint64_t kind = rng_.Uniform(10);
  op.kind = kind < 3   ? OpKind::kGet
            : kind < 6 ? OpKind::kPut
            : kind < 8 ? OpKind::kCas
                       : OpKind::kDelete;
  c->command.Clear();
  c->command.set_client_id(c->id);
  c->command.set_seq(++c->seq);
  op.value = absl::StrCat("c", c->id, "-", c->seq);
  switch (op.kind) {
    case OpKind::kPut:
      c->command.mutable_put()->set_key(op.key);
      c->command.mutable_put()->set_value(op.value);
      break;
    case OpKind::kDelete:
      c->command.mutable_delete_()->set_key(op.key);
      break;
    case OpKind::kCas: {
      // Expect a value some client may have written, or absence.
      if (!rng_.Chance(1, 4)) {
        op.expected = absl::StrCat("c", 1 + rng_.Uniform(clients_.size()), "-",
                                   1 + rng_.Uniform(std::max<uint64_t>(c->seq, 1)));
      }
      auto* cas = c->command.mutable_cas();
      cas->set_key(op.key);
      cas->set_expect_absent(!op.expected.has_value());
      if (op.expected) cas->set_expected(*op.expected);
      cas->set_value(op.value);
      break;
    }
    case OpKind::kGet:
      break;
  }
  c->op = static_cast<int>(result_.history.size());
  result_.history.push_back(std::move(op));
  const uint64_t attempt = ++c->attempt;
  const int op_index = c->op;
  Schedule(kOpTimeoutUs, [this, c, attempt, op_index] {
    if (c->op != op_index) return;
    ++result_.ops_timed_out;
    if (healed_ && result_.history[op_index].call_us > healed_at_ + kLivenessBoundUs) {
      Fail(absl::StrCat("client ", c->id, "'s request timed out after the cluster was healed"));
    }
    Trace(10, c->id, attempt, 0, [&] { return absl::StrCat("client ", c->id, " times out"); });
    c->op = -1;
    ++c->attempt;
    Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
  });
  ClientAttempt(c);
}

void Simulation::ClientAttempt(Client* c) {
  if (c->op < 0) return;
  const uint64_t attempt = ++c->attempt;
  SimNode* n = PickNode(c);
  if (n == nullptr) {
    Schedule(50'000, [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Operation& op = result_.history[c->op];
  if (n->paused(now_)) {
    // The request sits unread; the attempt timeout retries elsewhere.
    Schedule(kAttemptTimeoutUs, [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Trace(11, c->id, n->id, static_cast<uint64_t>(op.kind), [&] {
    return absl::StrCat("client ", c->id, " sends ", OpKindName(op.kind), " ", op.key, " (seq ",
                        c->seq, ") to node ", n->id);
  });
  // An attempt that hears nothing (the node crashed, the request was lost) is retried.
  Schedule(kAttemptTimeoutUs, [this, c, attempt] { ClientRetry(c, attempt); });
  if (op.kind == OpKind::kGet) {
    n->node->Read(op.key, node::ReadConsistency::kLinearizable,
                  [this, c, attempt](absl::StatusOr<std::optional<std::string>> r) {
                    ClientDone(c, attempt, r.status(), [&](Operation* o) {
                      if (r.ok()) o->read = *r;
                    });
                  });
  } else {
    n->node->Write(c->command, [this, c, attempt](absl::StatusOr<kvpb::CommandResult> r) {
      ClientDone(c, attempt, r.status(), [&](Operation* o) {
        if (!r.ok()) return;
        o->flag = o->kind == OpKind::kCas ? r->swapped() : r->existed();
      });
    });
  }
  if (!n->node->is_leader()) c->preferred = n->node->leader();  // the hint, or none
}

void Simulation::ClientDone(Client* c, uint64_t attempt, const absl::Status& status,
                            const std::function<void(Operation*)>& record) {
  if (attempt != c->attempt || c->op < 0) return;  // a stale attempt
  if (!status.ok()) {
    // Retry the same command (same seq): sessions make a repeat harmless.
    Schedule(rng_.Range(5'000, 50'000), [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Operation& op = result_.history[c->op];
  record(&op);
  op.completed = true;
  op.return_us = now_;
  ++result_.ops_completed;
  Trace(12, c->id, c->seq, 0, [&] {
    return absl::StrCat("client ", c->id, " done: ", OpKindName(op.kind), " ", op.key);
  });
  c->op = -1;
  ++c->attempt;
  Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
}

void Simulation::ClientRetry(Client* c, uint64_t attempt) {
  if (attempt != c->attempt || c->op < 0) return;
  ClientAttempt(c);  // PickNode still prefers the last leader hint, when that node is up
}

std::function<void(std::function<void()>)> Simulation::DiskScheduler(uint64_t id) {
  return [this, id](std::function<void()> work) {
    const uint64_t latency =
        scenario_.max_disk_latency_us == 0 ? 0 : rng_.Range(1, scenario_.max_disk_latency_us);
    CompleteDiskWork(id, nodes_.at(id).incarnation, latency, std::move(work));
  };
}

void Simulation::CompleteDiskWork(uint64_t id, uint64_t incarnation, uint64_t delay_us,
                                  std::function<void()> work) {
  Schedule(delay_us, [this, id, incarnation, work = std::move(work)]() mutable {
    SimNode& owner = nodes_.at(id);
    // Checked on every attempt: the process may die while the completion waits.
    if (owner.incarnation != incarnation) return;
    if (owner.paused(now_)) {
      // The device finished; the stopped process handles it when it resumes.
      CompleteDiskWork(id, incarnation, owner.paused_until - now_, std::move(work));
      return;
    }
    touched_ = id;
    Trace(13, id, 0, 0, [&] { return absl::StrCat("node ", id, " disk sync done"); });
    work();
  });
}

bool Simulation::TransferSnapshot(const raft::Message& m) {
  // The SQLite back end keeps a snapshot in a file; like the production transport, stream
  // it from the sender's directory to the receiver's before the message is handed over.
  SimNode& from = nodes_.at(m.from);
  SimNode& to = nodes_.at(m.to);
  if (from.sqlite == nullptr || to.sqlite == nullptr || m.snapshot == nullptr) return false;
  auto reader = storage::SnapshotReader::Open(from.sqlite->store(), *m.snapshot);
  if (!reader.ok()) return false;  // replaced by a newer snapshot meanwhile: the leader retries
  auto receiver = storage::SnapshotReceiver::Begin(to.sqlite->store(), *m.snapshot);
  if (!receiver.ok()) return false;
  for (int i = 0; i < 1'000'000; ++i) {
    auto chunk = (*reader)->Next(64 << 10);
    if (!chunk.ok() || !(*receiver)->Add(*chunk).ok()) return false;
    if (chunk->last()) break;
  }
  return (*receiver)->Finish().ok();
}

SimResult Simulation::Run() {
  raft::ConfState cs;
  for (int i = 1; i <= scenario_.voters; ++i) cs.voters.push_back(i);
  initial_conf_ = cs;
  if (options_.storage == SimOptions::Storage::kSqlite) {
    std::string base = options_.sqlite_dir;
    if (base.empty()) base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    sqlite_base_dir_ = absl::StrCat(base, "/raftbadger-sim-", getpid(), "-", options_.seed);
    std::filesystem::remove_all(sqlite_base_dir_);
  }
  // With membership changes, two more nodes run from the start: they know the initial
  // configuration but are not in it until a change adds them.
  const int spares = scenario_.membership_weight > 0 ? 2 : 0;
  for (int i = 1; i <= scenario_.voters + spares; ++i) {
    SimNode& n = nodes_[i];
    n.id = i;
    const uint64_t id = i;
    if (options_.storage == SimOptions::Storage::kMemory) {
      n.memory = std::make_unique<node::MemoryNodeStore>(cs, DiskScheduler(id));
    } else {
      n.dir = absl::StrCat(sqlite_base_dir_, "/node", i);
    }
    n.transport = std::make_unique<SimTransport>(this, i);
    const int64_t drift =
        scenario_.max_drift_permille == 0
            ? 0
            : static_cast<int64_t>(rng_.Range(0, 2 * scenario_.max_drift_permille)) -
                  static_cast<int64_t>(scenario_.max_drift_permille);
    n.tick_us = static_cast<uint64_t>(static_cast<int64_t>(kTickUs) * (1000 + drift) / 1000);
    StartNode(&n);
    Schedule(rng_.Range(0, kTickUs), [this, id] { TickNode(id); });
  }
  clients_.resize(options_.clients);
  for (size_t i = 0; i < clients_.size(); ++i) {
    clients_[i].id = 1000 + i;
    Client* c = &clients_[i];
    Schedule(rng_.Range(0, 100'000), [this, c] { ClientNext(c); });
  }
  if (scenario_.fault_interval_us > 0) {
    Schedule(rng_.Range(0, scenario_.fault_interval_us), [this] { InjectFault(); });
  }
  events_.push(Event{options_.fault_phase_us, next_seq_++, closure_pool_.Put([this] { HealAll(); }),
                     EventKind::kClosure});

  while (!events_.empty() && !failed_) {
    const Event e = events_.top();
    events_.pop();
    if (e.time > end_us_) break;
    now_ = e.time;
    touched_ = 0;
    switch (e.kind) {
      case EventKind::kClosure:
        closure_pool_.Take(e.arg)();
        break;
      case EventKind::kDeliver:
        Deliver(message_pool_.Take(e.arg));
        break;
      case EventKind::kTick:
        TickNode(e.arg);
        break;
    }
    ++result_.events;
    CheckAfterEvent();
    if (options_.record_event_hashes) result_.event_hashes.push_back(hash_);
  }
  result_.virtual_us = now_;
  if (!failed_) {
    checker_.set_full_log_checks(true);
    CheckAfterEvent();
  }
  if (!failed_) {
    LinearizabilityResult lin = CheckLinearizable(result_.history);
    result_.linearizability_inconclusive = lin.inconclusive;
    if (!lin.linearizable) Fail("client history is not linearizable: " + lin.explanation);
  }
  if (!failed_ && result_.ops_completed == 0 && options_.clients > 0) {
    Fail("no client operation completed in the whole run");
  }
  result_.trace_hash = hash_;
  if (!sqlite_base_dir_.empty()) {
    nodes_.clear();  // close every store before removing its files
    std::filesystem::remove_all(sqlite_base_dir_);
  }
  return result_;
}

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  Simulation sim(options);
  return sim.Run();
}

std::string CheckDeterminism(SimOptions options) {
  options.record_event_hashes = true;
  options.trace = nullptr;
  const SimResult a = RunSimulation(options);
  const SimResult b = RunSimulation(options);
  const size_t n = std::min(a.event_hashes.size(), b.event_hashes.size());
  for (size_t i = 0; i < n; ++i) {
    if (a.event_hashes[i] != b.event_hashes[i]) {
      // Run both again with traces and show the first line that differs.
      std::ostringstream trace_a, trace_b;
      options.record_event_hashes = false;
      options.trace = &trace_a;
      RunSimulation(options);
      options.trace = &trace_b;
      RunSimulation(options);
      std::istringstream lines_a(trace_a.str()), lines_b(trace_b.str());
      std::string line_a, line_b;
      while (std::getline(lines_a, line_a) && std::getline(lines_b, line_b)) {
        if (line_a != line_b) break;
      }
      return absl::StrCat("runs diverge at event ", i, ": first run \"", line_a,
                          "\", second run \"", line_b, "\"");
    }
  }
  if (a.event_hashes.size() != b.event_hashes.size() || a.trace_hash != b.trace_hash) {
    return absl::StrCat("runs differ in length: ", a.event_hashes.size(), " vs ",
                        b.event_hashes.size(), " events");
  }
  return "";
}

}  // namespace rb::sim
