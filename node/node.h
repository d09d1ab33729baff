// Node: the logic between the pure Raft core and the outside world, shared by the
// production server and the simulator. It owns a RawNode and drives its Ready loop in the
// order durability requires:
//
//   1. send what promises nothing about this node's disk (a leader's appends and
//      heartbeats in a durable term), so followers write while the leader does;
//   2. persist the Ready (hard state, entries, snapshot) and apply its committed entries
//      to the state machine, with the applied index, in one atomic write through NodeStore
//      (one fsync), which may finish later (the simulator models disk latency; a crash
//      before it finishes loses it); per-client sessions suppress duplicates;
//   3. only then send the rest (a vote or an append acknowledgment promises that something
//      is on disk): from the store's writer thread the moment the write is durable, if it
//      has one (NodeStore::Persist's on_durable), a thread hand-off sooner than the
//      completion; and answer the clients whose writes were applied (or, for a write
//      whose result no state changes, committed: NodeOptions::answer_writes_at_commit);
//   4. serve linearizable reads whose read index has been applied.
//
// The node reads no clock and starts no thread: the driver calls Tick() at its tick
// interval and Pump() happens inside every input call. Malformed peer messages are dropped
// and counted.
#ifndef RAFTBADGER_NODE_NODE_H_
#define RAFTBADGER_NODE_NODE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/node_store.h"
#include "node/state_machine.h"
#include "proto/kv.pb.h"
#include "raft/raw_node.h"

namespace rb::node {

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends to m.to. Best effort: the network may lose it; Raft retries. Called from the
  // node's thread, and from the store's writer thread if it has one (a Ready's answers
  // leave the moment its write is durable: NodeStore::Persist's on_durable), never from
  // two at once.
  virtual void Send(raft::Message m) = 0;
  // True if the transport reports each MsgSnap's fate through Node::ReportSnapshot once the
  // receiver has (or failed to get) the whole snapshot. False: the node assumes success at
  // once, and a lost snapshot shows up as a rejected probe.
  virtual bool ReportsSnapshotStatus() const { return false; }
  // Tells node `to`, whose message this node dropped, that the state machine holds its
  // removal at that log index (etcd's peers answer a removed member with 410 Gone). Best
  // effort; by default nothing. The told node decides what it is worth
  // (Node::MissedItsRemovalAt). Called from the node's thread, perhaps while the writer
  // thread calls Send.
  virtual void TellRemoved(uint64_t /*to*/, uint64_t /*removed_at_index*/) {}
};

enum class ReadConsistency {
  kLinearizable,  // ReadIndex: confirmed by the leader, served once applied
  // The leader's lease: served at the leader's commit index with no round trip while a
  // quorum's recent acknowledgment guarantees that no other leader can exist (see
  // NodeOptions::clock_us). Anywhere else, or without a lease, as kLinearizable (a round
  // that also renews the lease). Linearizable as long as clocks drift apart by no more than
  // max_clock_drift_permille.
  kLease,
  // Whatever this node has applied (may be stale), but at least every write it answered
  // (NodeOptions::answer_writes_at_commit: once that write is applied here).
  kLocal,
};

struct NodeOptions {
  raft::Config raft;  // raft.storage is set by the node
  // Compact the log every this many applied entries (taking a snapshot, unless the store
  // can compact without one: NodeStore::CompactLog); 0: never.
  uint64_t snapshot_every_entries = 0;
  uint64_t snapshot_keep_entries = 100;
  // Bound on client requests waiting for an outcome; more are refused (ResourceExhausted).
  size_t max_pending_requests = 10000;
  // Distinguishes this instance of the node from its earlier runs (a restart): read
  // requests carry it, so an answer to a read of an earlier run, delayed across the
  // restart, never completes a read of this one. Different for each start: random in the
  // server, the restart count in the simulator.
  uint64_t incarnation = 0;

  // Sessions (see state_machine.h): the same policy on every member. log_clock_ms is the
  // wall clock a leader stamps on the commands it proposes (the log time sessions expire
  // by); unset: no stamp, and sessions expire only when there are too many.
  SessionPolicy sessions;
  std::function<uint64_t()> log_clock_ms;

  // Lease reads. clock_us is the driver's monotonic clock (virtual time in the simulator),
  // which must keep running while the process is stopped; tick_us is the nominal interval
  // between Tick() calls. A confirmation by a quorum of heartbeats sent at local time t
  // gives a lease until t + lease_us() on this node's clock: followers that acknowledged
  // ignore vote requests for an election timeout of their own ticks (raft CheckQuorum),
  // which is at least (election_tick - 1) ticks of real time. Without clock_us, tick_us or
  // raft.check_quorum there is no lease and kLease reads are linearizable reads.
  std::function<uint64_t()> clock_us;
  uint64_t tick_us = 0;
  // How much faster or slower than real time any node's clock may run.
  uint32_t max_clock_drift_permille = 100;

  // A write of a Ready that fails for want of space (ResourceExhausted: the store wrote
  // none of it) is tried again every this many ticks; meanwhile the node acknowledges
  // nothing and refuses new writes (see Node::disk_full()).
  uint32_t disk_full_retry_ticks = 10;

  // Linearizable reads that arrive while this node's last ReadIndex round for reads is
  // unanswered wait, and go together in the next round, started when that one's answer
  // comes back (as etcd's server does): fewer rounds under load, for at most one round's
  // wait. A round unanswered after read_round_patience_ticks() (lost with a message, or
  // with a leader) no longer holds the next one back.
  bool one_read_round_in_flight = false;

  // A leader answers a write whose result no state can change (a put without a session
  // or require_existing: its result is only its index) once its entry is committed, rather
  // than once applied. Committed is durable on a quorum and will be applied, and any read
  // that starts after the answer waits for the apply (its read index is at least the
  // commit). The answer no longer waits for the apply's transaction, nor, under load, for
  // the next Ready's write that the apply rides with.
  bool answer_writes_at_commit = false;
};

using WriteCallback = std::function<void(absl::StatusOr<raftbadger::kvpb::CommandResult>)>;
using ReadCallback = std::function<void(absl::StatusOr<std::optional<std::string>>)>;

// Observation points for the simulator's checkers.
struct NodeHooks {
  // Every message as it leaves the node (on the store's writer thread, if it has one, for
  // what the node sends once a write is durable).
  std::function<void(const raft::Message&)> on_send;
  // Every committed entry as it is applied.
  std::function<void(const raft::Entry&)> on_apply;
  // Every Ready as the node takes it from the core, before it is persisted.
  std::function<void(const raft::Ready&)> on_ready;
  // Every read the node hands to the core (ReadIndex), by its context, as it does.
  std::function<void(const std::string&)> on_read_index;
};

struct NodeCounters {
  uint64_t readies = 0;          // Ready batches handled: unchanged means the core's state is too
  uint64_t ready_entries = 0;    // entries those Readies appended to the log
  uint64_t writes_received = 0;  // Write calls
  uint64_t writes_proposed = 0;  // of those, appended to the leader's log
  // Of those, proposed together with others of the same batch (see BeginBatch).
  uint64_t writes_proposed_together = 0;
  uint64_t writes_committed = 0;  // answered with their result (applied, or at commit)
  // Of those, answered at commit (NodeOptions::answer_writes_at_commit).
  uint64_t writes_answered_at_commit = 0;
  uint64_t writes_failed = 0;      // answered with an error (refused, or outcome unknown)
  uint64_t entries_applied = 0;    // committed entries applied to the state machine
  uint64_t elections_started = 0;  // campaigns (a pre-vote round, or a vote without one)
  uint64_t elections_won = 0;
  uint64_t leader_changes = 0;  // times this node saw a new leader
  uint64_t dropped_peer_messages = 0;
  uint64_t duplicates_suppressed = 0;
  uint64_t malformed_entries = 0;
  uint64_t lease_reads = 0;     // kLease reads served under the lease
  uint64_t lease_renewals = 0;  // quorum confirmations that extended the lease
  // ReadIndex rounds handed to the core, and the linearizable reads that joined a round
  // another read of the same batch had started (see BeginBatch).
  uint64_t read_rounds = 0;
  uint64_t reads_joined = 0;
  // Linearizable reads that waited for the round in flight to end and went in the next
  // (NodeOptions::one_read_round_in_flight), and rounds given up on as lost.
  uint64_t reads_queued = 0;
  uint64_t read_rounds_overdue = 0;
  uint64_t disk_full_stalls = 0;     // writes of a Ready that found the disk full
  uint64_t disk_full_retries = 0;    // tries again of such a write
  uint64_t writes_refused_disk = 0;  // writes refused for want of disk space
  // Messages from nodes removed from the cluster (tombstoned), ignored: all but a leader's.
  uint64_t removed_member_messages = 0;
};

class Node {
 public:
  // The store must outlive the node.
  static absl::StatusOr<std::unique_ptr<Node>> Create(const NodeOptions& options, NodeStore* store,
                                                      Transport* transport, NodeHooks hooks = {});
  ~Node();

  // Inputs between BeginBatch and EndBatch only reach the core; the Ready they make is
  // handled once, at EndBatch: proposals that arrive together share one Ready, one write
  // and one fsync (group commit). Writes are held until EndBatch and proposed together as
  // one proposal, so each follower gets them in one append and answers once (one message
  // each way per batch, not per write). The batch's linearizable reads share one ReadIndex
  // round, started by the first of them: one heartbeat to each follower per batch, not
  // per read. The server brackets each round of its loop's work so. Nestable.
  void BeginBatch() { ++batch_depth_; }
  void EndBatch();

  void Tick();
  // A message from a peer (already decoded and validated by the transport).
  void Receive(raft::Message m);
  // Proposes a write on the leader; done is called once with its result when it is applied,
  // or with an error: not the leader (Unavailable, naming the leader if known: see
  // leader()), outcome unknown after a leadership change (Unavailable), too many pending
  // (ResourceExhausted), bad key (InvalidArgument).
  // An Unavailable error means the client should retry with the same seq.
  void Write(raftbadger::kvpb::Command cmd, WriteCallback done);
  void Read(std::string key, ReadConsistency consistency, ReadCallback done);
  // Calls ready once this node's state machine may be read at the given consistency (for
  // kLinearizable: once it applied the leader-confirmed read index), or with an error.
  // What ready reads from the store then is as fresh as a Read would be. ready runs on
  // the node's thread, from inside a node call: it must not call back into the node.
  // Returns a token for CancelRead, or 0 if ready was already called.
  uint64_t ReadBarrier(ReadConsistency consistency, std::function<void(absl::Status)> ready);
  // The caller gave up (its deadline passed): a read still waiting is answered with
  // DeadlineExceeded and forgotten; a write's callback likewise (the write itself may still
  // be applied: it is in the log). Unknown or finished requests are ignored.
  void CancelRead(uint64_t token);
  void CancelWrite(uint64_t client_id, uint64_t seq);
  void Campaign();
  // Shuts the node down: every waiting request fails with Unavailable, and the node does
  // nothing more. For a graceful stop (SIGTERM).
  void Close();
  // The snapshot sent to `to` arrived whole (or failed); see Transport.
  void ReportSnapshot(uint64_t to, bool failed);
  // Takes a snapshot if anything was applied since the last one (a timer's snapshot): now,
  // or once the persist in flight is done.
  absl::Status SnapshotIfBehind();
  void TransferLeader(uint64_t transferee);
  // Proposes a membership change (one at a time; see raft::RawNode::ProposeConfChange).
  absl::Status ProposeConfChange(const raft::ConfChange& cc);

  uint64_t id() const { return id_; }
  // The leader a client should go to, as far as this node knows; kNone if it knows none or
  // is not a member (a removed node's last leader may itself be long gone).
  uint64_t leader() const { return is_member() ? raw_->raft().lead() : raft::kNone; }
  // Whether this node is in its own configuration (voter or learner). A node outside it was
  // removed, or has not yet been added: nothing is replicated to it that it could serve.
  bool is_member() const { return raw_->raft().tracker().progress.count(id_) > 0; }
  // Whether a peer's word that this node was removed at removed_at_index (Transport::
  // TellRemoved) tells it something it cannot learn by itself: it is a member in its own
  // configuration, and either its log ends before that index, or the entries it holds
  // from there on are not known committed, the first removes this node too and none after
  // adds it again. A node that learned the entry was
  // committed applied its own removal, or holds the later entry that added it again (a
  // removed node that joins anew keeps its id, and a peer that lags behind that still
  // holds the old removal). Stopping is always safe; this only says when it is due.
  bool MissedItsRemovalAt(uint64_t removed_at_index) const;
  // A peer's word that this node was removed at removed_at_index, received. Weighed for an
  // election timeout of this node's ticks, and believed only if MissedItsRemovalAt holds
  // both now and then, and no leader of its term sent it an append, heartbeat or snapshot
  // meanwhile. A node added again since hears from its leader within that time: the word,
  // from a member that lagged behind the change that added it, is dropped. Once believed,
  // removal_believed_at() says where it was removed, and the host stops the node for good.
  // One word is weighed at a time: returns whether this one is now being weighed.
  bool HearRemoval(uint64_t removed_at_index);
  // 0 until a word of removal was believed (HearRemoval).
  uint64_t removal_believed_at() const { return removal_believed_at_; }
  bool is_leader() const { return raw_->raft().state() == raft::StateType::kLeader; }
  const raft::RawNode& raw() const { return *raw_; }
  const NodeCounters& counters() const { return counters_; }
  // The lease's length on this node's clock (0: no lease reads); see NodeOptions.
  uint64_t lease_us() const;
  // Whether a kLease read would be served now without a round trip.
  bool HasLease() const;
  // Non-OK once storage failed (a write, or a read by the core or for a client); the node
  // then does nothing more, and its driver should restart it from disk.
  const absl::Status& failure() const { return failure_; }
  // Non-OK (ResourceExhausted) while the disk is full: a Ready's write found no space,
  // and the node tries it again every disk_full_retry_ticks. Until one succeeds the node
  // sends nothing that promises durability, acknowledges nothing, refuses writes, and
  // serves only kLocal reads (linearizable ones cannot be confirmed: Unavailable). Unlike
  // failure(), this ends by itself once space is freed.
  const absl::Status& disk_full() const { return disk_full_; }
  // The driver's own measure of free space: while non-OK (ResourceExhausted), this node,
  // as leader, refuses new writes with it but goes on with everything else, so the space
  // left stays for the log's own bookkeeping (terms, votes, other leaders' entries).
  void SetLowDiskSpace(absl::Status why);
  const absl::Status& low_disk_space() const { return low_disk_space_; }
  // Why writes are refused for want of space: the full disk if there is one, else the low
  // space the driver reported; OK while there is room.
  const absl::Status& disk_space_problem() const {
    return disk_full_.ok() ? low_disk_space_ : disk_full_;
  }
  size_t pending_requests() const;
  size_t pending_writes() const { return pending_writes_.size(); }
  // The applied index of the latest snapshot this node took or installed (0: none yet).
  uint64_t last_snapshot_index() const { return last_snapshot_index_; }

 private:
  Node(const NodeOptions& options, NodeStore* store, Transport* transport, NodeHooks hooks);

  void Pump();
  void HandlePersisted(absl::Status status);
  void HandlePersistedBody(absl::Status status);
  // Whether m comes from a node that was removed (member_directory.h's tombstones) and is
  // not a member again, and is not a leader's message; such messages are counted and
  // dropped.
  bool FromRemovedMember(const raft::Message& m);
  // Hands ready_ to the store (again, after a full disk).
  void StartPersist();
  // Whether ready_'s held messages may go out from the store the moment its write is
  // durable (NodeStore::Persist's on_durable), rather than from HandlePersisted.
  bool MaySendWhenDurable() const;
  // Sends ready_'s held messages. Runs where the store's on_durable does.
  void SendWhenDurable();
  // Why this node cannot propose a write now (failed, not a member, not the leader, disk
  // full or low), or OK.
  absl::Status WriteRefusal() const;
  // Records done as the callback of the write (client_id, seq) until its outcome.
  void AwaitOutcome(std::pair<uint64_t, uint64_t> key, WriteCallback done);
  // Proposes the writes held since BeginBatch as one proposal (see BeginBatch).
  void ProposeHeldWrites();
  // Records that the write `key` was appended at index in this leader's term, to be
  // answered when that entry commits. REQUIRES: this node is the leader.
  void AwaitCommit(std::pair<uint64_t, uint64_t> key, uint64_t index);
  // Answers the writes awaiting ready_'s committed entries (before they are applied).
  void AnswerWritesAtCommit();
  // The error a write gets while the disk is full or low, or OK.
  absl::Status DiskSpaceError() const;
  // Sends the Ready's messages; with promise_free_only, only those that may leave before
  // the Ready is durable (PromiseFree), keeping the rest for after.
  void SendMessages(bool promise_free_only);
  bool PromiseFree(const raft::Message& m) const;
  // Applies the Ready's committed entries inside the persist's transaction (one fsync for
  // both). It may run on the store's writer thread, beside the node's: it touches only
  // the state machine and the fields below that nothing else touches during a persist
  // (applied_outcomes_, apply_skip_through_, conf_state_, conf_changes_), never the core.
  // FinishApply, back on the node's thread once that transaction is durable, hands the
  // configuration changes to the core and answers the clients.
  absl::Status ApplyCommittedIn(KvTxn* txn);
  void FinishApply();
  void ApplyConfChanges();
  void HandleReadStates();
  void ServeReads();
  void OnLeadershipChange();
  void CountRoleChange(raft::StateType state);
  // The store's value for key; a DataLoss error also stops the node.
  absl::StatusOr<std::optional<std::string>> GetFromStore(absl::string_view key);
  void Fail(absl::Status status);
  absl::Status NotAMemberError() const;
  std::string ReadContext(uint64_t token) const;
  void FailPending(const absl::Status& status);
  // After each Ready: takes a snapshot if one was asked for (by the driver, or by the core
  // for a follower the log cannot serve), else compacts the log every
  // snapshot_every_entries. REQUIRES: no persist in flight.
  void MaintainLog();
  // Snapshots the state machine and compacts the log if anything was applied since the
  // last snapshot; a failure stops the node. REQUIRES: no persist in flight.
  absl::Status TakeSnapshot();
  // Compacts the log without a snapshot if the store allows (NodeStore::CompactLog).
  absl::Status CompactLog();
  // The outcome s of a snapshot or compaction: a full disk postpones the next one, another
  // failure stops the node.
  absl::Status LogMaintenanceDone(absl::Status s, absl::string_view what);

  struct PendingRead {
    std::function<void(absl::Status)> ready;
    uint64_t token = 0;
    // For renewing the lease: the local time and term at which the request was made, and
    // whether this node led then.
    uint64_t issued_us = 0;
    uint64_t term = 0;
    bool leader = false;
  };
  void RenewLease(const PendingRead& read);
  // Issues a ReadIndex round whose only purpose is to extend the lease before it ends.
  void RenewLeaseSoon();
  // Files a linearizable read: it joins the batch's round, waits for the next round, or
  // starts one. Returns its token.
  uint64_t FileRoundRead(std::function<void(absl::Status)> ready);
  // Starts a round for client reads filed under ctx, begun in this term and role: the
  // batch's reads join it, and it is the round in flight (one_read_round_in_flight).
  void StartClientReadRound(std::string ctx, uint64_t term, bool leader);
  // Hands the core a ReadIndex round for the reads filed under ctx in reads_by_ctx_.
  void StartReadRound(std::string ctx);
  // Why no ReadIndex round can be answered now (a full disk, not a member, no leader).
  absl::Status ReadRoundRefusal() const;
  // Whether the round in flight (NodeOptions::one_read_round_in_flight) still holds the
  // next one back: unanswered, in the term and role it started in, and not overdue.
  bool ReadRoundOutstanding();
  // Starts the round the reads in next_read_round_ wait for, once none is outstanding.
  void StartNextReadRound();
  int read_round_patience_ticks() const;

  const uint64_t id_;
  NodeOptions options_;
  NodeStore* store_;
  Transport* transport_;
  NodeHooks hooks_;
  std::unique_ptr<raft::RawNode> raw_;
  raft::Ready ready_;
  raft::HardState durable_hard_state_;  // as of the last completed persist
  std::vector<std::pair<ApplyOutcome, uint64_t>> applied_outcomes_;  // with their index
  uint64_t apply_skip_through_ = 0;
  struct PendingConfChange {
    uint64_t index = 0;  // of its entry
    raft::ConfChange cc;
    absl::StatusOr<raft::ConfState> expected;  // what it does to conf_state_
  };
  std::vector<PendingConfChange> conf_changes_;  // applied, not yet told to the core
  bool persist_in_flight_ = false;
  bool snapshot_requested_ = false;  // by SnapshotIfBehind during a persist
  // The configuration before ApplyCommittedIn ran (it advances conf_state_ as it goes):
  // restored when the transaction found the disk full, so the retry starts from it.
  raft::ConfState conf_state_before_apply_;
  absl::Status disk_full_;       // see disk_full()
  absl::Status low_disk_space_;  // see SetLowDiskSpace()
  uint32_t disk_full_retry_in_ticks_ = 0;
  // A compaction that found the disk full is not tried again before this applied index,
  // and a snapshot a follower needs not before this many ticks.
  uint64_t snapshot_not_before_index_ = 0;
  uint32_t snapshot_retry_in_ticks_ = 0;
  bool pumping_ = false;
  int batch_depth_ = 0;
  absl::Status failure_;
  raft::ConfState conf_state_;
  uint64_t last_snapshot_index_ = 0;
  // The applied index at the last compaction of the log (with a snapshot or without).
  uint64_t last_compaction_index_ = 0;
  uint64_t last_known_leader_ = raft::kNone;
  raft::StateType last_state_ = raft::StateType::kFollower;
  uint64_t lease_term_ = 0;
  uint64_t lease_until_us_ = 0;  // on clock_us
  // The term in which this node sent TimeoutNow: its target campaigns ignoring leases
  // (whenever the message arrives), so no lease can be trusted for the rest of that term.
  uint64_t lease_void_term_ = 0;
  bool lease_renewal_in_flight_ = false;
  NodeCounters counters_;

  std::set<uint64_t> removed_senders_logged_;
  uint64_t removal_heard_at_ = 0;  // a word of removal being weighed (HearRemoval); 0: none
  int removal_wait_ticks_ = 0;     // ticks left before it is weighed again
  uint64_t removal_believed_at_ = 0;
  // id -> (applied index when asked, the index of its removal or 0): see FromRemovedMember.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> removed_cache_;
  std::map<std::pair<uint64_t, uint64_t>, WriteCallback> pending_writes_;
  // Writes of the open batch, not yet proposed (their callbacks are in pending_writes_
  // already): (client_id, seq) and the encoded command. Bounded by max_pending_requests.
  struct HeldWrite {
    std::pair<uint64_t, uint64_t> key;
    raft::Payload data;
    bool at_commit = false;  // ResultKnownBeforeApply, with answer_writes_at_commit on
  };
  std::vector<HeldWrite> held_writes_;
  // Writes to answer at commit: where this leader appended them, oldest first. Records are
  // dropped once their index commits, when the role is lost, or when the log they name is
  // truncated; bounded by max_pending_requests (past it, a write is answered once applied).
  struct AwaitingCommit {
    uint64_t index = 0;
    uint64_t term = 0;
    std::pair<uint64_t, uint64_t> key;
  };
  std::deque<AwaitingCommit> awaiting_commit_;
  // The highest index of a write answered at commit: stale reads wait for its apply.
  uint64_t answered_at_commit_index_ = 0;
  uint64_t next_read_id_ = 0;
  // Waiting for a read index, by the context of their round: a round's first read names
  // it, and the reads of the same batch join it (see BeginBatch).
  std::multimap<std::string, PendingRead> reads_by_ctx_;
  // The round this batch's linearizable reads join, and the term and role it began in;
  // empty outside a batch or before its first such read.
  std::string batch_read_ctx_;
  uint64_t batch_read_term_ = 0;
  bool batch_read_leader_ = false;
  std::multimap<uint64_t, PendingRead> reads_by_index_;  // waiting to be applied
  // NodeOptions::one_read_round_in_flight: the last round started for client reads while
  // unanswered (ctx empty: none), and the reads waiting to go in the next one. Those are
  // bounded by max_pending_requests.
  struct ReadRound {
    std::string ctx;
    uint64_t term = 0;
    bool leader = false;
    int patience_ticks = 0;  // ticks left before it no longer holds the next one back
  };
  ReadRound round_in_flight_;
  std::vector<PendingRead> next_read_round_;
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_NODE_H_
