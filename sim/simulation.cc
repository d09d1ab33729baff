#include "sim/simulation.h"

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"
#include "sim/linearizability.h"
#include "sim/timeline.h"
#include "storage/snapshot.h"

namespace rb::sim {
namespace internal {

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

Simulation::Simulation(const SimOptions& options)
    : options_(options),
      rng_(options.seed),
      damage_rng_(options.seed ^ 0x64616d6167656421ULL),
      read_latency_rng_(options.seed ^ 0x6c6174656e637921ULL),
      read_mode_rng_(options.seed ^ 0x726561646d6f6465ULL),       // "readmode"
      straggler_rng_(options.seed ^ 0x73747261676c6572ULL),       // "stragler"
      burst_rng_(options.seed ^ 0x636f6e6662757273ULL),           // "confburs"
      strand_rng_(options.seed ^ 0x737472616e646564ULL),          // "stranded"
      doomed_rng_(options.seed ^ 0x646f6f6d65646c64ULL),          // "doomedld"
      disk_full_rng_(options.seed ^ 0x6469736b65706973ULL),       // "diskepis"
      leader_pause_rng_(options.seed ^ 0x68616e646f766572ULL),    // "handover" (its first use)
      spell_rng_(options.seed ^ 0x7370656c6c737421ULL),           // "spells!"
      conf_split_rng_(options.seed ^ 0x73706c6974636f6eULL),      // "splitcon"
      vote_straggler_rng_(options.seed ^ 0x766f746573747267ULL),  // "votestrg"
      faults_({&rng_, &strand_rng_, &burst_rng_, &disk_full_rng_},
              options.replay_faults ? options.faults : std::vector<FaultStep>{}),
      model_(SessionPolicy()) {
  raft::Rng scenario_rng = rng_.Fork();  // forked either way: the run's draws stay put
  if (options_.scenario.empty()) {
    scenario_ = DrawScenario(options_, &scenario_rng);
  } else {
    // A schedule file's scenario: the generator is not asked, so a schedule keeps its
    // scenario when the generator's draws change.
    absl::StatusOr<Scenario> loaded = ParseScenarioText(options_.scenario);
    RB_CHECK(loaded.ok(), "SimOptions::scenario: ", loaded.status().ToString(),
             " (ReadSchedule validates it)");
    scenario_ = *loaded;
  }
  result_.scenario = scenario_.Describe();
  result_.scenario_text = ScenarioText(scenario_);
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

void Simulation::Fail(absl::string_view checker, const std::string& what) {
  if (failed_) return;
  failed_ = true;
  result_.ok = false;
  result_.checker = std::string(checker);
  result_.failure_us = now_;
  result_.failure = absl::StrCat("at ", now_, "us: ", what);
  // Where each node stood: usually the first thing a developer replaying the seed needs.
  for (auto& [id, n] : nodes_) {
    absl::StrAppend(&result_.failure, "\n  node ", id, ": ");
    if (n.node == nullptr) {
      absl::StrAppend(&result_.failure, n.refused_start     ? "refused to start"
                                        : n.stopped_removed ? "stopped: told it was removed"
                                                            : "down");
      continue;
    }
    const raft::Raft& r = n.node->raw().raft();
    absl::StrAppend(&result_.failure, raft::StateTypeName(r.state()), " term=", r.term(),
                    " vote=", r.vote(), " lead=", r.lead(), " last_term=", r.log().LastTerm(), " ",
                    r.log().DebugString(), " ", r.tracker().config.DebugString(),
                    n.paused(now_) ? " (paused)" : "");
  }
}

node::NodeOptions Simulation::MakeNodeOptions(uint64_t id, uint64_t incarnation) const {
  node::NodeOptions o;
  o.raft.id = id;
  o.incarnation = incarnation;
  o.raft.election_tick = kElectionTicks;
  o.raft.heartbeat_tick = kHeartbeatTicks;
  o.raft.pre_vote = scenario_.pre_vote;
  o.raft.check_quorum = scenario_.check_quorum;
  o.raft.skip_broadcast_commit = scenario_.skip_broadcast_commit;
  o.one_read_round_in_flight = scenario_.one_read_round_in_flight;
  o.answer_writes_at_commit = scenario_.answer_writes_at_commit;
  o.raft.max_inflight_msgs = 64;
  o.raft.max_size_per_msg_bytes = scenario_.max_msg_bytes;
  o.raft.max_committed_size_per_ready_bytes = scenario_.max_apply_batch_bytes;
  o.raft.seed = options_.seed;  // mixed with the id inside the core
  o.snapshot_every_entries = scenario_.snapshot_every;
  o.snapshot_keep_entries = 10;
  o.tick_us = kTickUs;
  o.clock_us = [this, id] { return LocalClockUs(id); };
  // Leaders stamp commands with their own (drifted) clocks: log time must not go back
  // when a leader with a slower clock takes over.
  o.log_clock_ms = [this, id] { return LocalClockUs(id) / 1000; };
  o.sessions = SessionPolicy();
  return o;
}

uint64_t Simulation::ResumeJitterUs(const SimNode& n, uint64_t sender) const {
  // One offset per sender and pause: what one connection carried arrives in order, and
  // connections are read in an order drawn for this pause.
  return Mix(Mix(options_.seed, n.paused_until), sender) % 2'000;
}

uint64_t Simulation::LocalClockUs(uint64_t id) const {
  const SimNode& n = nodes_.at(id);
  return now_ * kTickUs / n.tick_us;
}

void Simulation::StartNode(SimNode* n) {
  n->digested_index = UINT64_MAX;  // what it recovered from disk is compared too
  if (options_.storage == SimOptions::Storage::kSqlite && n->sqlite == nullptr) {
    storage::StoreOptions store_options;  // as in production, on the simulated disk
    store_options.dir = n->dir;
    store_options.vfs = vfs_->name();
    store_options.page_cache_bytes = 4 << 20;
    // A node with flaky reads keeps only a few pages in memory, so that it reads its disk,
    // and meets its faults, all the time rather than only when it starts. With large
    // values, 16 pages thrashed: seed 7800011's such node read 10,358 pages in its last
    // 5 s against 78 with small values; at up to 1.9 ms a page, that is 9.1 s of read
    // latency in 5 s, and it fell ever further behind (the liveness check failed). 64
    // pages still make it read its disk all the time.
    if (n->id <= static_cast<uint64_t>(scenario_.flaky_read_nodes)) {
      store_options.page_cache_bytes = scenario_.large_values ? 256 << 10 : 64 << 10;
    }
    // Checkpoints (writes to the database file) every 64 pages rather than 1000, so that
    // power losses and damage also strike the database file, not only the WAL.
    store_options.wal_autocheckpoint_pages = 64;
    const uint64_t sync_failures_before = vfs_->sync_failures();
    auto opened = node::SqliteNodeStore::Open(store_options, initial_conf_, DiskScheduler(n->id));
    if (!opened.ok() && vfs_->sync_failures() > sync_failures_before) {
      // An fsync failed while the store opened (creating or recovering it): the process
      // exits, as production's does, and starts again later.
      ++result_.storage_failures;
      Trace(27, n->id, 0, 0, [&] {
        return absl::StrCat("node ", n->id, " stops while opening: ", opened.status().ToString());
      });
      ScheduleRestart(n->id);
      return;
    }
    if (!opened.ok() && opened.status().code() == absl::StatusCode::kResourceExhausted &&
        n->disk_full) {
      // No room to create or recover the store: the process exits, as production's does
      // with a clear message, and is started again later.
      Trace(27, n->id, 0, 0, [&] {
        return absl::StrCat("node ", n->id,
                            " cannot open its store on a full disk: ", opened.status().ToString());
      });
      ScheduleRestart(n->id);
      return;
    }
    if (!opened.ok()) {
      // What it must do: never start over state it cannot trust. It stays down. Damage is
      // reported as DataLoss, except in the header fields that identify the file (a flipped
      // schema version reads as a newer one): FailedPrecondition, also a refusal.
      const absl::StatusCode code = opened.status().code();
      if (n->disk_corrupted &&
          (code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kFailedPrecondition)) {
        n->refused_start = true;
        ++result_.refused_starts;
        Trace(19, n->id, 0, 0, [&] {
          return absl::StrCat("node ", n->id, " refuses to start: ", opened.status().ToString());
        });
        const uint64_t dead = n->id;
        Schedule(kReplaceRetryUs, [this, dead] { ReplaceMember(dead); });
        return;
      }
      Fail("storage",
           absl::StrCat("node ", n->id, " cannot open its store: ", opened.status().ToString()));
      return;
    }
    n->sqlite = *std::move(opened);
    // A power loss may take applications that were not synced (the one in flight, and
    // those of Readies that only applied): the node applies those entries again, and the
    // fingerprints still check they are the same. Never below what was synced.
    const uint64_t reopened = n->sqlite->store().applied_index();
    if (reopened < n->closed_durable_applied) {
      Fail("durability", absl::StrCat("node ", n->id, " restarted at applied index ", reopened,
                                      ", below the ", n->closed_durable_applied, " it had synced"));
    }
    n->last_applied = std::min(n->last_applied, reopened);
  }
  node::NodeHooks hooks;
  hooks.on_send = [this, n](const raft::Message& m) { OnSend(n, m); };
  hooks.on_apply = [this, n](const raft::Entry& e) { OnApply(n, e); };
  hooks.on_ready = [this, n](const raft::Ready& ready) { OnReady(n, ready); };
  // The highest commit index of any node as of the last event: no correct answer to this
  // read can be below it.
  hooks.on_read_index = [this](const std::string& ctx) {
    read_floor_.emplace(ctx, checker_.max_committed_index());
  };
  auto created = node::Node::Create(MakeNodeOptions(n->id, n->incarnation), n->store(),
                                    n->transport.get(), std::move(hooks));
  if (!created.ok()) {
    Fail("storage", absl::StrCat("node ", n->id,
                                 " cannot restart from its disk: ", created.status().ToString()));
    return;
  }
  n->node = *std::move(created);
  n->started_us = now_;
  // A node that restarts keeps away votes for an election timeout (it may have just
  // acknowledged a leader); a new one does not.
  n->ticks_since_leader = n->node->raw().raft().term() == 0 ? kElectionTicks : 0;
  Trace(1, n->id, 0, 0, [&] { return absl::StrCat("node ", n->id, " starts"); });
}

void Simulation::Crash(SimNode* n, bool power_loss) {
  Trace(2, n->id, power_loss, 0, [&] {
    return absl::StrCat("node ", n->id, power_loss ? " loses power" : " crashes (kill -9)",
                        n->crash_armed ? " inside its I/O" : "");
  });
  if (n->node != nullptr) AddNodeCounters(*n->node);
  n->node.reset();  // volatile state gone; pending client callbacks are never called
  n->client_batch_open = false;
  n->conf_split_index = 0;
  ++n->incarnation;  // a persist completion in flight is never delivered
  if (n->memory != nullptr) {
    n->memory->Crash();  // and, in the memory model, its write is lost
    checker_.ForgetNode(n->id);
    return;
  }
  // The store's last synced hard state is durable unless the disk froze inside the commit
  // that wrote it; then the last one the checks saw durable stands in until the restart.
  n->closed_hard_state = n->disk->frozen() ? raft::HardState{n->durable_term, 0, n->durable_commit}
                                           : n->sqlite->store().durable_hard_state();
  n->closed_durable_applied =
      n->disk->frozen() ? n->durable_applied : n->sqlite->store().durable_applied_index();
  // The process dies: closing its connections here must not write (a real kill -9 runs no
  // checkpoint), so the disk is frozen around the close. Nor read: a disk frozen inside a
  // commit holds half of it, which only the restart may look at.
  n->sqlite->store().SkipCheckpointOnClose();
  n->disk->Freeze();
  n->sqlite.reset();
  n->disk->Thaw();
  n->crash_armed = false;
  checker_.ForgetNode(n->id);
  if (!power_loss) return;
  ++result_.power_losses;
  const SimDisk::CrashReport report = n->disk->Crash(&rng_);
  result_.torn_writes += report.writes_torn;
  Trace(18, n->id, report.writes_lost, report.writes_torn, [&] {
    return absl::StrCat("node ", n->id, " disk: ", report.writes_lost, " unsynced writes lost, ",
                        report.writes_kept, " kept, ", report.writes_torn, " torn");
  });
  if (result_.corrupted_disks == 0 && initial_conf_.voters.size() >= 3 &&
      rng_.Chance(scenario_.corruption_per_mille, 1000)) {
    const std::string what = DamageDisk(n, &rng_, /*running=*/false);
    if (!what.empty()) {
      ++result_.corrupted_disks;
      n->disk_corrupted = true;
      Trace(20, n->id, 0, 0, [&] { return absl::StrCat("node ", n->id, " disk damaged: ", what); });
    }
  }
}

void Simulation::AddNodeCounters(const node::Node& node) {
  result_.disk_full_stalls += node.counters().disk_full_stalls;
  result_.writes_proposed_together += node.counters().writes_proposed_together;
  result_.writes_answered_at_commit += node.counters().writes_answered_at_commit;
  result_.reads_joined += node.counters().reads_joined;
  result_.reads_queued += node.counters().reads_queued;
  result_.read_rounds_overdue += node.counters().read_rounds_overdue;
}

void Simulation::ChargeReadLatency() {
  SimNode& n = NodeById(touched_);
  if (n.disk == nullptr) return;
  const uint64_t reads = n.disk->reads() - n.disk_reads_charged;
  n.disk_reads_charged = n.disk->reads();
  if (reads == 0 || n.node == nullptr) return;
  // One draw per event: a batch of reads of one step sees one device latency.
  const uint64_t busy_us = reads * read_latency_rng_.Range(1, scenario_.max_read_latency_us);
  n.paused_until = std::max(n.paused_until, now_ + busy_us);
}

void Simulation::CrashStoppedNodes() {
  auto check = [this](SimNode& n) {
    if (n.node == nullptr || n.disk == nullptr) return;
    if (n.disk->frozen()) {
      Crash(&n, /*power_loss=*/true);
      ScheduleRestart(n.id);
    } else if (!n.node->failure().ok() || !n.node->raw().storage_failure().ok()) {
      // (The core's failure is the node's too; the node notices at its next input.)
      const absl::Status why =
          n.node->failure().ok() ? n.node->raw().storage_failure() : n.node->failure();
      ++result_.storage_failures;
      Trace(27, n.id, 0, 0,
            [&] { return absl::StrCat("node ", n.id, " stops: ", why.ToString()); });
      Crash(&n, /*power_loss=*/false);
      ScheduleRestart(n.id);
    }
  };
  if (touched_ != 0) {
    check(NodeById(touched_));
  } else {
    for (auto& [id, n] : nodes_) check(n);
  }
}

std::function<void(std::function<void()>)> Simulation::DiskScheduler(uint64_t id) {
  return [this, id](std::function<void()> work) {
    const uint64_t latency =
        scenario_.max_disk_latency_us == 0 ? 0 : rng_.Range(1, scenario_.max_disk_latency_us);
    CompleteDiskWork(id, NodeById(id).incarnation, latency, std::move(work));
  };
}

void Simulation::CompleteDiskWork(uint64_t id, uint64_t incarnation, uint64_t delay_us,
                                  std::function<void()> work) {
  events_.push(Event{now_ + delay_us, next_seq_++,
                     disk_pool_.Put(DiskWork{id, incarnation, std::move(work)}),
                     EventKind::kDiskDone});
}

void Simulation::DiskDone(DiskWork done) {
  SimNode& owner = NodeById(done.id);
  // Checked on every attempt: the process may die while the completion waits.
  if (owner.incarnation != done.incarnation) return;
  if (owner.paused(now_)) {
    // The device finished; the stopped process handles it when it resumes.
    CompleteDiskWork(done.id, done.incarnation, owner.paused_until - now_, std::move(done.work));
    return;
  }
  touched_ = done.id;
  Trace(13, done.id, 0, 0, [&] { return absl::StrCat("node ", done.id, " disk sync done"); });
  done.work();
}

void Simulation::SetUp() {
  raft::ConfState cs;
  for (int i = 1; i <= scenario_.voters; ++i) cs.voters.push_back(i);
  initial_conf_ = cs;
  membership_ = MembershipModel(cs);
  if (options_.storage == SimOptions::Storage::kSqlite) {
    vfs_ = std::make_unique<SimVfs>(rng_.Next());
  }
  // With membership changes, two more nodes run from the start: they know the initial
  // configuration but are not in it until a change adds them.
  const int spares = scenario_.membership_weight > 0 ? 2 : 0;
  links_.Resize(scenario_.voters + spares);
  for (int i = 1; i <= scenario_.voters + spares; ++i) {
    SimNode& n = nodes_[i];
    n.id = i;
    by_id_.resize(i + 1, nullptr);
    by_id_[i] = &n;
    const uint64_t id = i;
    if (options_.storage == SimOptions::Storage::kMemory) {
      n.memory = std::make_unique<node::MemoryNodeStore>(cs, DiskScheduler(id));
    } else {
      n.disk = std::make_unique<SimDisk>();
      vfs_->Mount(absl::StrCat("node", i), n.disk.get());
      n.dir = absl::StrCat("/node", i);
      if (i <= scenario_.flaky_read_nodes) {
        const std::string db = absl::StrCat(n.dir, "/", storage::kDatabaseFileName);
        vfs_->SetFlakyReads(db, scenario_.flaky_read_per_mille);
        vfs_->SetFlakyReads(db + "-wal", scenario_.flaky_read_per_mille);
      }
      if (i <= scenario_.failing_sync_nodes) {
        const std::string db = absl::StrCat(n.dir, "/", storage::kDatabaseFileName);
        vfs_->SetFailingSyncs(db, scenario_.failing_sync_per_10k);
        vfs_->SetFailingSyncs(db + "-wal", scenario_.failing_sync_per_10k);
      }
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
  if (scenario_.disk_full_interval_us > 0) {
    Schedule(disk_full_rng_.Range(0, scenario_.disk_full_interval_us), [this] { DiskFullFault(); });
  }
  if (scenario_.read_spell_interval_us > 0) {
    Schedule(spell_rng_.Range(0, scenario_.read_spell_interval_us), [this] { ReadSpell(); });
  }
  events_.push(Event{options_.fault_phase_us, next_seq_++, closure_pool_.Put([this] { HealAll(); }),
                     EventKind::kClosure});
  // Half the seeds that damage a disk do it to a running node instead of at a power loss
  // (whichever comes first: one damaged node per run).
  if (vfs_ != nullptr && scenario_.corruption_per_mille > 0 && initial_conf_.voters.size() >= 3 &&
      damage_rng_.Chance(1, 2)) {
    // A node with a small page cache (flaky_read_nodes) reads its disk often, so the damage
    // is likely met while it runs; any other node likely meets it at its next start.
    const uint64_t id =
        1 + damage_rng_.Uniform(scenario_.flaky_read_nodes > 0 ? scenario_.flaky_read_nodes
                                                               : scenario_.voters);
    Schedule(damage_rng_.Range(500'000, options_.fault_phase_us),
             [this, id] { DamageRunningNode(id, &damage_rng_, /*attempts_left=*/20); });
  }
}

void Simulation::TimelineEvent(uint64_t kind, uint64_t a, uint64_t b, const std::string& text) {
  // Messages (3, 4, 5, 29), client steps (10, 11, 12) and disk syncs (13) have lanes and
  // lines of their own, or are too many to mark.
  static constexpr uint64_t kSkipped[] = {3, 4, 5, 10, 11, 12, 13, 29};
  for (uint64_t k : kSkipped) {
    if (kind == k) return;
  }
  // Partitions, healing and read-only spells (6, 7, 9, 33) concern the whole cluster: the
  // faults lane.
  const bool cluster_wide = kind == 6 || kind == 7 || kind == 9 || kind == 33;
  const uint64_t node = !cluster_wide && nodes_.count(a) > 0 ? a : 0;
  // A pause (14), a full disk (31) and a read-only spell (33) last until b: drawn as spans.
  options_.timeline->Event(now_, kind, node, text, kind == 14 || kind == 31 || kind == 33 ? b : 0);
}

void Simulation::TimelineRoles() {
  for (auto& [id, n] : nodes_) {
    const char* role = "down";
    uint64_t term = 0;
    if (n.node != nullptr) {
      role = raft::StateTypeName(n.node->raw().raft().state());
      term = n.node->raw().raft().term();
    }
    auto [it, first] = timeline_roles_.emplace(id, std::make_pair(role, term));
    if (!first && absl::string_view(it->second.first) == role && it->second.second == term) {
      continue;
    }
    it->second = {role, term};
    options_.timeline->Role(now_, id, role, term);
  }
}

void Simulation::FailRunaway() {
  if (result_.events > max_events_) {
    Fail("runaway", absl::StrCat("the run ran away: ", result_.events, " events by ", now_,
                                 "us of virtual time, over the bound of ", max_events_, " (",
                                 options_.max_events_per_node_tick, " per node per tick, ",
                                 nodes_.size(), " nodes, ", end_us_ / kTickUs, " ticks)"));
  } else {
    Fail("runaway", absl::StrCat("the run ran away: ", events_.size(), " events pending at ", now_,
                                 "us, over the bound of ", options_.max_pending_events));
  }
}

SimResult Simulation::Run() {
  SetUp();
  max_events_ = options_.max_events_per_node_tick * nodes_.size() * (end_us_ / kTickUs + 1);
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
      case EventKind::kDiskDone:
        DiskDone(disk_pool_.Take(e.arg));
        break;
    }
    if (vfs_ != nullptr) CrashStoppedNodes();
    if (scenario_.max_read_latency_us > 0 && touched_ != 0) ChargeReadLatency();
    if (scenario_.new_leader_crash_per_mille > 0) WatchLeaders();
    ++result_.events;
    if (result_.events > max_events_ || events_.size() > options_.max_pending_events) {
      FailRunaway();
      break;
    }
    if (!unchanged_) CheckAfterEvent();
    unchanged_ = false;
    if (options_.timeline != nullptr) TimelineRoles();
    if (options_.record_event_hashes) result_.event_hashes.push_back(hash_);
  }
  result_.virtual_us = now_;
  result_.fault_replay_mismatches = faults_.mismatches();
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr) AddNodeCounters(*n.node);
  }
  result_.stale_reads_unchecked += stale_reads_.size();
  if (!failed_) {
    checker_.set_full_log_checks(true);
    CheckAfterEvent();
  }
  if (!failed_) {
    LinearizabilityResult lin =
        CheckLinearizable(result_.history, options_.max_linearizability_steps_per_key);
    result_.linearizability_inconclusive = lin.inconclusive;
    if (!lin.linearizable) {
      result_.linearizability_failed_key = lin.failed_key;
      result_.linearizability_longest_order = lin.longest_order;
      result_.linearizability_unorderable_op = lin.unorderable_op;
      Fail("linearizability", "client history is not linearizable: " + lin.explanation);
    } else if (lin.inconclusive) {
      Fail("linearizability",
           absl::StrCat("the linearizability check could not finish: the search on key \"",
                        lin.inconclusive_key, "\" passed its bound of ",
                        options_.max_linearizability_steps_per_key,
                        " steps (neither proved nor refuted; not a pass)"));
    }
  }
  if (!failed_ && result_.ops_completed == 0 && options_.clients > 0) {
    Fail("liveness", "no client operation completed in the whole run");
  }
  if (vfs_ != nullptr) result_.sync_failures = vfs_->sync_failures();
  if (!failed_ && vfs_ != nullptr) CheckReadFaultsCaught();
  result_.trace_hash = hash_;
  return result_;
}

}  // namespace internal

using internal::Simulation;

SimResult RunSimulation(const SimOptions& options) {
  if (options.mutant != mutation::Mutant::kNone && !mutation::kBuildHasMutants) {
    SimResult refused;
    refused.ok = false;
    refused.checker = "setup";
    refused.failure =
        "a mutant was asked for, but this build carries none (//sim:simulate_mutants has them)";
    return refused;
  }
#ifdef RB_MUTANTS
  // The mutant is live for this run only.
  struct Activation {
    explicit Activation(mutation::Mutant m) { mutation::Activate(m); }
    ~Activation() { mutation::Activate(mutation::Mutant::kNone); }
  } activation(options.mutant);
#endif
  Simulation sim(options);
  return sim.Run();
}

std::string CheckDeterminism(SimOptions options) {
  options.record_event_hashes = true;
  options.trace = nullptr;
  options.timeline = nullptr;
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
