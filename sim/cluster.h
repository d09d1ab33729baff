// Internals of the simulator, shared by its source files: the scenario a seed draws, the
// simulated nodes and clients, and the Simulation that runs them. Not a public interface:
// use simulation.h.
//
//   simulation.cc  the event loop, nodes, network and disk, the run
//   checks.cc      the checks made while it runs, and the hooks that feed them
//   nemesis.cc     faults: crashes, partitions, clogs, pauses, membership changes, healing
//   workload.cc    the clients and their operations
//   scenario.cc    what a seed draws
#ifndef RAFTBADGER_SIM_CLUSTER_H_
#define RAFTBADGER_SIM_CLUSTER_H_

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/logging.h"
#include "node/memory_node_store.h"
#include "node/node.h"
#include "node/sqlite_node_store.h"
#include "proto/kv.pb.h"
#include "raft/invariants.h"
#include "raft/rng.h"
#include "sim/fault_recorder.h"
#include "sim/membership_model.h"
#include "sim/reference_model.h"
#include "sim/sim_disk.h"
#include "sim/sim_vfs.h"
#include "sim/simulation.h"

namespace rb::sim::internal {

namespace kvpb = raftbadger::kvpb;

constexpr uint64_t kTickUs = 10'000;  // one Raft tick of virtual time
// 20 ticks: randomized timeouts take 20 distinct values, so two candidates rarely collide
// round after round even with tens of milliseconds of delay.
constexpr int kElectionTicks = 20;
// A heartbeat every 2 ticks (20 ms): one tenth of the election timeout, etcd's default
// ratio (100 ms heartbeats, 1 s elections). Heartbeats are most of the simulated traffic;
// every tick would double them and slow the simulator by a quarter for no new schedules.
constexpr int kHeartbeatTicks = 2;
constexpr uint64_t kOpTimeoutUs = 3'000'000;
constexpr uint64_t kAttemptTimeoutUs = 400'000;
// After healing, a leader must exist within this many election timeouts, and requests
// issued after that must complete. Raft's liveness is probabilistic (split votes can
// repeat), so the bound is generous: 20 election timeouts, 4 s of virtual time.
constexpr uint64_t kLivenessElectionTimeouts = 20;
constexpr uint64_t kLivenessBoundUs = kLivenessElectionTimeouts * kElectionTicks * kTickUs;
// A healed follower that is behind needs a heartbeat, perhaps its log's tail or a snapshot:
// half the liveness bound leaves room for a snapshot of the largest state a run builds.
constexpr uint64_t kCatchUpBoundUs = kLivenessBoundUs / 2;
constexpr int kKeys = 5;
// Sessions expire after 2 s of idle log time (an operation retries for up to 3 s, so some
// expire under it), and the table holds two more than there are clients (sessions that
// clients abandon are evicted, least recently used first).
constexpr uint64_t kSessionIdleTimeoutMs = 2'000;
constexpr int kExpirePerCommand = 8;
inline uint64_t MaxSessions(const SimOptions& o) { return static_cast<uint64_t>(o.clients) + 2; }
constexpr uint64_t kReplaceRetryUs = 300'000;  // the operator checks on a replacement

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
  // SQLite back end: per crash, the chance (per mille) that it is a power loss, and that a
  // power loss strikes inside the node's next I/O rather than between them.
  uint32_t power_loss_per_mille = 0;
  uint32_t mid_io_per_mille = 0;
  uint32_t corruption_per_mille = 0;  // per power loss: damage a sector of the database
  // Per new leader: the chance (per mille) that it crashes within a few message delays of
  // winning, likely with entries of earlier terms half replicated (Figure 8's schedule).
  uint32_t new_leader_crash_per_mille = 0;
  // SQLite back end: nodes 1..flaky_read_nodes flip a bit in a page read this often.
  uint32_t flaky_read_per_mille = 0;
  int flaky_read_nodes = 0;
  // SQLite back end: nodes 1..failing_sync_nodes fail an fsync this often (per 10,000).
  uint32_t failing_sync_per_10k = 0;
  int failing_sync_nodes = 0;
  // SQLite back end: each read that reaches a node's disk keeps the node busy this long
  // (at most; drawn per event). 0: reads are free.
  uint64_t max_read_latency_us = 0;
  // Stragglers: this often a message is held back in the network for half an election
  // timeout to ten of them while later ones pass it (a packet stuck in a retransmission
  // queue, a reconnecting stream flushing its buffer): an old append then arrives after
  // newer ones, an old vote response after the next campaign began.
  uint32_t straggler_per_mille = 0;
  // Mean time between episodes in which one node's disk is full (0: none).
  uint64_t disk_full_interval_us = 0;
  // Per leadership transfer: the chance (per mille) that the old leader stops (a pause)
  // just as it sends TimeoutNow, so that it hears of the transferee's campaign late.
  uint32_t handover_pause_per_mille = 0;
  // Mean time between spells in which clients only read (0: none). In a read-mostly
  // load the logs stop moving, so a node cut off from the leader campaigns with a log as
  // up to date as anyone's, and leases are held and renewed all the time.
  uint64_t read_spell_interval_us = 0;
  // Per read round (heartbeats carrying a ReadIndex context): the chance (per mille) that
  // the leader stops just after sending it, so the acknowledgments wait for it to resume.
  uint32_t read_round_pause_per_mille = 0;
  // Per configuration change the nemesis proposes: the chance (per mille) that the network
  // splits, the leader (and some followers) apart from the rest, just as the leader is
  // about to tell its followers that the change is committed.
  uint32_t conf_split_per_mille = 0;
  // Byte limit of the committed entries one Ready applies (0: max_msg_bytes, as in
  // schedules written before it existed).
  uint64_t max_apply_batch_bytes = 0;
  // Vote responses straggle this much more often (per mille): a grant of term T that
  // arrives while its candidate campaigns in T+1.
  uint32_t vote_straggler_per_mille = 0;
  // Leaders let a new commit index wait for the next append or heartbeat
  // (raft::Config::skip_broadcast_commit): followers apply later.
  bool skip_broadcast_commit = false;
  // A client write or read reaching a node opens a batch there (node::Node::BeginBatch) that
  // closes this long after, as the server's loop round does: the writes of that window are
  // proposed together, its linearizable reads share one ReadIndex round, and the node's
  // Ready waits for the batch's end. 0: none.
  uint64_t client_batch_us = 0;
  // Tells of removal (node::Transport::TellRemoved) are delivered, and a node that
  // believes one stops for good (SimNode::stopped_removed). Otherwise only checked.
  bool deliver_removals = false;
  // Reads wait for the round in flight (node::NodeOptions::one_read_round_in_flight).
  bool one_read_round_in_flight = false;
  // Plain puts are answered at commit (node::NodeOptions::answer_writes_at_commit).
  bool answer_writes_at_commit = false;
  // Every third value of each client is large (Simulation::ClientValue).
  bool large_values = false;
  std::string Describe() const {
    return absl::StrCat(
        "voters=", voters, " prevote=", pre_vote, " checkquorum=", check_quorum,
        " snapshot_every=", snapshot_every, " max_msg=", max_msg_bytes, " delay=", min_delay_us,
        "..", max_delay_us, "us drop=", drop_per_mille, "/1000 dup=", duplicate_per_mille,
        "/1000 fault_interval=", fault_interval_us,
        "us weights(crash/partition/clog/pause)=", crash_weight, "/", partition_weight, "/",
        clog_weight, "/", pause_weight, " membership=", membership_weight,
        " drift<=", max_drift_permille, "/1000 disk_latency<=", max_disk_latency_us, "us",
        " power_loss=", power_loss_per_mille, "/1000 mid_io=", mid_io_per_mille,
        "/1000 corruption=", corruption_per_mille,
        "/1000 new_leader_crash=", new_leader_crash_per_mille,
        "/1000 flaky_reads=", flaky_read_per_mille, "/1000 on ", flaky_read_nodes,
        " nodes failing_syncs=", failing_sync_per_10k, "/10000 on ", failing_sync_nodes,
        " nodes read_latency<=", max_read_latency_us, "us stragglers=", straggler_per_mille,
        "/1000 disk_full_interval=", disk_full_interval_us,
        "us handover_pause=", handover_pause_per_mille,
        "/1000 read_spell_interval=", read_spell_interval_us,
        "us read_round_pause=", read_round_pause_per_mille,
        "/1000 conf_split=", conf_split_per_mille, "/1000 max_apply_batch=", max_apply_batch_bytes,
        " vote_stragglers=", vote_straggler_per_mille, "/1000",
        skip_broadcast_commit ? " skip_broadcast_commit" : "",
        client_batch_us > 0 ? absl::StrCat(" client_batch=", client_batch_us, "us") : "",
        deliver_removals ? " deliver_removals" : "",
        one_read_round_in_flight ? " one_read_round_in_flight" : "",
        answer_writes_at_commit ? " answer_writes_at_commit" : "",
        large_values ? " large_values" : "");
  }
};

Scenario DrawScenario(const SimOptions& o, raft::Rng* rng);

// The scenario as "name=value" lines, one per field, and back. Parsing starts from the
// defaults of Scenario{} (every fault off), so a field added later reads as off in an
// older schedule; a name it does not know is an error (a newer schedule).
std::string ScenarioText(const Scenario& s);
absl::StatusOr<Scenario> ParseScenarioText(absl::string_view text);

// Folds v into a running trace hash.
uint64_t Mix(uint64_t h, uint64_t v);

class Simulation;

class SimTransport : public node::Transport {
 public:
  SimTransport(Simulation* sim, uint64_t id) : sim_(sim), id_(id) {}
  void Send(raft::Message m) override;
  // Checked (Simulation::OnTellRemoved), not delivered: the simulated nodes do not stop.
  void TellRemoved(uint64_t to, uint64_t removed_at_index) override;

 private:
  Simulation* sim_;
  uint64_t id_;
};

struct SimNode {
  uint64_t id = 0;
  // Memory back end: the disk model, which survives crashes.
  std::unique_ptr<node::MemoryNodeStore> memory;
  // SQLite back end: the simulated disk (declared first: it outlives the store), and the
  // real store, open while the process runs, over files in `dir` on that disk.
  std::unique_ptr<SimDisk> disk;
  std::unique_ptr<node::SqliteNodeStore> sqlite;
  std::string dir;
  raft::HardState closed_hard_state;    // SQLite: the durable hard state when it was closed
  uint64_t closed_durable_applied = 0;  // SQLite: the synced applied index when it was closed
  bool crash_armed = false;             // a power loss waits for the node's next I/O
  bool disk_corrupted = false;          // the simulator damaged its database
  bool refused_start = false;           // and it refused to start over it: down for good
  // It believed a member's word that it was removed (Scenario::deliver_removals) and
  // stopped, as the server's node does (it records the removal and refuses to start).
  bool stopped_removed = false;
  uint64_t incarnation = 0;          // bumped by each crash: older completions are dropped
  std::unique_ptr<node::Node> node;  // null while crashed
  uint64_t started_us = 0;           // when this incarnation started
  uint64_t ticks_since_leader = 0;   // its ticks since a leader's message (DeliverVote)
  std::unique_ptr<SimTransport> transport;
  uint64_t durable_term = 0;  // highest durable term seen (monotonic across restarts)
  uint64_t durable_commit = 0;
  uint64_t durable_applied = 0;  // SQLite: the synced applied index, as the checks last saw it
  uint64_t last_applied = 0;     // across restarts: no index applied twice
  // The store's applied index when its state machine was last digested (CheckStateDigest).
  uint64_t digested_index = UINT64_MAX;
  uint64_t tick_us = 0;              // this node's clock: the nominal tick, drifted
  uint64_t paused_until = 0;         // stopped process: nothing runs before this time
  uint64_t disk_reads_charged = 0;   // SimDisk::reads() already paid for in time
  uint64_t led_term = 0;             // the last term in which it was seen leading
  uint64_t timeout_now_term = 0;     // the last term in which it sent TimeoutNow (CheckLease)
  uint64_t quorum_checked_term = 0;  // the last term whose election CheckElectedByQuorum saw
  std::string last_read_round;       // the context of the last read round it sent
  // The index of a configuration change the nemesis proposed through it, until it first
  // sends a commit index that covers it (Scenario::conf_split_per_mille).
  uint64_t conf_split_index = 0;
  std::set<uint64_t> conf_split_added, conf_split_removed;  // voters those changes add, remove
  // Leading in doomed_term, it crashes as soon as its commit index passes this.
  uint64_t doomed_term = 0;
  uint64_t doomed_after_commit = 0;
  bool disk_full = false;          // its disk has no room (Simulation::DiskFullFault)
  bool client_batch_open = false;  // see Scenario::client_batch_us
  bool paused(uint64_t now) const { return paused_until > now; }
  // Neither restarted nor added again: only an operator, who replaces it, brings it back.
  bool down_for_good() const { return refused_start || stopped_removed; }
  node::NodeStore* store() {
    return memory != nullptr ? static_cast<node::NodeStore*>(memory.get()) : sqlite.get();
  }
  raft::HardState durable_hard_state() const {
    if (memory != nullptr) return memory->durable_hard_state();
    // What a power loss would keep: a Ready that only applies is written without an fsync.
    return sqlite != nullptr ? sqlite->store().durable_hard_state() : closed_hard_state;
  }
};

// The raftbadger.v1.KV calls simulated clients make (sim/kv_wire.cc).
enum class KvMethod {
  kPut,
  kDelete,
  kCas,
  kGet,
  kRegisterSession,
  kSaveEntries,
  kUpdateEntries,  // the old API (badgerpb.BadgerService)
};
// An answer as the wire carries it: the call's status (with its structured marks, which
// gRPC carries as trailers) and the encoded response. served_at_index is the simulator's
// own observation: the serving node's applied index when it answered a read.
struct KvReply {
  absl::Status status;
  std::string response;
  uint64_t served_at_index = 0;
};
using KvReplyFn = std::function<void(KvReply)>;

struct Client {
  uint64_t id = 0;
  uint64_t seq = 0;
  int op = -1;             // index into the history of the operation in progress
  uint64_t attempt = 0;    // token: callbacks from older attempts are ignored
  uint64_t preferred = 0;  // node to try first (last known leader)
  uint64_t session = 0;    // registered through the log; 0: none yet
  bool sent = false;       // an attempt of the current operation reached a node
  std::map<uint64_t, uint64_t> stale_index_seen;  // node -> applied index of its last stale read
};

class Simulation {
 public:
  explicit Simulation(const SimOptions& options);
  SimResult Run();

  void SendMessage(uint64_t from, raft::Message m);
  // A node tells node `to` it was removed at removed_at (node::Transport::TellRemoved): the
  // tombstone the teller read (node/member_directory) must say what the committed log
  // says (MembershipModel), as of the teller's applied index.
  void OnTellRemoved(uint64_t from, uint64_t to, uint64_t removed_at);

 private:
  // Scenario::deliver_removals: the word crosses the network like a message (it rides on
  // the server's next batch to that node), and the told node weighs it
  // (node::Node::HearRemoval): one that believes it stops for good (StopRemoved), as the
  // server's node does.
  void DeliverRemovalLater(uint64_t from, uint64_t to, uint64_t removed_at);
  void DeliverRemoval(uint64_t from, uint64_t to, uint64_t removed_at);
  void StopRemoved(SimNode* n, uint64_t removed_at);
  // After healing: a running node outside the leader's configuration that still campaigns
  // for its old one, having missed its removal, must have been told and stopped.
  void CheckRemovedNodesStopped(const SimNode& leader);
  // Creates the nodes, clients and first events the seed calls for.
  void SetUp();

  // Heap entries stay small and trivially movable (the heap moves them on every push and
  // pop): a delivery refers to a message parked in message_pool_, a closure to one parked
  // in closure_pool_, and a tick carries its node id.
  enum class EventKind : uint8_t { kClosure, kDeliver, kTick, kDiskDone };
  struct Event {
    uint64_t time;
    uint64_t seq;
    // kDeliver: message slot; kClosure: closure slot; kTick: node id; kDiskDone: disk slot
    uint64_t arg;
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
  // Folds an event into the trace hash (and prints it when tracing). A template, not a
  // std::function: most calls capture more than fits inline, and allocating a closure on
  // every event only to skip it when not tracing cost several percent of a run.
  template <typename Describe>
  void Trace(uint64_t kind, uint64_t a, uint64_t b, uint64_t c, const Describe& describe) {
    hash_ = Mix(Mix(Mix(Mix(Mix(hash_, now_), kind), a), b), c);
    if (faults_.active()) faults_.Describe(describe());
    if (options_.trace != nullptr) *options_.trace << now_ << "us " << describe() << "\n";
    if (options_.timeline != nullptr) TimelineEvent(kind, a, b, describe());
  }
  // The timeline page's view of a trace event (messages and client steps have their own).
  void TimelineEvent(uint64_t kind, uint64_t a, uint64_t b, const std::string& text);
  // Records role and term changes for the timeline page.
  void TimelineRoles();
  // Records the run's first violation: `checker` names the check that found it.
  void Fail(absl::string_view checker, const std::string& what);

  node::NodeOptions MakeNodeOptions(uint64_t id, uint64_t incarnation) const;
  void StartNode(SimNode* n);
  std::function<void(std::function<void()>)> DiskScheduler(uint64_t id);
  // A disk operation's completion, delivered after delay_us to the incarnation that issued it.
  struct DiskWork {
    uint64_t id = 0;
    uint64_t incarnation = 0;
    std::function<void()> work;
  };
  void CompleteDiskWork(uint64_t id, uint64_t incarnation, uint64_t delay_us,
                        std::function<void()> work);
  void DiskDone(DiskWork done);
  bool TransferSnapshot(const raft::Message& m);
  // kill -9; with power_loss, the disk also loses, keeps or tears each unsynced write.
  void Crash(SimNode* n, bool power_loss = false);
  // Adds what the result sums over every incarnation of every node (at a crash and at the
  // end of the run).
  void AddNodeCounters(const node::Node& node);
  // Flips a bit of a page of the node's database file that no WAL frame supersedes (a
  // superseded page is never read, so damaging it proves nothing). Returns what it did, or
  // "" if there was no such page. REQUIRES: the node is down.
  // Flips one bit the node's store must notice at its next start: in a database page no WAL
  // frame supersedes, or in a WAL frame before the last transaction. Returns what it damaged.
  // `running`: the node is up, so only damage it can meet while running is chosen.
  std::string DamageDisk(SimNode* n, raft::Rng* rng, bool running);
  std::string DamageDatabase(SimNode* n, raft::Rng* rng);
  std::string DamageWal(SimNode* n, raft::Rng* rng, bool running);
  // SQLite back end: damage a running node's disk, as it may be found by the node's next
  // read (then it stops, and refuses to restart) or only at its next start. Retries a few
  // times while the chosen node is down or has writes in flight.
  void DamageRunningNode(uint64_t id, raft::Rng* rng, int attempts_left);
  // A node whose disk froze in the middle of its I/O (an armed power loss) dies now.
  // Crashes the nodes whose process is gone: its disk froze (a power loss inside its I/O),
  // or its storage failed (a damaged page read, a failed write), after which the process
  // exits and its supervisor restarts it.
  void CrashStoppedNodes();
  // The reads the touched node's event made of its disk took time: it is busy (nothing
  // else runs on it) until they would have completed.
  void ChargeReadLatency();
  // Notices a node that just became leader, and may schedule its early death.
  void WatchLeaders();
  // Replaces a member that refused to start by a spare node, through the leader; retries
  // until the configuration no longer holds it.
  void ReplaceMember(uint64_t dead);
  // Restarts a crashed node after a random downtime (unless it refused to start).
  void ScheduleRestart(uint64_t id);
  void Deliver(raft::Message m);
  void TickNode(uint64_t id);
  // Begins a step of the nemesis's chain (FaultRecorder). A replayed step marked dropped
  // ends here: it schedules the chain's next step (`next`) at its recorded delay, and this
  // returns false, so the caller does nothing more.
  bool BeginFaultStep(FaultStep::Chain chain, std::function<void()> next);
  void InjectFault();
  // A kill -9 or power loss (now, or armed for the node's next disk operations).
  void CrashFault(SimNode* n);
  // Cuts links: a split (around `leader` if non-zero), a majorities ring, a bridge or one
  // link.
  // leader: aim at it (0: don't); current_leader: who leads now, if anyone.
  void Partition(const std::vector<uint64_t>& ids, uint64_t leader, uint64_t current_leader);
  // Cuts every link from a node in `side` to one outside it (and back, unless one_way).
  void CutSide(const std::set<uint64_t>& side, bool one_way);
  // Restores every link after delay_us.
  void HealPartitionIn(uint64_t delay_us);
  // A configuration change or leader transfer, proposed through the leader.
  // An operator's membership change (or leadership transfer) at the leader. Now and then a
  // second request follows at once, before the first is applied (a correct leader refuses
  // it), and sometimes the leader then crashes.
  void ChangeMembership(uint64_t leader, bool second = false);
  // A burst of writes from clients that still talk to a leader just cut off: they pile up
  // in its log, uncommitted, while the others elect a leader, commit past them and compact.
  // When the partition heals, the deposed leader's long divergent tail must give way (by
  // appends or a snapshot). Keys outside the workload's; nobody waits for the outcome.
  void StrandWrites(uint64_t leader);
  // Fills one node's disk (the leader half the time) for a while, then frees it; then the
  // next episode, while the fault phase lasts.
  void DiskFullFault();
  void SetDiskFull(SimNode* n, bool full);
  void HealAll();
  // Deliver, for appends and vote requests: checks of Raft's rules for taking them.
  void DeliverAppend(SimNode* n, raft::Message m);
  void DeliverVote(SimNode* n, raft::Message m);
  // Liveness, kLivenessBoundUs after healing: one leader, and every running member of its
  // configuration that has been up for two election timeouts follows it in its term.
  void CheckSettled();
  // Node id's core if it runs and has been up two election timeouts (long enough to have
  // heard the leader and answered), else null: the members the liveness checks judge.
  const raft::Raft* LongRunningMember(uint64_t id) const;
  // Followers catch up, kCatchUpBoundUs after CheckSettled: every running member of the
  // leader's configuration has applied at least `commit`, the leader's commit index when the
  // cluster settled. Whether or not a commit is broadcast when it happens
  // (raft::Config::skip_broadcast_commit), the next heartbeat carries it.
  void CheckCaughtUp(uint64_t commit);
  void OnSend(SimNode* n, const raft::Message& m);
  // Leader-targeted pauses (Scenario::handover_pause_per_mille, read_round_pause_per_mille):
  // the node stops right after sending TimeoutNow, or a read round's heartbeats.
  void PauseAtCriticalSend(SimNode* n, const raft::Message& m);
  void OnApply(SimNode* n, const raft::Entry& e);
  void CheckAfterEvent();
  // Lease safety, which lease reads rely on: while a node holds a lease of term T (it
  // would serve a kLease read without a round trip), no term above T has had a leader.
  // And at its root: a leader that sent TimeoutNow in term T holds no lease of T after,
  // since the transferee's campaign skips every voter's lease.
  void CheckLease(const SimNode& n);
  uint64_t max_led_term_ = 0;  // the highest term any node was seen leading
  // Election safety at its root: a node seen leading term T for the first time was sent
  // grants of term T by a quorum of its configuration (itself included). The check that
  // no term has two leaders sees a miscounted election only when a rival also wins.
  void CheckElectedByQuorum(SimNode& n);
  // (term, candidate) -> the nodes that sent it a granted vote of that term.
  // ReadIndex safety, at its root: the index a linearizable read is answered at is at
  // least every commit index known anywhere when the node asked the core for it. The
  // history check sees a low read index only when a write in between changed the value
  // read, and the client had already been told of it.
  void OnReady(SimNode* n, const raft::Ready& ready);
  // Single-server membership changes are safe one at a time (Raft thesis 4.1): a leader
  // appends a configuration change only once every earlier one in its log is committed.
  // The check that no term has two leaders sees an overlap only when the two
  // configurations' majorities are disjoint and each side elects a leader.
  void CheckOneConfChangeAtATime(const SimNode& n, const raft::Ready& ready);
  // read context -> the highest commit index observed when the node asked for it
  std::map<std::string, uint64_t> read_floor_;
  std::map<std::pair<uint64_t, uint64_t>, std::set<uint64_t>> grants_;
  void FailRunaway();
  // Whenever a node's applied index has moved: its whole state machine (rows, sessions,
  // recorded configuration) must equal every other replica's at that index.
  void CheckStateDigest(SimNode& n);
  // At the end, SQLite back end: every bit flipped in a page read was caught.
  void CheckReadFaultsCaught();

  void ClientNext(Client* c);
  // The value client `id` writes with its seq-th operation: "c<id>-<seq>", and with
  // Scenario::large_values every third one padded past the SQLite store's inline limit.
  // A function of its arguments alone (no randomness), so that a compare-and-swap can
  // name a value some client wrote.
  std::string ClientValue(uint64_t id, uint64_t seq) const;
  void ClientAttempt(Client* c);
  void ClientDone(Client* c, uint64_t attempt, const absl::Status& status,
                  const std::function<void(Operation*)>& record);
  void ClientRetry(Client* c, uint64_t attempt);
  // Ends the client's current operation (done, or its outcome unknown: the history then
  // keeps the call without a return) and starts its next after a pause.
  void EndOperation(Client* c);
  // Registers a new session for the client through the log, then goes on with ClientNext.
  void ClientRegister(Client* c);
  // The request the client's current operation makes, encoded.
  std::pair<KvMethod, std::string> EncodeRequest(const Client& c, const Operation& op) const;
  // Reads a successful call's response into the operation's outputs.
  static absl::Status DecodeResponse(const Operation& op, const std::string& bytes,
                                     std::optional<std::string>* read, bool* flag);
  // Opens a batch of client requests on n (Scenario::client_batch_us) unless one is open, and
  // schedules its end.
  void OpenClientBatch(SimNode& n);
  void CloseClientBatch(uint64_t id, uint64_t incarnation);
  // What a member does with an encoded request (sim/kv_wire.cc).
  void ServeKv(uint64_t id, KvMethod method, std::string request, bool forwarded, KvReplyFn reply);
  // Runs fn at `to` as a message from `from` would arrive: after a network delay, unless
  // lost or cut off; when `to` is stopped, once it resumes; never if it is down.
  void SendAcross(uint64_t from, uint64_t to, std::function<void()> fn);
  // How long a message from `from` to `to` takes (a drawn delay, plus a clog), or nullopt
  // if the link is cut or the message is lost.
  std::optional<uint64_t> LinkDelayUs(uint64_t from, uint64_t to);
  void Arrive(uint64_t from, uint64_t to, std::function<void()> fn);
  uint64_t sessionless_seq_ = 0;
  SimNode* PickNode(Client* c, bool read);

  SimOptions options_;
  raft::Rng rng_;
  // Damage to running nodes draws from its own generator: adding it moved no other draw.
  raft::Rng damage_rng_;
  raft::Rng read_latency_rng_;    // likewise
  raft::Rng read_mode_rng_;       // likewise
  raft::Rng straggler_rng_;       // likewise
  raft::Rng burst_rng_;           // likewise
  raft::Rng strand_rng_;          // likewise
  raft::Rng doomed_rng_;          // likewise
  raft::Rng disk_full_rng_;       // likewise
  raft::Rng leader_pause_rng_;    // likewise
  raft::Rng spell_rng_;           // likewise
  raft::Rng conf_split_rng_;      // likewise
  raft::Rng vote_straggler_rng_;  // likewise
  // Scenario::conf_split_per_mille: cuts `leader` (and some followers) off from the rest,
  // as it first tells them that a configuration change is committed.
  void SplitAtConfChange(uint64_t leader);
  // Read-only spells (Scenario::read_spell_interval_us): until then, clients only read.
  uint64_t read_spell_until_us_ = 0;
  bool in_read_spell() const { return now_ < read_spell_until_us_; }
  void ReadSpell();
  // The nemesis draws through it: its steps are recorded, or replayed (SimOptions::faults).
  FaultRecorder faults_;
  // The last role and term the timeline recorded per node (its role names are constants).
  std::map<uint64_t, std::pair<const char*, uint64_t>> timeline_roles_;
  uint64_t stranded_writes_ = 0;
  // When a paused node resumes, what waited for it from `sender` (a node, or a client)
  // arrives this long after.
  uint64_t ResumeJitterUs(const SimNode& n, uint64_t sender) const;
  // Sends the client's current attempt to node `id` (if it is still up and the attempt
  // still current).
  void ClientSend(Client* c, uint64_t attempt, uint64_t id);
  // The committed log replayed into an independent model of the state machine, and the
  // stale reads waiting for it to reach the index they were served at.
  ReferenceModel model_;
  struct StaleRead {
    int op = 0;
    uint64_t node = 0;
  };
  std::multimap<uint64_t, StaleRead> stale_reads_;
  bool model_lost_ = false;  // entries it missed were compacted on every node
  // The same log replayed into an independent model of the member directory's tombstones.
  MembershipModel membership_;
  void FeedModel(const raft::Entry& e);
  void CheckStaleReads();
  node::SessionPolicy SessionPolicy() const {
    return node::SessionPolicy{kSessionIdleTimeoutMs, MaxSessions(options_), kExpirePerCommand};
  }
  // The node's own clock: virtual time at its drifted rate.
  uint64_t LocalClockUs(uint64_t id) const;
  Scenario scenario_;
  SimResult result_;
  uint64_t now_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t end_us_ = 0;
  uint64_t healed_at_ = 0;
  bool healed_ = false;
  bool failed_ = false;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::unique_ptr<SimVfs> vfs_;  // declared before the nodes: their stores close first
  std::map<uint64_t, SimNode> nodes_;
  // nodes_ by id (1..N), for the lookups every event makes; map nodes never move.
  std::vector<SimNode*> by_id_;
  SimNode& NodeById(uint64_t id) {
    RB_CHECK(id < by_id_.size() && by_id_[id] != nullptr, "no simulated node ", id);
    return *by_id_[id];
  }
  std::vector<Client> clients_;
  // Per directed link (from, to), looked up on every message: flat tables indexed by
  // from * link_stride_ + to (node ids are 1..N).
  class Links {
   public:
    void Resize(uint64_t max_id) {
      stride_ = max_id + 1;
      cut_.assign(stride_ * stride_, 0);
      clogged_until_.assign(stride_ * stride_, 0);
      cut_count_ = 0;
    }
    bool cut(uint64_t from, uint64_t to) const { return cut_[from * stride_ + to] != 0; }
    void Cut(uint64_t from, uint64_t to) {
      uint8_t& c = cut_[from * stride_ + to];
      cut_count_ += c == 0 ? 1 : 0;
      c = 1;
    }
    void Restore(uint64_t from, uint64_t to) {
      uint8_t& c = cut_[from * stride_ + to];
      cut_count_ -= c != 0 ? 1 : 0;
      c = 0;
    }
    void RestoreAll() {
      std::fill(cut_.begin(), cut_.end(), 0);
      cut_count_ = 0;
    }
    uint64_t cut_count() const { return cut_count_; }
    uint64_t& clogged_until(uint64_t from, uint64_t to) {
      return clogged_until_[from * stride_ + to];
    }
    void Unclog() { std::fill(clogged_until_.begin(), clogged_until_.end(), 0); }

   private:
    uint64_t stride_ = 0;
    std::vector<uint8_t> cut_;
    std::vector<uint64_t> clogged_until_;
    uint64_t cut_count_ = 0;
  };
  Links links_;
  raft::InvariantChecker checker_;
  Pool<raft::Message> message_pool_;
  Pool<std::function<void()>> closure_pool_;
  Pool<DiskWork> disk_pool_;
  std::vector<const raft::Raft*> live_;  // CheckAfterEvent's scratch list
  uint64_t last_full_check_ = 0;         // event count at the last whole-log comparison
  uint64_t max_events_ = 0;              // the run's bound (SimOptions)
  bool unchanged_ = false;               // the current event changed no node's state
  // The node the current event acted on (0: possibly several); only it is re-checked.
  uint64_t touched_ = 0;
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> applied_;  // index -> (term, data hash)
  // Applied index -> the first digest of a state machine there, and whose it was.
  std::map<uint64_t, std::pair<node::StateDigest, uint64_t>> state_digests_;
  uint64_t hash_ = 0;
  raft::ConfState initial_conf_;
};

uint64_t HashBytes(absl::string_view s);

}  // namespace rb::sim::internal

#endif  // RAFTBADGER_SIM_CLUSTER_H_
