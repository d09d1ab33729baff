#include "node/node.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "base/mutation.h"
#include "base/status_macros.h"
#include "node/member_directory.h"
#include "node/state_machine.h"
#include "raft/codec.h"
#include "raft/confchange.h"

namespace rb::node {

namespace kvpb = raftbadger::kvpb;

// How much of its unconfirmed log tail a node reads to judge a peer's word that it was
// removed (Node::MissedItsRemovalAt).
constexpr uint64_t kMaxRemovalScanBytes = 8 << 20;

Node::Node(const NodeOptions& options, NodeStore* store, Transport* transport, NodeHooks hooks)
    : id_(options.raft.id),
      options_(options),
      store_(store),
      transport_(transport),
      hooks_(std::move(hooks)) {}

Node::~Node() = default;

absl::StatusOr<std::unique_ptr<Node>> Node::Create(const NodeOptions& options, NodeStore* store,
                                                   Transport* transport, NodeHooks hooks) {
  std::unique_ptr<Node> node(new Node(options, store, transport, std::move(hooks)));
  raft::Config config = options.raft;
  config.storage = &store->raft_storage();
  // Entries up to the store's applied index are already in the state machine.
  config.applied = store->applied_index();
  ASSIGN_OR_RETURN(node->raw_, raft::RawNode::Create(config));
  ASSIGN_OR_RETURN(raft::InitialState init, store->raft_storage().GetInitialState());
  node->conf_state_ = init.conf_state;
  node->durable_hard_state_ = init.hard_state;
  node->last_snapshot_index_ = store->snapshot_index();
  ASSIGN_OR_RETURN(uint64_t first, store->raft_storage().FirstIndex());
  node->last_compaction_index_ = std::max(node->last_snapshot_index_, first - 1);
  return node;
}

size_t Node::pending_requests() const {
  return pending_writes_.size() + reads_by_ctx_.size() + reads_by_index_.size() +
         next_read_round_.size();
}

void Node::Tick() {
  if (!failure_.ok()) return;
  raw_->Tick();
  // 0 while a retry is being written.
  if (!disk_full_.ok() && disk_full_retry_in_ticks_ > 0 && --disk_full_retry_in_ticks_ == 0) {
    ++counters_.disk_full_retries;
    StartPersist();
  }
  if (snapshot_retry_in_ticks_ > 0) --snapshot_retry_in_ticks_;
  if (round_in_flight_.patience_ticks > 0) --round_in_flight_.patience_ticks;
  StartNextReadRound();
  if (removal_heard_at_ != 0 && --removal_wait_ticks_ <= 0) {
    if (MissedItsRemovalAt(removal_heard_at_)) {
      removal_believed_at_ = removal_heard_at_;
      RB_LOG(WARNING) << "node " << id_ << ": still missing its removal at log index "
                      << removal_believed_at_ << " an election timeout after being told of it";
    }
    removal_heard_at_ = 0;
  }
  Pump();
}

bool Node::HearRemoval(uint64_t removed_at_index) {
  if (removal_believed_at_ != 0 || removal_heard_at_ != 0) return false;
  if (!MissedItsRemovalAt(removed_at_index)) return false;
  removal_heard_at_ = removed_at_index;
  removal_wait_ticks_ = std::max(options_.raft.election_tick, 1);
  return true;
}

void Node::SetLowDiskSpace(absl::Status why) {
  RB_CHECK(why.ok() || why.code() == absl::StatusCode::kResourceExhausted,
           "low disk space must be ResourceExhausted, not ", why.ToString());
  low_disk_space_ = std::move(why);
}

absl::Status Node::DiskSpaceError() const {
  const absl::Status& why = disk_space_problem();
  if (why.ok()) return why;
  return absl::ResourceExhaustedError(
      absl::StrCat("node ", id_, " refuses writes: its disk is full (", why.message(),
                   "); writes resume once space is freed"));
}

void Node::Receive(raft::Message m) {
  if (!failure_.ok()) return;
  if (m.to != id_) {
    ++counters_.dropped_peer_messages;
    return;
  }
  if (FromRemovedMember(m)) return;
  if (removal_heard_at_ != 0 && m.term >= raw_->raft().term() &&
      (m.type == raft::MessageType::kApp || m.type == raft::MessageType::kHeartbeat ||
       m.type == raft::MessageType::kSnap)) {
    // A leader of its term replicates to it: it is a member of that leader's configuration
    // (added again, perhaps, by a change it has yet to receive). If it was removed after
    // all, it campaigns again once that leader is gone, and is told again.
    removal_heard_at_ = 0;
  }
  if (!raw_->Step(std::move(m)).ok()) ++counters_.dropped_peer_messages;
  Pump();
}

bool Node::FromRemovedMember(const raft::Message& m) {
  // A leader's messages pass, even from an id this node saw removed: this node may lag
  // behind that id's addition again (the same name joining anew), and refusing its leader
  // would leave it behind for good. A removed node's own old-term appends the core refuses.
  if (m.type == raft::MessageType::kApp || m.type == raft::MessageType::kHeartbeat ||
      m.type == raft::MessageType::kSnap || m.type == raft::MessageType::kTimeoutNow) {
    return false;
  }
  if (raw_->raft().tracker().progress.count(m.from) > 0) return false;
  // Asked of the state machine once per id and applied index: a removed node that keeps
  // sending costs no read per message.
  const uint64_t applied = store_->applied_index();
  auto cached = removed_cache_.find(m.from);
  if (cached == removed_cache_.end() || cached->second.first != applied) {
    const absl::StatusOr<uint64_t> removed_at = RemovedAt(*store_, m.from);
    if (!removed_at.ok()) return false;                       // unknown: the core decides as ever
    if (removed_cache_.size() >= 64) removed_cache_.clear();  // bounded: a few ids at most
    cached = removed_cache_.insert_or_assign(m.from, std::make_pair(applied, *removed_at)).first;
  }
  const uint64_t removed_at = cached->second.second;
  if (removed_at == 0) return false;
  // A node that missed its own removal may never learn of it otherwise: the leader stopped
  // replicating to it once the removal was applied, perhaps before it had the entry (a
  // node that lagged) or knew it committed. Told either way; it judges what the word is
  // worth (Node::MissedItsRemovalAt).
  transport_->TellRemoved(m.from, removed_at);
  // A campaign whose log holds all of ours passes: it knows every change we know, perhaps
  // also the id's addition again, which this node has yet to apply. Refusing it could
  // leave the cluster without a leader for good, if that candidate needs our vote (found
  // by the simulator: seed 9200020896 --voters=2, a joint configuration whose other side
  // only the re-added node could lead). A removed node's own log stops growing at its
  // removal, so its campaigns soon fail this test.
  if ((m.type == raft::MessageType::kVote || m.type == raft::MessageType::kPreVote) &&
      raw_->raft().log().IsUpToDate(m.index, m.log_term)) {
    return false;
  }
  // Its campaigns (with ever higher terms) and its answers are what could disturb the
  // members.
  ++counters_.removed_member_messages;
  // Bounded: a few ids are ever removed; past the bound they are only counted.
  if (removed_senders_logged_.size() < 64 && removed_senders_logged_.insert(m.from).second) {
    RB_LOG(WARNING) << "node " << id_ << ": ignoring messages from node " << m.from
                    << ", which was removed from the cluster (logged once)";
  }
  return true;
}

bool Node::MissedItsRemovalAt(uint64_t removed_at_index) const {
  if (!failure_.ok() || !is_member()) return false;
  const raft::RaftLog& log = raw_->raft().log();
  // A committed entry there it has applied: it stopped, or a later entry added it again.
  if (removed_at_index <= log.committed()) return false;
  if (log.LastIndex() < removed_at_index) return true;
  // It holds entries from there on, but never learned they were committed (the leader
  // stopped replicating to it first): believed if its own entry there removes it too and
  // none after adds it again. Bounded: a tail too long to read is not believed.
  std::vector<raft::Entry> tail;
  if (!log.EntriesFrom(removed_at_index, kMaxRemovalScanBytes, &tail).ok() || tail.empty() ||
      tail.back().index != log.LastIndex()) {
    return false;
  }
  bool removed = false;
  for (const raft::Entry& e : tail) {
    if (e.type != raft::EntryType::kConfChange) continue;
    const absl::StatusOr<raft::ConfChange> cc = raft::DecodeConfChange(e.data);
    if (!cc.ok()) return false;
    for (const raft::ConfChangeSingle& c : cc->changes) {
      if (c.node_id != id_) continue;
      if (e.index == removed_at_index && c.type == raft::ConfChangeType::kRemoveNode) {
        removed = true;
      } else if (c.type != raft::ConfChangeType::kRemoveNode) {
        return false;  // added again after
      }
    }
  }
  return removed;
}

absl::Status Node::NotAMemberError() const {
  return absl::UnavailableError(
      absl::StrCat("node ", id_,
                   " is not a member of the cluster (removed, or not yet added); retry elsewhere"));
}

void Node::Campaign() {
  if (!failure_.ok()) return;
  raw_->Campaign();
  Pump();
}

absl::Status Node::ProposeConfChange(const raft::ConfChange& cc) {
  if (!failure_.ok()) return absl::UnavailableError(absl::StrCat("node ", id_, " has failed"));
  // A change would wait in memory for the disk with nothing to say so.
  if (!disk_full_.ok()) return DiskSpaceError();
  absl::Status s = raw_->ProposeConfChange(cc);
  Pump();
  return s;
}

void Node::TransferLeader(uint64_t transferee) {
  if (!failure_.ok()) return;
  raw_->TransferLeader(transferee);
  Pump();
}

void Node::EndBatch() {
  RB_CHECK(batch_depth_ > 0, "EndBatch without BeginBatch");
  if (--batch_depth_ > 0) return;
  ProposeHeldWrites();
  if (!RB_MUTANT(kReadJoinsSentRound)) batch_read_ctx_.clear();
  Pump();
}

void Node::Pump() {
  // Re-entrancy: a store that persists synchronously calls HandlePersisted from inside.
  if (pumping_ || batch_depth_ > 0) return;
  pumping_ = true;
  // Bounded: each round consumes one Ready; more work comes back through later inputs.
  if (failure_.ok() && !raw_->storage_failure().ok()) Fail(raw_->storage_failure());
  for (int round = 0; round < 64; ++round) {
    if (!failure_.ok() || persist_in_flight_ || !raw_->HasReady()) break;
    raw_->GetReady(&ready_);
    if (!raw_->storage_failure().ok()) {
      Fail(raw_->storage_failure());
      break;
    }
    ++counters_.readies;
    counters_.ready_entries += ready_.entries.size();
    if (ready_.soft_state) CountRoleChange(ready_.soft_state->state);
    if (hooks_.on_ready) hooks_.on_ready(ready_);
    if (RB_MUTANT(kSkipVotePersistence) && ready_.hard_state) {
      ready_.hard_state->vote = raft::kNone;
    }
    if (RB_MUTANT(kSendBeforePersist)) {
      SendMessages(/*promise_free_only=*/false);
    } else {
      // The leader's appends go out while its own write is in flight (Raft thesis
      // 10.2.1): followers write in parallel, and the core counts the leader's copy only
      // once it is durable.
      SendMessages(/*promise_free_only=*/true);
    }
    AnswerWritesAtCommit();
    if (ready_.snapshot != nullptr) conf_state_ = ready_.snapshot->metadata.conf_state;
    persist_in_flight_ = true;
    StartPersist();
  }
  pumping_ = false;
}

void Node::StartPersist() {
  RB_CHECK(persist_in_flight_, "StartPersist without a Ready being handled");
  conf_state_before_apply_ = conf_state_;
  ApplyFn apply;
  if (!ready_.committed_entries.empty()) {
    apply = [this](KvTxn* txn) { return ApplyCommittedIn(txn); };
  }
  std::function<void()> on_durable;
  if (MaySendWhenDurable()) on_durable = [this] { SendWhenDurable(); };
  store_->Persist(ready_, std::move(apply), std::move(on_durable),
                  [this](absl::Status s) { HandlePersisted(std::move(s)); });
}

bool Node::MaySendWhenDurable() const {
  // Only messages whose sending changes nothing in the node: a snapshot's report and a
  // transfer's hold on the lease belong to the node's thread. All or none, so that the
  // messages keep their order.
  if (ready_.messages.empty()) return false;
  for (const raft::Message& m : ready_.messages) {
    if (m.type == raft::MessageType::kSnap || m.type == raft::MessageType::kTimeoutNow) {
      return false;
    }
  }
  return true;
}

void Node::SendWhenDurable() {
  // Perhaps on the store's writer thread: it touches only the transport and ready_'s
  // messages, which the node's thread leaves alone until the persist completes.
  for (raft::Message& m : ready_.messages) {
    if (hooks_.on_send) hooks_.on_send(m);
    transport_->Send(std::move(m));
  }
  ready_.messages.clear();
}

void Node::HandlePersisted(absl::Status status) {
  RB_CHECK(persist_in_flight_, "persist completion without a persist in flight");
  // Until Advance, this Ready is still being handled: callbacks made below (a client's
  // answer) may issue the next request at once, and its Pump must not start another
  // round. Every exit pumps once, unless an outer Pump (a synchronous store) will.
  const bool outer_pump = pumping_;
  pumping_ = true;
  HandlePersistedBody(std::move(status));
  pumping_ = outer_pump;
  if (!pumping_) Pump();
}

void Node::HandlePersistedBody(absl::Status status) {
  if (status.code() == absl::StatusCode::kResourceExhausted) {
    // No room, and nothing of the write took effect (the store's contract): nothing was
    // promised either. Keep this Ready, its messages held back, and try it again later;
    // the persist stays in flight meanwhile, so no later Ready overtakes it.
    if (disk_full_.ok()) {
      ++counters_.disk_full_stalls;
      RB_LOG(WARNING) << "node " << id_
                      << ": disk full, writing nothing until space is freed: " << status;
    }
    disk_full_ = std::move(status);
    conf_state_ = conf_state_before_apply_;
    disk_full_retry_in_ticks_ = std::max<uint32_t>(options_.disk_full_retry_ticks, 1);
    return;
  }
  persist_in_flight_ = false;
  if (!status.ok()) {
    // Durability is no longer certain: stop rather than acknowledge anything.
    Fail(status);
    return;
  }
  if (!disk_full_.ok()) {
    RB_LOG(INFO) << "node " << id_ << ": the disk has room again after "
                 << counters_.disk_full_retries << " retries in all";
    disk_full_ = absl::OkStatus();
  }
  if (ready_.hard_state) durable_hard_state_ = *ready_.hard_state;
  SendMessages(/*promise_free_only=*/false);
  FinishApply();
  HandleReadStates();
  if (ready_.soft_state) OnLeadershipChange();
  raw_->Advance();
  ServeReads();
  StartNextReadRound();
  MaintainLog();
}

void Node::MaintainLog() {
  const uint64_t applied = store_->applied_index();
  // After a full disk, a compaction waits for more entries; a snapshot a follower needs
  // waits for time instead: the commit index may not move until that follower has it (a
  // joint configuration that needs its vote).
  const bool room = applied >= snapshot_not_before_index_;
  if (snapshot_requested_ || (store_->snapshot_wanted() && snapshot_retry_in_ticks_ == 0)) {
    snapshot_requested_ = false;
    TakeSnapshot().IgnoreError();  // a failure stops the node
  } else if (room && options_.snapshot_every_entries > 0 &&
             applied >= last_compaction_index_ + options_.snapshot_every_entries) {
    CompactLog().IgnoreError();  // likewise
  }
}

bool Node::PromiseFree(const raft::Message& m) const {
  // A leader's appends, heartbeats and snapshots promise nothing about this node's disk,
  // as long as the term they carry is durable: a leader whose term could be lost in a
  // crash might lead that term again with a different log.
  if (raw_->raft().state() != raft::StateType::kLeader) return false;
  if (m.term != durable_hard_state_.term || durable_hard_state_.vote != id_) return false;
  if (ready_.hard_state && (ready_.hard_state->term != durable_hard_state_.term ||
                            ready_.hard_state->vote != durable_hard_state_.vote)) {
    return false;
  }
  return m.type == raft::MessageType::kApp || m.type == raft::MessageType::kHeartbeat ||
         m.type == raft::MessageType::kSnap;
}

void Node::SendMessages(bool promise_free_only) {
  std::vector<uint64_t> snapshots_sent;
  std::vector<raft::Message> kept;
  for (raft::Message& m : ready_.messages) {
    if (promise_free_only && !PromiseFree(m)) {
      kept.push_back(std::move(m));
      continue;
    }
    if (hooks_.on_send) hooks_.on_send(m);
    if (m.type == raft::MessageType::kSnap) snapshots_sent.push_back(m.to);
    if (m.type == raft::MessageType::kTimeoutNow && !RB_MUTANT(kLeaseDuringTransfer)) {
      lease_void_term_ = m.term;
      lease_until_us_ = 0;
    }
    transport_->Send(std::move(m));
  }
  ready_.messages = std::move(kept);
  // The leader keeps a follower paused until it hears how a snapshot went. The transport
  // is fire-and-forget, so report success at once: the follower goes back to probing, and
  // if the snapshot was lost the probe is rejected and the leader sends another.
  if (transport_->ReportsSnapshotStatus()) return;
  for (uint64_t to : snapshots_sent) raw_->ReportSnapshot(to, /*failed=*/false);
}

void Node::Close() {
  if (!failure_.ok()) return;
  failure_ = absl::UnavailableError(absl::StrCat("node ", id_, " is shutting down"));
  FailPending(failure_);
}

void Node::ReportSnapshot(uint64_t to, bool failed) {
  if (!failure_.ok()) return;
  raw_->ReportSnapshot(to, failed);
  Pump();
}

absl::Status Node::SnapshotIfBehind() {
  if (!failure_.ok()) return failure_;
  if (persist_in_flight_) {
    // The store is being written (perhaps on another thread): once that write is done.
    snapshot_requested_ = true;
    return absl::OkStatus();
  }
  return TakeSnapshot();
}

absl::Status Node::TakeSnapshot() {
  if (store_->applied_index() <= last_snapshot_index_) return absl::OkStatus();
  absl::Status s =
      LogMaintenanceDone(store_->SnapshotAndCompact(options_.snapshot_keep_entries), "a snapshot");
  if (s.ok()) last_snapshot_index_ = store_->applied_index();
  return s;
}

absl::Status Node::CompactLog() {
  return LogMaintenanceDone(store_->CompactLog(options_.snapshot_keep_entries),
                            "compacting the log");
}

absl::Status Node::LogMaintenanceDone(absl::Status s, absl::string_view what) {
  if (s.code() == absl::StatusCode::kResourceExhausted) {
    // No room: the log just grows meanwhile. Not before another interval's worth of
    // entries, so a full disk does not make every Ready try again.
    RB_LOG(WARNING) << "node " << id_ << ": no room for " << what << ": " << s;
    snapshot_not_before_index_ =
        store_->applied_index() + std::max<uint64_t>(options_.snapshot_every_entries, 1);
    snapshot_retry_in_ticks_ = std::max<uint32_t>(options_.disk_full_retry_ticks, 1);
    return s;
  }
  if (!s.ok()) {
    Fail(s);
    return s;
  }
  last_compaction_index_ = store_->applied_index();
  return absl::OkStatus();
}

absl::Status Node::ApplyCommittedIn(KvTxn* txn) {
  RB_CHECK(!ready_.committed_entries.empty(), "apply without committed entries");
  applied_outcomes_.clear();
  conf_changes_.clear();
  // Entries up to here are in the state machine already (a snapshot, perhaps installed
  // earlier in this same transaction).
  apply_skip_through_ = txn->applied_index();
  for (const raft::Entry& e : ready_.committed_entries) {
    if (e.index <= apply_skip_through_) continue;
    if (e.type == raft::EntryType::kConfChange) {
      // The core learns of the change once the write is durable (ApplyConfChanges): this
      // may run on the store's writer thread, which must not touch the core.
      auto cc = raft::DecodeConfChange(e.data);
      if (cc.ok()) {
        auto cs = raft::NextConfState(conf_state_, *cc);
        if (cs.ok()) {  // an invalid change leaves the config as is
          conf_state_ = *cs;
          RETURN_IF_ERROR(RecordMemberChange(txn, *cc, e.index));
        }
        conf_changes_.push_back({e.index, *std::move(cc), std::move(cs)});
      }
    } else if (!e.data.empty()) {
      ASSIGN_OR_RETURN(ApplyOutcome outcome, ApplyCommand(txn, e.index, e.data, options_.sessions));
      applied_outcomes_.emplace_back(std::move(outcome), e.index);
    }
  }
  return txn->SetApplied(ready_.committed_entries.back().index, conf_state_);
}

namespace {

std::string Describe(const absl::StatusOr<raft::ConfState>& cs) {
  if (!cs.ok()) return cs.status().ToString();
  return absl::StrCat("voters (", absl::StrJoin(cs->voters, " "), ") outgoing (",
                      absl::StrJoin(cs->voters_outgoing, " "), ") learners (",
                      absl::StrJoin(cs->learners, " "), ") learners_next (",
                      absl::StrJoin(cs->learners_next, " "), ")",
                      cs->auto_leave ? " auto_leave" : "");
}

}  // namespace

void Node::ApplyConfChanges() {
  const std::shared_ptr<const raft::Snapshot>& restored = raw_->raft().log().PendingSnapshot();
  for (PendingConfChange& change : conf_changes_) {
    // While this Ready was being written, the core may have accepted a snapshot past the
    // change (one past its commit index): its configuration already includes the change,
    // and applying it again would corrupt it (found by the simulator: a removal applied on
    // top of a later configuration). The snapshot comes with the next Ready.
    if (restored != nullptr && restored->metadata.index >= change.index) continue;
    const absl::StatusOr<raft::ConfState> cs = raw_->ApplyConfChange(change.cc);
    // The node computed the change's effect without the core; the two must agree, or the
    // applied configuration recorded with the state machine is wrong.
    RB_CHECK(cs.ok() == change.expected.ok() && (!cs.ok() || *cs == *change.expected), "node ", id_,
             ": the core and the node disagree on the configuration change at index ", change.index,
             ": the core has ", Describe(cs), ", the node ", Describe(change.expected));
  }
  conf_changes_.clear();
}

void Node::FinishApply() {
  if (ready_.committed_entries.empty()) return;
  ApplyConfChanges();
  for (const raft::Entry& e : ready_.committed_entries) {
    if (e.index <= apply_skip_through_) continue;
    ++counters_.entries_applied;
    if (hooks_.on_apply) hooks_.on_apply(e);
  }
  std::vector<std::pair<ApplyOutcome, uint64_t>> outcomes = std::move(applied_outcomes_);
  applied_outcomes_.clear();
  for (auto& [outcome, index] : outcomes) {
    if (outcome.malformed) ++counters_.malformed_entries;
    if (outcome.duplicate) ++counters_.duplicates_suppressed;
    auto it = pending_writes_.find({outcome.client_id, outcome.seq});
    if (it == pending_writes_.end()) continue;
    WriteCallback done = std::move(it->second);
    pending_writes_.erase(it);
    if (outcome.stale) {
      done(absl::FailedPreconditionError("a newer command of this client was applied first"));
    } else if (outcome.unknown_session) {
      done(SessionExpiredError(outcome.client_id));
    } else {
      done(outcome.result);
    }
  }
}

void Node::CountRoleChange(raft::StateType state) {
  using raft::StateType;
  if (state == last_state_) return;
  const bool campaigning =
      last_state_ == StateType::kPreCandidate || last_state_ == StateType::kCandidate;
  // A pre-vote round that turns into a vote is one election; a single voter goes from
  // follower to leader within one Ready.
  if (state == StateType::kPreCandidate ||
      (state == StateType::kCandidate && last_state_ != StateType::kPreCandidate) ||
      (state == StateType::kLeader && !campaigning)) {
    ++counters_.elections_started;
  }
  if (state == StateType::kLeader) ++counters_.elections_won;
  last_state_ = state;
}

void Node::OnLeadershipChange() {
  const uint64_t leader = ready_.soft_state->lead;
  if (leader == last_known_leader_) return;
  if (leader != raft::kNone) ++counters_.leader_changes;
  const bool was_leader = last_known_leader_ == id_;
  last_known_leader_ = leader;
  // Read requests in flight may have been dropped with the old leader. Writes proposed
  // under a leader that lost its role may or may not commit: the client must retry with
  // the same seq (sessions make that safe) rather than wait here.
  absl::Status changed = absl::UnavailableError(
      absl::StrCat("leadership changed on node ", id_, "; outcome unknown, retry"));
  for (auto& [ctx, read] : reads_by_ctx_) read.ready(changed);
  reads_by_ctx_.clear();
  // Its reads are answered; the reads waiting for the next round go to the new leader.
  round_in_flight_ = ReadRound{};
  if (was_leader) {
    for (auto& [key, done] : pending_writes_) done(changed);
    pending_writes_.clear();
    awaiting_commit_.clear();
  }
}

void Node::Fail(absl::Status status) {
  RB_LOG(ERROR) << "node " << id_ << " stops: " << status;
  failure_ = status;
  FailPending(absl::UnavailableError(absl::StrCat("node ", id_, " stopped: ", status.message())));
}

void Node::FailPending(const absl::Status& status) {
  for (auto& [key, done] : pending_writes_) done(status);
  pending_writes_.clear();
  awaiting_commit_.clear();
  for (auto& [ctx, read] : reads_by_ctx_) read.ready(status);
  reads_by_ctx_.clear();
  for (auto& [index, read] : reads_by_index_) read.ready(status);
  reads_by_index_.clear();
  std::vector<PendingRead> waiting = std::move(next_read_round_);
  next_read_round_.clear();
  for (PendingRead& read : waiting) read.ready(status);
}

}  // namespace rb::node
