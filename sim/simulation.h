// A deterministic simulation of a whole RaftBadger cluster in virtual time.
//
// One seed decides everything: the cluster size and the fault mix (swarm testing: some
// seeds are calm, others storms), every message delay, drop and duplicate, every crash,
// partition and disk latency, each node's election jitter and the clients' workload. The
// nodes run the production node logic (node/Node) over the pure core with either the
// in-memory storage model (node/MemoryNodeStore), whose writes become durable only after a
// simulated disk latency, so a crash loses unsynced writes; or the real SQLite store on a
// simulated disk that loses, keeps or tears unsynced writes at a power loss.
//
// Checked while it runs (a violation stops the run):
//   - the core's invariants after every event (raft/invariants.h): one leader per term, log
//     matching, leader completeness, commit never backward, ...; and whenever a commit or a
//     log's last term moves, commit safety: no voter lacking the newest committed entry
//     could win an election;
//   - no two nodes apply different commands at one index; no node applies an index twice;
//   - a vote, and an append acknowledgment, leave a node only once durable;
//   - each node's durable term and commit never go backward, across restarts too.
// Checked at the end: the client history is linearizable (per key, WGL), and after the
// faults stop and the cluster is healed, a leader is elected and every request completes
// within a stated bound.
#ifndef RAFTBADGER_SIM_SIMULATION_H_
#define RAFTBADGER_SIM_SIMULATION_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "base/mutation.h"
#include "node/node.h"
#include "sim/fault_step.h"
#include "sim/history.h"

namespace rb::sim {

class Timeline;

struct SimOptions {
  uint64_t seed = 1;
  // Voters; 0 draws 1 to 7 from the seed.
  int voters = 0;
  // Bytes of entries per append message (1: one entry each); 0 draws 1, 300 or 64 KiB.
  uint64_t max_msg_bytes = 0;
  // How a dimension of the scenario is chosen: never, by each seed's draw, or always.
  enum class Draw { kOff, kDrawn, kAlways };
  // Leader-targeted faults: some new leaders have their first appends cut, others crash as
  // soon as they commit (the schedules behind the Figure 8 anomaly). Part of `crashes`;
  // `always` gives them to every seed instead of about half.
  using LeaderFaults = Draw;
  LeaderFaults leader_faults = LeaderFaults::kDrawn;
  // Leaders let a new commit index wait for the next append or heartbeat instead of
  // broadcasting it (raft::Config::skip_broadcast_commit, as the server runs).
  Draw skip_broadcast_commit = Draw::kDrawn;
  // Client writes and reads reaching a node within a window (up to 2 ms) are one batch
  // there: the writes proposed together, the linearizable reads on one ReadIndex round, as in
  // the server's loop (Scenario::client_batch_us). Drawn by default, like the two below,
  // since the server runs this way: each seed draws it on its own, so both ways stay proven.
  Draw batch_client_requests = Draw::kDrawn;
  // A member that tells a removed node it was removed (node::Transport::TellRemoved) is
  // heard across the network, and a node that believes it stops for good, as the server's
  // does (Scenario::deliver_removals).
  Draw deliver_removals = Draw::kDrawn;
  // Linearizable reads that reach a node while its last round for reads is out wait for
  // the next (node::NodeOptions::one_read_round_in_flight, as the server runs).
  Draw one_read_round_in_flight = Draw::kDrawn;
  // Leaders answer a plain put (no session) once it is committed, before it is applied
  // (node::NodeOptions::answer_writes_at_commit, as the server runs).
  Draw answer_writes_at_commit = Draw::kDrawn;
  // A third of the clients' values are large: over the SQLite store's inline limit
  // (storage::kMaxInlineValueBytes), up to about 4 KiB, so that they live in its table of
  // large values (Scenario::large_values). Off by default: the seeds under `bazel test` and
  // the mutation table were chosen without it; sim_test runs SQLite seeds with it always.
  Draw large_values = Draw::kOff;
  // Faults happen during the first phase; then everything is healed for the second.
  uint64_t fault_phase_us = 8'000'000;
  uint64_t quiet_phase_us = 9'000'000;
  // Fault classes (each seed draws rates for the enabled ones).
  bool network_faults = true;  // delay spread, drops, duplicates, clogged links
  bool partitions = true;
  bool crashes = true;             // kill -9 and restart from disk
  bool pauses = true;              // stopped processes (GC pause, SIGSTOP)
  bool membership_changes = true;  // add/promote/remove/replace members, transfer leadership
  bool clock_drift = true;         // each node's tick runs up to 10% fast or slow
  bool disk_latency = true;
  int clients = 3;
  // Added to each client's pause between one operation and the next: fewer operations
  // over the same run (shrinking raises it). 0: clients pause up to 20 ms.
  uint64_t client_think_us = 0;
  // Where nodes keep their state: the in-memory model of the storage contract (fast), or
  // the real SQLite store (the production code path) on a simulated disk (sim/sim_disk.h)
  // through a SQLite VFS (sim/sim_vfs.h).
  enum class Storage { kMemory, kSqlite };
  Storage storage = Storage::kMemory;
  // SQLite back end only: crashes are also power losses (unsynced writes lost or torn),
  // some striking inside a commit.
  bool power_loss = true;
  // SQLite back end only: a power loss may also damage a sector of the node's database
  // (at most one node per run, in clusters of 3 or more voters). The node must refuse to
  // start over it; the cluster goes on without it.
  bool disk_corruption = true;
  // SQLite back end only: on a minority of nodes, page reads of the database now and then
  // return a flipped bit (the disk itself is fine). The page checksums must catch every
  // one, and a second read repair it.
  bool read_faults = true;
  // SQLite back end only: on some nodes an fsync now and then fails, after which the disk
  // holds only part of what was written since the last good one (Linux after a writeback
  // error). The store must fail the write and the node stop; nothing may be acknowledged
  // on the strength of the failed fsync.
  bool sync_failures = true;
  // Now and then one node's disk fills up for a while (the leader half the time): writes
  // that need more room fail with SQLITE_FULL (ResourceExhausted from the memory model).
  // The node must keep its state consistent, acknowledge nothing it could not write, and
  // go on once space is back.
  bool disk_full = true;
  // A readable event log, if set.
  std::ostream* trace = nullptr;
  // Records the run for its timeline page (sim/timeline.h), if set.
  Timeline* timeline = nullptr;
  // Keep every event's running hash, to locate where two runs diverge.
  bool record_event_hashes = false;
  // A run that goes past either bound has run away (a livelock, say) and fails, naming
  // the bound. Events: this many per node per tick of virtual time (runs use about 20);
  // pending: events scheduled at once.
  uint64_t max_events_per_node_tick = 1000;
  uint64_t max_pending_events = 2'000'000;
  // The linearizability search's bound per key; a key it cannot settle within it fails
  // the run (an unfinished check is not a pass).
  uint64_t max_linearizability_steps_per_key = 20'000'000;
  // The scenario as ScenarioText lines (sim/schedule.h); empty: drawn from the seed.
  std::string scenario;
  // With replay_faults, the nemesis makes the choices these steps recorded (a run's
  // SimResult::faults, or a schedule file's) instead of drawing them, and skips the
  // dropped ones (sim/fault_step.h). A chain that runs out of steps goes on drawing.
  std::vector<FaultStep> faults;
  bool replay_faults = false;
  // The mutant (a deliberate bug, base/mutation.h) to run with; kNone for none. Only a
  // build with the mutants compiled in (//sim:mutants, //sim:simulate_mutants) has any:
  // elsewhere a run with one fails at once, saying so.
  mutation::Mutant mutant = mutation::Mutant::kNone;
};

struct SimResult {
  bool ok = true;
  std::string failure;      // the first violation, if any
  std::string checker;      // which check found it (a short name: "linearizability", ...)
  uint64_t failure_us = 0;  // virtual time of the violation
  // A non-linearizable history: the key, the longest legal order of its operations found
  // (history indexes) and the operation that cannot follow it.
  std::string linearizability_failed_key;
  std::vector<size_t> linearizability_longest_order;
  std::optional<size_t> linearizability_unorderable_op;
  std::string scenario;  // what the seed drew (cluster size, fault rates)
  // The nemesis's steps as it made (or replayed) them, in the order they ran.
  std::vector<FaultStep> faults;
  // Replayed choices that no longer fit the code (see FaultRecorder): 0 for an exact replay.
  uint64_t fault_replay_mismatches = 0;
  std::string scenario_text;  // the same as name=value lines (for a schedule file)
  uint64_t trace_hash = 0;    // over every event of the run
  uint64_t events = 0;
  uint64_t messages_delivered = 0;
  uint64_t virtual_us = 0;
  uint64_t ops_completed = 0;
  uint64_t faults_injected = 0;  // the nemesis's scheduled faults (crashes, partitions, ...)
  uint64_t ops_timed_out = 0;
  uint64_t power_losses = 0;
  uint64_t torn_writes = 0;
  uint64_t corrupted_disks = 0;        // damaged by the simulator
  uint64_t damaged_wal_frames = 0;     // of which in a WAL frame (else a database page)
  uint64_t damaged_while_running = 0;  // of which while the node ran
  uint64_t storage_failures = 0;       // nodes that stopped on a storage error
  uint64_t refused_starts = 0;         // nodes that would not start over a damaged disk
  uint64_t replacements_proposed = 0;  // operator changes replacing such a node
  uint64_t members_replaced = 0;       // and replacements the leader's config shows done
  uint64_t read_faults = 0;            // bits flipped in page reads
  uint64_t sync_failures = 0;          // fsyncs that failed
  uint64_t disk_full_episodes = 0;     // times a node's disk filled up
  uint64_t disk_full_stalls = 0;       // Readies that found the disk full (all nodes)
  // Client writes proposed together with others of a batch (all nodes; see
  // Scenario::client_batch_us and StrandWrites).
  uint64_t writes_proposed_together = 0;
  // Plain puts answered once committed, before their apply (all nodes; see
  // Scenario::answer_writes_at_commit).
  uint64_t writes_answered_at_commit = 0;
  // Linearizable gets that joined a ReadIndex round another get of the same batch started
  // (all nodes; see Scenario::client_batch_us).
  uint64_t reads_joined = 0;
  // Linearizable gets that waited for the round in flight to end, and rounds given up on
  // as lost (all nodes; see Scenario::one_read_round_in_flight).
  uint64_t reads_queued = 0;
  uint64_t read_rounds_overdue = 0;
  uint64_t read_faults_repaired = 0;   // page reads that read correctly again
  uint64_t lease_reads = 0;            // gets served under a leader's lease (no round trip)
  uint64_t stale_reads_checked = 0;    // stale gets compared with the reference model
  uint64_t stale_reads_unchecked = 0;  // the model never reached the index they read at
  uint64_t sessions_registered = 0;
  uint64_t sessions_expired = 0;        // operations abandoned because their session expired
  uint64_t forwarded_writes = 0;        // client writes a follower forwarded to its leader
  uint64_t state_digests_compared = 0;  // state machines compared at equal applied indexes
  // Nodes told they were removed (node::Transport::TellRemoved; checked, not delivered),
  // those compared with the committed log (Simulation::OnTellRemoved), and those the told
  // node would believe (memory back end only).
  uint64_t removals_told = 0;
  uint64_t removals_told_checked = 0;
  uint64_t removals_believed = 0;
  // With deliver_removals: nodes that stopped on being told, and of those, members added
  // again meanwhile (the operator then replaces them).
  uint64_t removed_nodes_stopped = 0;
  uint64_t members_stopped_removed = 0;
  bool linearizability_inconclusive = false;
  std::vector<uint64_t> event_hashes;  // if record_event_hashes
  std::vector<Operation> history;
};

SimResult RunSimulation(const SimOptions& options);

// Runs the seed twice and compares the runs event by event. Returns an empty string if
// they are identical, else a description of the first divergent event.
std::string CheckDeterminism(SimOptions options);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_SIMULATION_H_
