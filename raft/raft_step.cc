// Raft::Step and the per-role step functions.
#include <algorithm>
#include <utility>

#include "base/logging.h"
#include "base/mutation.h"
#include "raft/codec.h"
#include "raft/raft.h"

namespace rb::raft {
namespace {

MessageType VoteResponseType(MessageType t) {
  return t == MessageType::kVote ? MessageType::kVoteResp : MessageType::kPreVoteResp;
}

}  // namespace

absl::Status Raft::Step(Message m) {
  // What a voter knows is committed holds in every term, so even a stale rejection teaches.
  if ((m.type == MessageType::kVoteResp || m.type == MessageType::kPreVoteResp) && m.reject &&
      m.index > 0) {
    MaybeCommitFromVoteRejection(m);
  }
  // Term checks common to every role (Raft paper section 5.1).
  if (m.term == 0) {
    // Local message (or a proposal / read request forwarded by a follower).
  } else if (m.term > term_) {
    if ((m.type == MessageType::kVote || m.type == MessageType::kPreVote) &&
        VoteRequestUnderLease(m)) {
      ++drops_.ignored_votes;
      return absl::OkStatus();
    }
    if (m.type == MessageType::kPreVote) {
      // A PreVote never changes our term.
    } else if (m.type == MessageType::kPreVoteResp && !m.reject) {
      // A granted PreVote carries the term we will campaign in; it is not a newer leader.
    } else if (m.type == MessageType::kApp || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnap) {
      BecomeFollower(m.term, m.from);
    } else if (m.type == MessageType::kVote) {
      // Only a leader's message or a granted vote restarts the election timer (Raft paper,
      // Figure 2); HandleVoteRequest restarts it if it grants. A candidate whose log we
      // refuse must not hold back our own campaign just by raising the term: without
      // PreVote, a node with a stale log otherwise wins every timer race against the node
      // that could win the election, and no leader emerges. Found by the simulator (seed
      // 1542 --voters=2).
      const int elapsed = election_elapsed_;
      BecomeFollower(m.term, kNone);
      election_elapsed_ = elapsed;
    } else if (RB_MUTANT(kIgnoreHigherTermResponse) &&
               (m.type == MessageType::kAppResp || m.type == MessageType::kHeartbeatResp ||
                m.type == MessageType::kVoteResp || m.type == MessageType::kPreVoteResp)) {
      // Handled below as if of our term.
    } else {
      BecomeFollower(m.term, kNone);
    }
  } else if (m.term < term_) {
    if (RB_MUTANT(kTallyMixesTerms) && m.type == MessageType::kVoteResp &&
        state_ == StateType::kCandidate) {
      return StepCandidate(m);
    }
    if (RB_MUTANT(kAcceptStaleTermAppend) && m.type == MessageType::kApp &&
        state_ == StateType::kFollower) {
      HandleAppendEntries(m);
      return absl::OkStatus();
    }
    if ((check_quorum_ || pre_vote_) &&
        (m.type == MessageType::kHeartbeat || m.type == MessageType::kApp)) {
      // A leader from an older term that was partitioned away: tell it our term so it steps
      // down. Without this, a node whose elections were suppressed by PreVote/CheckQuorum
      // could stay stuck behind a stale leader forever.
      Message resp;
      resp.type = MessageType::kAppResp;
      resp.to = m.from;
      Send(std::move(resp));
    } else if (m.type == MessageType::kPreVote) {
      Message resp;
      resp.type = MessageType::kPreVoteResp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      Send(std::move(resp));
    } else {
      ++drops_.stale_term;
    }
    return absl::OkStatus();
  }

  switch (m.type) {
    case MessageType::kHup:
      Hup(pre_vote_ ? CampaignType::kPreElection : CampaignType::kElection);
      return absl::OkStatus();
    case MessageType::kVote:
    case MessageType::kPreVote:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      break;
  }
  switch (state_) {
    case StateType::kLeader:
      return StepLeader(m);
    case StateType::kCandidate:
    case StateType::kPreCandidate:
      return StepCandidate(m);
    case StateType::kFollower:
      return StepFollower(m);
  }
  return absl::OkStatus();
}

bool Raft::VoteRequestUnderLease(const Message& m) const {
  // We heard from a leader within the minimum election timeout: a candidate that cannot
  // hear it must not depose it (thesis section 4.2.3). Leaders' lease reads rely on this
  // (node/), so it holds for an election timeout after a restart (the last run may have
  // just acknowledged a leader), and however we learned of the candidate's term: an
  // answer of that term (a follower telling a deposed leader of it, say) may have raised
  // ours first, leaving no leader and no vote in it (simulator seed 829). A leadership
  // transfer's campaign is exempt: the leader itself asked for it.
  return m.context != kCampaignTransferContext && !RB_MUTANT(kVoteIgnoresLeaderLease) &&
         check_quorum_ && leader_contact_elapsed_ < election_timeout_ticks_;
}

void Raft::HandleVoteRequest(const Message& m) {
  // We may vote for the node we already voted for (a retried request), for anyone if we have
  // neither voted nor know a leader in this term, and in a PreVote for a future term.
  const bool can_vote = vote_ == m.from || (vote_ == kNone && lead_ == kNone) ||
                        (m.type == MessageType::kPreVote && m.term > term_) ||
                        RB_MUTANT(kVoteTwiceInTerm);
  Message resp;
  resp.type = VoteResponseType(m.type);
  resp.to = m.from;
  const bool grant =
      can_vote && (RB_MUTANT(kVoteIgnoresLog) || log_.IsUpToDate(m.index, m.log_term));
  if (grant && m.term == term_ && m.from != vote_ && VoteRequestUnderLease(m)) {
    // (Requests of a newer term were checked in Step, before the term moved.)
    ++drops_.ignored_votes;
    return;
  }
  if (grant) {
    // The response carries the request's term: for a PreVote it is the future term, so that
    // the pre-candidate recognizes it; for a Vote it equals ours after the term check.
    resp.term = m.term;
    Send(std::move(resp));
    if (m.type == MessageType::kVote) {
      // Granting a vote resets the election timer: a candidate that might win gets time.
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
    // Tell the candidate how far its log is known committed: our commit index, capped at
    // its last index, with our term there. A candidate holding that entry holds our whole
    // prefix up to it (Log Matching), so it may commit it. Without this, a voter that
    // learned a commit the candidate missed can refuse it forever: a leader that replaced
    // itself (joint {1}->{2}) committed the leave, stepped down with an uncommitted tail
    // and went quiet; node 2, still joint, needs node 1's vote, which its shorter log can
    // never win, and node 1, no longer a voter, never campaigns. Found by the simulator.
    resp.index = std::min(log_.committed(), m.index);
    resp.log_term = log_.TermOrZero(resp.index);
    if (resp.log_term == 0) resp.index = 0;  // compacted: nothing to tell
    Send(std::move(resp));
  }
}

void Raft::MaybeCommitFromVoteRejection(const Message& m) {
  // A leader's commit index comes from its quorum; everyone else may learn a commit from
  // anyone who knows it, provided the logs agree there.
  if (state_ == StateType::kLeader || m.index <= log_.committed()) return;
  if (m.index > log_.LastIndex() || !log_.MatchTerm(m.index, m.log_term)) return;
  log_.CommitTo(m.index);
}

// ---------------------------------------------------------------------------------------
// Leader.

absl::Status Raft::StepLeader(Message& m) {
  switch (m.type) {
    case MessageType::kBeat:
      BroadcastHeartbeat();
      return absl::OkStatus();
    case MessageType::kCheckQuorum:
      if (!tracker_.QuorumActive()) {
        BecomeFollower(term_, kNone);
      }
      // Activity is measured per election timeout: start counting afresh.
      for (auto& [id, pr] : tracker_.progress) {
        if (id != id_) pr.recent_active = false;
      }
      return absl::OkStatus();
    case MessageType::kProp:
      return StepLeaderProposal(m);
    case MessageType::kReadIndex:
      StepLeaderReadIndex(m);
      return absl::OkStatus();
    default:
      break;
  }
  // Everything else comes from a peer, which must be a member.
  auto it = tracker_.progress.find(m.from);
  if (it == tracker_.progress.end()) {
    ++drops_.unknown_peer;
    return absl::OkStatus();
  }
  Progress* pr = &it->second;
  switch (m.type) {
    case MessageType::kAppResp:
      StepLeaderAppendResponse(m, pr);
      break;
    case MessageType::kHeartbeatResp:
      StepLeaderHeartbeatResponse(m, pr);
      break;
    case MessageType::kSnapStatus:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject) pr->pending_snapshot = 0;  // failed: probe from match again
      pr->BecomeProbe();
      // Wait for a heartbeat response before probing: the follower may still be applying.
      pr->msg_app_flow_paused = true;
      break;
    case MessageType::kUnreachable:
      // Optimistic replication is pointless while messages are lost: back off to probing.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case MessageType::kTransferLeader:
      StepLeaderTransfer(m, pr);
      break;
    default:
      break;  // e.g. a late vote response: nothing to do
  }
  return absl::OkStatus();
}

absl::Status Raft::StepLeaderProposal(Message& m) {
  if (m.entries.empty()) {
    ++drops_.malformed;
    return absl::InvalidArgumentError("raft proposal has no entries");
  }
  if (tracker_.progress.count(id_) == 0) {
    ++drops_.proposals;
    return ErrProposalDropped("this leader was removed from the configuration");
  }
  if (lead_transferee_ != kNone) {
    ++drops_.proposals;
    return ErrProposalDropped("leadership transfer in progress");
  }
  // Takes effect only once the entries are in the log: a proposal refused below (a second
  // change in it, too many uncommitted bytes) must not leave an index pending that no
  // entry has (found by fuzz/peer_message_fuzz).
  uint64_t pending_conf_index = pending_conf_index_;
  for (size_t i = 0; i < m.entries.size(); ++i) {
    Entry& e = m.entries[i];
    if (e.type != EntryType::kConfChange) continue;
    auto cc = DecodeConfChange(e.data);
    const char* refused = nullptr;
    if (!cc.ok()) {
      refused = "undecodable configuration change";
    } else if (!RB_MUTANT(kConfChangeWhilePending) && pending_conf_index > log_.applied()) {
      refused = "a configuration change is still pending";
    } else if (tracker_.config.voters.IsJoint() && !cc->LeavesJoint()) {
      refused = "must leave the joint configuration first";
    } else if (!tracker_.config.voters.IsJoint() && cc->LeavesJoint()) {
      refused = "not in a joint configuration";
    }
    if (refused != nullptr) {
      // Only one change may be in flight (thesis 4.1): refuse the whole proposal, so the
      // proposer learns of it instead of finding a no-op in the log.
      ++drops_.proposals;
      return absl::FailedPreconditionError(absl::StrCat("configuration change refused: ", refused));
    }
    pending_conf_index = log_.LastIndex() + i + 1;
  }
  if (!AppendEntries(absl::MakeSpan(m.entries))) {
    ++drops_.proposals;
    return absl::ResourceExhaustedError(
        "raft proposal dropped: too many uncommitted bytes (max_uncommitted_entries_bytes)");
  }
  pending_conf_index_ = pending_conf_index;
  BroadcastAppend();
  return absl::OkStatus();
}

void Raft::StepLeaderReadIndex(Message& m) {
  if (m.entries.size() != 1) {
    ++drops_.malformed;
    return;
  }
  // A new leader does not know the commit index of its predecessor until it commits an
  // entry of its own term (thesis 6.4): hold the read until then. This holds for a sole
  // voter too: one that just took over from a leader that replaced itself (a TimeoutNow
  // out of a joint configuration) may not yet have learned what that leader committed.
  if (!RB_MUTANT(kReadIndexBeforeTermCommit) && !CommittedEntryInCurrentTerm()) {
    pending_read_index_messages_.push_back(std::move(m));
    return;
  }
  SendReadIndexResponse(std::move(m));
}

void Raft::StepLeaderAppendResponse(const Message& m, Progress* pr) {
  // A follower acknowledges only what this leader sent it, and a leader never shortens its
  // log within its term: an acknowledgment past the end is malformed. Taken as a match it
  // would commit entries that do not exist, or ask for a snapshot of them (found by
  // fuzz/peer_message_fuzz).
  if (!m.reject && m.index > log_.LastIndex()) {
    ++drops_.malformed;
    return;
  }
  pr->recent_active = true;
  if (m.reject) {
    // The follower's log does not match at m.index. Its hint points to where it may; with
    // the hint's term we can skip every entry of a conflicting term at once.
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = log_.FindConflictByTerm(m.reject_hint, m.log_term).first;
    if (pr->MaybeDecrTo(m.index, next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      SendAppend(m.from);
    }
    return;
  }
  const bool was_paused = pr->IsPaused();
  if (!pr->MaybeUpdate(m.index) && !(pr->match == m.index && pr->state == ProgressState::kProbe)) {
    return;  // stale acknowledgment
  }
  switch (pr->state) {
    case ProgressState::kProbe:
      pr->BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      // The follower caught up past the compacted prefix (by the snapshot or otherwise).
      if (pr->match + 1 >= log_.FirstIndex()) {
        pr->BecomeProbe();
        pr->BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr->inflights.FreeLE(m.index);
      break;
  }
  const uint64_t commit_before = log_.committed();
  const bool committed = MaybeCommit();
  if (committed) ReleasePendingReadIndexMessages();
  if (committed && ShouldBroadcastCommit(commit_before)) {
    BroadcastAppend();
  } else if (was_paused) {
    SendAppend(m.from);  // resume a follower that was paused (a broadcast includes it)
  }
  // Pipeline: keep sending while the window allows and there is something to send. Bounded
  // because each send advances next or fills the window.
  const uint64_t from = m.from;
  for (int i = 0; i < tracker_.max_inflight_msgs() && MaybeSendAppend(from, false); ++i) {
  }
  MaybeSendTimeoutNow(from);
}

void Raft::MaybeSendTimeoutNow(uint64_t from) {
  if (from == lead_transferee_ && tracker_.progress.count(from) > 0 &&
      tracker_.progress.at(from).match == log_.LastIndex()) {
    SendTimeoutNow(from);
  }
}

void Raft::StepLeaderHeartbeatResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  if (!RB_MUTANT(kHeartbeatRespKeepsPause)) {
    pr->msg_app_flow_paused = false;
    if (pr->match < log_.LastIndex() || pr->state == ProgressState::kProbe) SendAppend(m.from);
  }
  // The transferee may have dropped the TimeoutNow: it arrived with the commit of the
  // change that made it a voter, before that change was applied (or it was lost). Once
  // caught up, appends stop coming, so heartbeat answers are where the leader repeats it
  // until the transfer ends. A repeat that reaches the transferee after it campaigned is
  // of an older term, and ignored.
  MaybeSendTimeoutNow(m.from);
  if (read_only_.option() != ReadOnlyOption::kSafe || m.context.empty()) return;
  const auto* acks = read_only_.RecvAck(m.from, m.context);
  if (acks == nullptr || tracker_.config.voters.Vote(*acks) != VoteResult::kWon) return;
  for (ReadIndexStatus& rs : read_only_.Advance(m.context)) {
    RespondToReadIndex(rs.request, rs.index);
  }
}

void Raft::StepLeaderTransfer(const Message& m, Progress* pr) {
  if (pr->is_learner) return;  // a learner cannot lead
  const uint64_t transferee = m.from;
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;  // already in progress
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;  // already leader
  // The transfer must finish within one election timeout (TickHeartbeat aborts it).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);  // catch it up first; the append response sends TimeoutNow
  }
}

bool Raft::CommittedEntryInCurrentTerm() const {
  return log_.TermOrZero(log_.committed()) == term_;
}

void Raft::SendReadIndexResponse(Message m) {
  RB_CHECK(RB_MUTANT(kReadIndexBeforeTermCommit) || CommittedEntryInCurrentTerm(),
           "read index served before committing in term ", term_);
  if (tracker_.IsSingleton() && tracker_.config.voters.Contains(id_)) {
    // This leader is the only voter and has committed in its term: no one else can lead,
    // so its commit index is the newest. (A removed leader that still hands over may see
    // one other voter; that one may already lead a newer term.)
    RespondToReadIndex(m, log_.committed());
    return;
  }
  switch (read_only_.option()) {
    case ReadOnlyOption::kSafe: {
      if (RB_MUTANT(kReadIndexWithoutQuorum)) {
        RespondToReadIndex(m, log_.committed());
        break;
      }
      const std::string key = read_only_.AddRequest(log_.committed(), std::move(m));
      // The leader acknowledges its own read; the rest comes with heartbeat responses.
      read_only_.RecvAck(id_, key);
      BroadcastHeartbeatWithContext(key);
      break;
    }
    case ReadOnlyOption::kLeaseBased:
      if (lead_transferee_ != kNone) {
        // The transferee may already have won a newer term (TimeoutNow skips the lease):
        // the lease proves nothing until the transfer ends.
        ++drops_.read_index_during_transfer;
        break;
      }
      RespondToReadIndex(m, log_.committed());
      break;
  }
}

void Raft::RespondToReadIndex(const Message& request, uint64_t read_index) {
  if (request.from == kNone || request.from == id_) {
    read_states_.push_back(ReadState{read_index, request.entries[0].data.str()});
    return;
  }
  Message resp;
  resp.type = MessageType::kReadIndexResp;
  resp.to = request.from;
  resp.index = read_index;
  resp.entries = request.entries;
  Send(std::move(resp));
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty() || !CommittedEntryInCurrentTerm()) return;
  std::vector<Message> pending = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (Message& m : pending) SendReadIndexResponse(std::move(m));
}

// ---------------------------------------------------------------------------------------
// Candidate and pre-candidate.

absl::Status Raft::StepCandidate(Message& m) {
  // Only responses to our own kind of campaign count: a PreVoteResp arriving after we moved
  // on to a real election (or the reverse) is stale.
  const MessageType my_response =
      state_ == StateType::kPreCandidate ? MessageType::kPreVoteResp : MessageType::kVoteResp;
  switch (m.type) {
    case MessageType::kProp:
      ++drops_.proposals;
      return ErrProposalDropped("no leader (election in progress)");
    case MessageType::kApp:
    case MessageType::kHeartbeat:
    case MessageType::kSnap:
      // A leader of our term exists. Follow it and let the follower take the message, so
      // that hearing it restarts the lease clock there too: the answer may count toward
      // the leader's lease, and then no rival may get our vote for an election timeout.
      BecomeFollower(m.term, m.from);
      return StepFollower(m);
    case MessageType::kTimeoutNow:
      break;  // only followers take part in transfers
    default:
      if (m.type != my_response) break;
      switch (Poll(m.from, m.type, !m.reject).result) {
        case VoteResult::kWon:
          if (!Promotable() ||
              (!RB_MUTANT(kCampaignWithUnappliedConf) && HasUnappliedConfChanges())) {
            // The configuration moved under the campaign (a commit learned from a vote
            // rejection, applied meanwhile): this node may no longer be a voter, or the
            // votes were counted under a configuration about to change. Stand down; a
            // voter campaigns again once the change is applied.
            BecomeFollower(term_, kNone);
            break;
          }
          if (state_ == StateType::kPreCandidate) {
            Campaign(CampaignType::kElection);
          } else {
            BecomeLeader();
            BroadcastAppend();
          }
          break;
        case VoteResult::kLost:
          // A rejected PreVote carries our current term: stay there as a follower.
          BecomeFollower(term_, kNone);
          break;
        case VoteResult::kPending:
          break;
      }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// Follower.

absl::Status Raft::StepFollower(Message& m) {
  switch (m.type) {
    case MessageType::kProp:
      if (lead_ == kNone) {
        ++drops_.proposals;
        return ErrProposalDropped("no leader");
      }
      if (disable_proposal_forwarding_) {
        ++drops_.proposals;
        return ErrProposalDropped("not the leader and forwarding is disabled");
      }
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kApp:
      election_elapsed_ = 0;
      leader_contact_elapsed_ = 0;
      lead_ = m.from;
      HandleAppendEntries(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_contact_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnap:
      election_elapsed_ = 0;
      leader_contact_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTransferLeader:
      if (lead_ == kNone) return absl::OkStatus();  // dropped: nobody to forward to
      m.to = lead_;
      m.term = 0;
      Send(std::move(m));
      break;
    case MessageType::kTimeoutNow:
      // The leader asks us to take over: campaign at once, skipping PreVote (the leader
      // agreed) and with the transfer marker that overrides the voters' leader lease.
      Hup(CampaignType::kTransfer);
      break;
    case MessageType::kReadIndex:
      if (lead_ == kNone) return absl::OkStatus();  // the caller retries after a timeout
      m.to = lead_;
      Send(std::move(m));
      break;
    case MessageType::kReadIndexResp:
      if (m.entries.size() != 1) {
        ++drops_.malformed;
        break;
      }
      read_states_.push_back(ReadState{m.index, m.entries[0].data.str()});
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

void Raft::HandleAppendEntries(Message& m) {
  if (m.index < log_.committed()) {
    // Everything up to our commit index matches the leader's log already (Log Matching).
    Message resp;
    resp.type = MessageType::kAppResp;
    resp.to = m.from;
    resp.index = log_.committed();
    Send(std::move(resp));
    return;
  }
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (auto last_new = log_.MaybeAppend(m.index, m.log_term, m.commit, absl::MakeSpan(m.entries))) {
    resp.index = *last_new;
    Send(std::move(resp));
    return;
  }
  // Reject with a hint: the largest index <= m.index whose term is <= m.log_term. The
  // leader can then skip every entry of a term we cannot match (thesis 5.3 optimization).
  const uint64_t hint_index = std::min(m.index, log_.LastIndex());
  const auto [index, term] = log_.FindConflictByTerm(hint_index, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = index;
  resp.log_term = term;
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  log_.CommitTo(std::min(m.commit, log_.LastIndex()));
  Message resp;
  resp.type = MessageType::kHeartbeatResp;
  resp.to = m.from;
  resp.context = m.context;
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  Message resp;
  resp.type = MessageType::kAppResp;
  resp.to = m.from;
  if (m.snapshot != nullptr && Restore(m.snapshot)) {
    resp.index = log_.LastIndex();
  } else {
    resp.index = log_.committed();
  }
  Send(std::move(resp));
}

bool Raft::Restore(const std::shared_ptr<const Snapshot>& snapshot) {
  const SnapshotMetadata& meta = snapshot->metadata;
  if (meta.index <= log_.committed() && !RB_MUTANT(kInstallStaleSnapshot)) return false;
  if (state_ != StateType::kFollower) {
    // Defense in depth: only a follower installs snapshots. Move to a new term so that
    // whoever sent this is not followed blindly.
    BecomeFollower(term_ + 1, kNone);
    return false;
  }
  // The snapshot's configuration may not include us: a node added after the leader's
  // newest snapshot is sent that snapshot, then the entries that add it. (etcd refuses
  // such snapshots, which leaves a node that joins after a compaction unable to catch up;
  // the simulator found that.) A node that was removed becomes, correctly, a non-member.
  const ConfState& cs = meta.conf_state;
  if (log_.MatchTerm(meta.index, meta.term) ||
      (RB_MUTANT(kSnapshotMatchByIndex) && meta.index <= log_.LastIndex())) {
    // We already have the snapshot's last entry: fast-forward the commit index instead.
    log_.CommitTo(meta.index);
    return false;
  }
  // Validate the configuration before changing anything.
  auto cp = RestoreConfig(tracker_, meta.index, cs);
  if (!cp.ok()) {
    ++drops_.malformed;
    return false;
  }
  log_.Restore(snapshot);
  const ConfState restored = SwitchToConfig(*std::move(cp));
  RB_CHECK(restored == cs, "configuration restored from snapshot differs from the snapshot's");
  auto self = tracker_.progress.find(id_);
  if (self != tracker_.progress.end()) self->second.MaybeUpdate(self->second.next - 1);
  return true;
}

}  // namespace rb::raft
