#include "raft/raft.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/mutation.h"
#include "base/status_macros.h"
#include "raft/codec.h"

namespace rb::raft {

absl::Status Config::Validate() const {
  if (id == kNone) return absl::InvalidArgumentError("raft config: id must not be 0");
  if (heartbeat_tick <= 0) {
    return absl::InvalidArgumentError("raft config: heartbeat_tick must be greater than 0");
  }
  if (election_tick <= heartbeat_tick) {
    return absl::InvalidArgumentError(
        "raft config: election_tick must be greater than heartbeat_tick");
  }
  if (storage == nullptr) return absl::InvalidArgumentError("raft config: storage is required");
  if (max_inflight_msgs <= 0) {
    return absl::InvalidArgumentError("raft config: max_inflight_msgs must be greater than 0");
  }
  if (max_inflight_bytes != 0 && max_inflight_bytes < max_size_per_msg_bytes) {
    return absl::InvalidArgumentError(
        "raft config: max_inflight_bytes must be 0 or at least max_size_per_msg_bytes");
  }
  if (read_only_option == ReadOnlyOption::kLeaseBased && !check_quorum) {
    return absl::InvalidArgumentError(
        "raft config: lease-based reads require check_quorum (the lease is only sound while "
        "the leader steps down without a quorum)");
  }
  return absl::OkStatus();
}

absl::Status ErrProposalDropped(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("raft proposal dropped: ", why));
}

Raft::Raft(const Config& c)
    : id_(c.id),
      log_(c.storage, c.max_committed_size_per_ready_bytes != 0
                          ? c.max_committed_size_per_ready_bytes
                          : c.max_size_per_msg_bytes),
      tracker_(c.max_inflight_msgs, c.max_inflight_bytes),
      read_only_(c.read_only_option),
      rng_(c.seed ^ (c.id * 0x9e3779b97f4a7c15ULL)),
      max_msg_size_bytes_(c.max_size_per_msg_bytes),
      max_uncommitted_size_bytes_(
          c.max_uncommitted_entries_bytes == 0 ? kNoLimit : c.max_uncommitted_entries_bytes),
      election_timeout_ticks_(c.election_tick),
      heartbeat_timeout_ticks_(c.heartbeat_tick),
      check_quorum_(c.check_quorum),
      pre_vote_(c.pre_vote),
      disable_proposal_forwarding_(c.disable_proposal_forwarding),
      step_down_on_removal_(c.step_down_on_removal),
      skip_broadcast_commit_(c.skip_broadcast_commit) {}

absl::StatusOr<std::unique_ptr<Raft>> Raft::Create(const Config& config) {
  RETURN_IF_ERROR(config.Validate());
  std::unique_ptr<Raft> r(new Raft(config));
  RETURN_IF_ERROR(r->Init(config));
  return r;
}

absl::Status Raft::Init(const Config& config) {
  ASSIGN_OR_RETURN(InitialState init, config.storage->GetInitialState());
  auto cp = RestoreConfig(tracker_, log_.LastIndex(), init.conf_state);
  if (!cp.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored configuration is invalid: ", cp.status().message()));
  }
  const ConfState cs = SwitchToConfig(*std::move(cp));
  RB_CHECK(cs == init.conf_state, "restored configuration differs from the stored one");
  if (!init.hard_state.IsEmpty()) {
    if (init.hard_state.commit < log_.committed() || init.hard_state.commit > log_.LastIndex()) {
      return absl::DataLossError(absl::StrCat("stored commit index ", init.hard_state.commit,
                                              " is outside the stored log [", log_.committed(),
                                              ", ", log_.LastIndex(), "]"));
    }
    LoadState(init.hard_state);
  }
  if (config.applied > 0) {
    if (config.applied > log_.committed()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "applied index ", config.applied, " is past the commit index ", log_.committed()));
    }
    log_.AppliedTo(std::max(config.applied, log_.applied()));
  }
  BecomeFollower(term_, kNone);
  // A node that has a term may have acknowledged a leader just before it restarted: it
  // keeps that leader's lease (ignores vote requests) for an election timeout. A node that
  // never had a term has acknowledged no one.
  leader_contact_elapsed_ = term_ == 0 ? election_timeout_ticks_ : 0;
  return absl::OkStatus();
}

void Raft::LoadState(const HardState& hs) {
  log_.CommitTo(hs.commit);
  term_ = hs.term;
  vote_ = hs.vote;
}

bool Raft::Promotable() const {
  auto it = tracker_.progress.find(id_);
  return it != tracker_.progress.end() && !it->second.is_learner && !log_.HasPendingSnapshot();
}

// ---------------------------------------------------------------------------------------
// Sending.

void Raft::Send(Message m) {
  if (m.from == kNone) m.from = id_;
  const bool is_vote = m.type == MessageType::kVote || m.type == MessageType::kVoteResp ||
                       m.type == MessageType::kPreVote || m.type == MessageType::kPreVoteResp;
  if (is_vote) {
    // Votes carry the term being voted for (the next one, for PreVote), set by the caller.
    RB_CHECK(m.term != 0, "term must be set when sending ", MessageTypeName(m.type));
  } else {
    RB_CHECK(m.term == 0, "term must not be set when sending ", MessageTypeName(m.type));
    // Proposals and read requests forwarded to the leader travel like local messages.
    if (m.type != MessageType::kProp && m.type != MessageType::kReadIndex) m.term = term_;
  }
  msgs_.push_back(std::move(m));
}

void Raft::SendAppend(uint64_t to) { MaybeSendAppend(to, /*send_if_empty=*/true); }

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  auto it = tracker_.progress.find(to);
  if (it == tracker_.progress.end()) return false;
  Progress* pr = &it->second;
  if (pr->IsPaused()) return false;

  const uint64_t prev_index = pr->next - 1;
  auto prev_term = log_.Term(prev_index);
  Message m;
  m.type = MessageType::kApp;
  m.to = to;
  absl::Status entries_status;
  send_scratch_.clear();
  // With a full window (a heartbeat response unpaused it) send an empty append: its answer,
  // accept or reject, clears the window, so replication cannot stall even if every message
  // in flight was lost. Adding entries would overflow the window.
  const bool window_full = pr->state == ProgressState::kReplicate && pr->inflights.Full();
  if (prev_term.ok() && !window_full) {
    entries_status = log_.EntriesFrom(pr->next, max_msg_size_bytes_, &send_scratch_);
  }
  if (!log_.storage_failure().ok()) return false;  // the node stops after this step
  if (!prev_term.ok() || !entries_status.ok()) {
    // The entries the follower needs are compacted away.
    return MaybeSendSnapshot(to, pr);
  }
  if (send_scratch_.empty() && !send_if_empty) return false;
  const size_t count = send_scratch_.size();
  uint64_t bytes = 0;
  for (Entry& e : send_scratch_) {
    bytes += e.data.size();
    m.entries.push_back(std::move(e));
  }
  m.index = prev_index;
  m.log_term = *prev_term;
  m.commit = log_.committed();
  pr->UpdateOnEntriesSend(count, bytes, pr->next);
  Send(std::move(m));
  return true;
}

bool Raft::MaybeSendSnapshot(uint64_t to, Progress* pr) {
  if (!pr->recent_active) return false;  // a dead follower would only waste the transfer
  auto snapshot = log_.GetSnapshot();
  if (!snapshot.ok()) {
    if (IsErrSnapshotTemporarilyUnavailable(snapshot.status())) return false;
    RB_FATAL("reading snapshot: ", snapshot.status().ToString());
  }
  RB_CHECK(!(*snapshot)->IsEmpty(), "need a snapshot to catch up ", to, " but it is empty");
  Message m;
  m.type = MessageType::kSnap;
  m.to = to;
  m.snapshot = *snapshot;
  pr->BecomeSnapshot((*snapshot)->metadata.index);
  Send(std::move(m));
  return true;
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  // The follower may not have the entries up to our commit yet: send no more than its match,
  // so it never commits what it does not have.
  const auto& pr = tracker_.progress.at(to);
  Message m;
  m.type = MessageType::kHeartbeat;
  m.to = to;
  m.commit = RB_MUTANT(kHeartbeatCommitUnbounded) ? log_.committed()
                                                  : std::min(pr.match, log_.committed());
  m.context = ctx;
  Send(std::move(m));
}

void Raft::BroadcastAppend() {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) SendAppend(id);
  }
}

bool Raft::ShouldBroadcastCommit(uint64_t commit_before) const {
  RB_CHECK(log_.committed() > commit_before, "asked about a commit that did not happen");
  // A configuration change committed by this step, or still pending: every member should
  // learn it (and joint configurations leave) without waiting for a heartbeat.
  return !skip_broadcast_commit_ || pending_conf_index_ > commit_before;
}

void Raft::BroadcastHeartbeat() {
  BroadcastHeartbeatWithContext(read_only_.LastPendingRequestKey());
}

void Raft::BroadcastHeartbeatWithContext(const std::string& ctx) {
  for (const auto& [id, pr] : tracker_.progress) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::SendTimeoutNow(uint64_t to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

bool Raft::MaybeCommit() {
  const uint64_t quorum_index = tracker_.Committed();
  if (RB_MUTANT(kCommitByCounting) && quorum_index > log_.committed() &&
      quorum_index <= log_.LastIndex()) {
    log_.CommitTo(quorum_index);
    return true;
  }
  return log_.MaybeCommit(quorum_index, term_);
}

bool Raft::AppendEntries(absl::Span<Entry> entries) {
  uint64_t last = log_.LastIndex();
  for (size_t i = 0; i < entries.size(); ++i) {
    entries[i].term = term_;
    entries[i].index = last + 1 + i;
  }
  if (!IncreaseUncommittedSize(entries)) return false;
  log_.Append(entries);
  if (RB_MUTANT(kLeaderCountsUnstable)) {
    auto self = tracker_.progress.find(id_);
    if (self != tracker_.progress.end()) self->second.MaybeUpdate(log_.LastIndex());
    MaybeCommit();
  }
  // The leader's own copy counts towards the quorum only once it is durable
  // (OnEntriesStable): an index is committed when a majority has it on disk, the leader
  // included. Counting it now would let a lone voter commit what a crash then loses.
  return true;
}

void Raft::OnEntriesStable() {
  if (state_ != StateType::kLeader) return;
  auto self = tracker_.progress.find(id_);
  if (self == tracker_.progress.end()) return;
  if (!self->second.MaybeUpdate(log_.StableLastIndex())) return;
  const uint64_t commit_before = log_.committed();
  if (MaybeCommit()) {
    ReleasePendingReadIndexMessages();
    if (ShouldBroadcastCommit(commit_before)) BroadcastAppend();
  }
}

bool Raft::IncreaseUncommittedSize(absl::Span<const Entry> entries) {
  uint64_t bytes = 0;
  for (const Entry& e : entries) bytes += e.data.size();
  // An empty payload (leader's first entry, leave-joint) is always allowed, and so is any
  // proposal when nothing is uncommitted, so a single large entry can still make progress.
  if (uncommitted_size_ > 0 && bytes > 0 &&
      uncommitted_size_ + bytes > max_uncommitted_size_bytes_) {
    return false;
  }
  uncommitted_size_ += bytes;
  return true;
}

void Raft::ReduceUncommittedSize(uint64_t bytes) {
  // Entries appended by an earlier leader term are not counted: clamp at zero.
  uncommitted_size_ = bytes > uncommitted_size_ ? 0 : uncommitted_size_ - bytes;
}

void Raft::AppliedTo(uint64_t index, uint64_t applied_payload_bytes) {
  log_.AppliedTo(index);
  // Applied entries are certainly committed: release their bytes from the leader's budget.
  if (state_ == StateType::kLeader) ReduceUncommittedSize(applied_payload_bytes);
  // Leave an auto-leaving joint configuration once it is applied.
  if (tracker_.config.auto_leave && index >= pending_conf_index_ && state_ == StateType::kLeader) {
    std::vector<Entry> leave(1);
    leave[0].type = EntryType::kConfChange;
    leave[0].data = EncodeConfChange(ConfChange{});
    RB_CHECK(AppendEntries(absl::MakeSpan(leave)), "appending the empty leave-joint entry failed");
    pending_conf_index_ = log_.LastIndex();
  }
}

// ---------------------------------------------------------------------------------------
// Roles and time.

void Raft::Reset(uint64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_ = kNone;
  }
  lead_ = kNone;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedElectionTimeout();
  AbortLeaderTransfer();
  tracker_.ResetVotes();
  const uint64_t last = log_.LastIndex();
  for (auto& [id, pr] : tracker_.progress) {
    const bool is_learner = pr.is_learner;
    pr = tracker_.NewProgress(last + 1, is_learner);
    if (id == id_) pr.match = log_.StableLastIndex();  // only what is durable counts
  }
  pending_conf_index_ = 0;
  uncommitted_size_ = 0;
  stepping_down_ = false;
  read_only_ = ReadOnly(read_only_.option());
  pending_read_index_messages_.clear();
}

void Raft::ResetRandomizedElectionTimeout() {
  randomized_election_timeout_ =
      election_timeout_ticks_ + static_cast<int>(rng_.Uniform(election_timeout_ticks_));
}

bool Raft::PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }

void Raft::BecomeFollower(uint64_t term, uint64_t lead) {
  Reset(term);
  lead_ = lead;
  state_ = StateType::kFollower;
}

void Raft::BecomeCandidate() {
  RB_CHECK(state_ != StateType::kLeader, "invalid transition [leader -> candidate]");
  Reset(term_ + 1);
  vote_ = id_;
  state_ = StateType::kCandidate;
}

void Raft::BecomePreCandidate() {
  RB_CHECK(state_ != StateType::kLeader, "invalid transition [leader -> pre-candidate]");
  // A PreVote round changes neither term nor vote: it only asks whether an election could
  // be won.
  tracker_.ResetVotes();
  lead_ = kNone;
  state_ = StateType::kPreCandidate;
}

void Raft::BecomeLeader() {
  RB_CHECK(state_ != StateType::kFollower, "invalid transition [follower -> leader]");
  Reset(term_);
  lead_ = id_;
  state_ = StateType::kLeader;
  // The leader's own progress is always replicating: it has its whole log.
  tracker_.progress.at(id_).BecomeReplicate();
  tracker_.progress.at(id_).recent_active = true;
  // Conservatively, any entry in the log may be an unapplied conf change.
  pending_conf_index_ = log_.LastIndex();
  // An empty entry of the new term: committing it commits everything before it (Figure 8)
  // and lets ReadIndex serve reads.
  std::vector<Entry> empty(1);
  RB_CHECK(AppendEntries(absl::MakeSpan(empty)), "appending the leader's empty entry failed");
}

void Raft::Tick() {
  if (state_ == StateType::kLeader) {
    TickHeartbeat();
  } else {
    TickElection();
  }
}

void Raft::TickElection() {
  ++election_elapsed_;
  if (leader_contact_elapsed_ < election_timeout_ticks_) ++leader_contact_elapsed_;
  if (Promotable() && PastElectionTimeout()) {
    election_elapsed_ = 0;
    Message m;
    m.type = MessageType::kHup;
    m.from = id_;
    Step(std::move(m)).IgnoreError();
  }
}

void Raft::TickHeartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  leader_contact_elapsed_ = 0;  // a leader is in contact with itself
  if (election_elapsed_ >= election_timeout_ticks_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      Message m;
      m.type = MessageType::kCheckQuorum;
      m.from = id_;
      Step(std::move(m)).IgnoreError();
    }
    // A transfer that has not finished within an election timeout is abandoned.
    if (state_ == StateType::kLeader && lead_transferee_ != kNone) AbortLeaderTransfer();
    // A removed leader whose handover did not finish steps down anyway.
    if (state_ == StateType::kLeader && stepping_down_) BecomeFollower(term_, kNone);
  }
  if (state_ != StateType::kLeader) return;
  if (heartbeat_elapsed_ >= heartbeat_timeout_ticks_) {
    heartbeat_elapsed_ = 0;
    Message m;
    m.type = MessageType::kBeat;
    m.from = id_;
    Step(std::move(m)).IgnoreError();
  }
}

bool Raft::HasUnappliedConfChanges() const {
  if (log_.applied() >= log_.committed()) return false;
  std::vector<Entry> entries;
  const uint64_t lo = std::max(log_.applied() + 1, log_.FirstIndex());
  if (!log_.Slice(lo, log_.committed() + 1, kNoLimit, &entries).ok()) return false;
  for (const Entry& e : entries) {
    if (e.type == EntryType::kConfChange) return true;
  }
  return false;
}

void Raft::Hup(CampaignType type) {
  if (state_ == StateType::kLeader) return;
  if (!Promotable()) return;
  // Campaigning with a committed but unapplied conf change could elect a leader under a
  // configuration that is about to change.
  if (!RB_MUTANT(kCampaignWithUnappliedConf) && HasUnappliedConfChanges()) return;
  Campaign(type);
}

void Raft::Campaign(CampaignType type) {
  if (!Promotable()) return;
  MessageType vote_type;
  uint64_t term;
  if (type == CampaignType::kPreElection) {
    BecomePreCandidate();
    vote_type = MessageType::kPreVote;
    term = term_ + 1;  // the term we would campaign in; our own term does not change
  } else {
    BecomeCandidate();
    vote_type = MessageType::kVote;
    term = term_;
  }
  const MessageType resp_type =
      vote_type == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
  // Our own vote first: it may already be a quorum (single voter).
  if (Poll(id_, resp_type, true).result == VoteResult::kWon) {
    if (type == CampaignType::kPreElection) {
      Campaign(CampaignType::kElection);
    } else {
      BecomeLeader();
    }
    return;
  }
  const uint64_t last_index = log_.LastIndex();
  const uint64_t last_term = log_.LastTerm();
  for (uint64_t id : tracker_.config.voters.Ids()) {
    if (id == id_) continue;
    Message m;
    m.type = vote_type;
    m.to = id;
    m.term = term;
    m.index = last_index;
    m.log_term = last_term;
    // Voters under a leader lease still grant votes to a transfer target.
    if (type == CampaignType::kTransfer) m.context = std::string(kCampaignTransferContext);
    Send(std::move(m));
  }
}

TallyResult Raft::Poll(uint64_t id, MessageType /*type*/, bool granted) {
  tracker_.RecordVote(id, granted);
  return tracker_.TallyVotes();
}

// ---------------------------------------------------------------------------------------
// Configuration.

absl::StatusOr<ConfState> Raft::ApplyConfChange(const ConfChange& cc) {
  ASSIGN_OR_RETURN(ConfigAndProgress cp, Changer(tracker_, log_.LastIndex()).Apply(cc));
  return SwitchToConfig(std::move(cp));
}

ConfState Raft::SwitchToConfig(ConfigAndProgress cp) {
  tracker_.config = std::move(cp.config);
  tracker_.progress = std::move(cp.progress);
  const ConfState cs = tracker_.GetConfState();
  auto self = tracker_.progress.find(id_);
  const bool present = self != tracker_.progress.end();
  is_learner_ = present && self->second.is_learner;
  if ((!present || is_learner_) && state_ == StateType::kLeader) {
    // Removed or demoted. Stepping down at once can wedge the cluster: the remaining
    // members may not know the change is committed (its commit index travels with the next
    // append, which may be lost), keep using the old configuration, and need a vote from us
    // that our longer log refuses. So hand over first: broadcast the commit index, transfer
    // leadership to the best-replicated member, and step down when that member takes over
    // or an election timeout passes (TickHeartbeat). Found by the simulator.
    if (!step_down_on_removal_) return cs;  // etcd's old behaviour: keep leading
    BroadcastAppend();
    uint64_t best = kNone, best_match = 0;
    for (uint64_t id : tracker_.config.voters.incoming.ids()) {
      const Progress& pr = tracker_.progress.at(id);
      if (id != id_ && (best == kNone || pr.match > best_match)) {
        best = id;
        best_match = pr.match;
      }
    }
    if (best == kNone) {
      BecomeFollower(term_, kNone);
      return cs;
    }
    stepping_down_ = true;
    election_elapsed_ = 0;
    lead_transferee_ = best;
    if (best_match == log_.LastIndex()) {
      SendTimeoutNow(best);
    } else {
      SendAppend(best);  // the append response sends TimeoutNow once it caught up
    }
    return cs;
  }
  if (state_ != StateType::kLeader || cs.voters.empty()) return cs;
  // The quorum changed: something may now be committed, and new members need the log.
  if (MaybeCommit()) {
    BroadcastAppend();
  } else {
    for (const auto& [id, pr] : tracker_.progress) {
      if (id != id_) MaybeSendAppend(id, /*send_if_empty=*/false);
    }
  }
  if (lead_transferee_ != kNone && !tracker_.config.voters.Contains(lead_transferee_)) {
    AbortLeaderTransfer();
  }
  return cs;
}

}  // namespace rb::raft
