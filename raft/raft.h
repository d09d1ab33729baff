// Raft: the consensus state machine of one node. Pure: it reads Storage and its own Rng,
// and produces messages, entries and state for its driver (RawNode) to act on.
//
// Inputs: Tick() and Step(message). Every role has its own step function (StepLeader,
// StepCandidate, StepFollower); Step() first handles what is common to all (term checks,
// votes). Structure follows etcd's raft package; the rules are the Raft paper's and
// Ongaro's thesis (PreVote, CheckQuorum, leadership transfer, ReadIndex).
#ifndef RAFTBADGER_RAFT_RAFT_H_
#define RAFTBADGER_RAFT_RAFT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/confchange.h"
#include "raft/log.h"
#include "raft/read_only.h"
#include "raft/rng.h"
#include "raft/storage.h"
#include "raft/tracker.h"
#include "raft/types.h"

namespace rb::raft {

struct Config {
  uint64_t id = kNone;
  // Ticks a follower waits without hearing a leader before campaigning; the actual timeout
  // is drawn from [election_tick, 2 * election_tick). REQUIRES: > heartbeat_tick.
  int election_tick = 10;
  // Ticks between a leader's heartbeats.
  int heartbeat_tick = 1;
  const Storage* storage = nullptr;
  // The application's last applied index when restarting (0: start from storage).
  uint64_t applied = 0;
  // Byte limit of entries in one MsgApp (at least one entry is always sent).
  uint64_t max_size_per_msg_bytes = 1 << 20;
  // Byte limit of committed entries in one Ready. 0: max_size_per_msg_bytes.
  uint64_t max_committed_size_per_ready_bytes = 0;
  // Byte limit of the payloads a leader holds uncommitted; proposals beyond it are refused
  // with ResourceExhausted. 0: no limit.
  uint64_t max_uncommitted_entries_bytes = 0;
  // MsgApp in flight to one follower in replicate state. REQUIRES: > 0.
  int max_inflight_msgs = 256;
  // Payload bytes in flight to one follower. 0: no limit.
  uint64_t max_inflight_bytes = 0;
  // A leader steps down when it has not heard from a quorum within an election timeout,
  // and followers ignore vote requests while they hear from a leader.
  bool check_quorum = false;
  // Campaign with a PreVote round first, so that a partitioned node rejoining does not
  // disrupt the cluster by bumping the term.
  bool pre_vote = false;
  ReadOnlyOption read_only_option = ReadOnlyOption::kSafe;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // A leader removed from (or demoted out of) the voters steps down.
  bool step_down_on_removal = true;
  // A leader that commits does not send an append to every follower just to carry the
  // new commit index: followers learn it with the next append or heartbeat (at most
  // heartbeat_tick later). Followers then apply later, but a lone write costs two
  // messages, two answers and a follower Ready fewer per follower, about a third of the
  // cluster's CPU per write (docs/performance.md). Still broadcast when a configuration
  // change is committed or pending, so members learn it at once. raft-rs calls this
  // skip_bcast_commit.
  bool skip_broadcast_commit = false;
  // Seeds the node's election-jitter generator. Any value; the simulator derives it.
  uint64_t seed = 0;
  absl::Status Validate() const;
};

// Error returned to a proposer whose proposal was not appended (no leader, transfer in
// progress, uncommitted limit, removed node). The code tells which.
absl::Status ErrProposalDropped(absl::string_view why);

// Counters of inputs the node refused. Malformed or unexpected peer input is dropped and
// counted here, never a crash.
struct DropCounters {
  uint64_t stale_term = 0;     // message from an older term
  uint64_t unknown_peer = 0;   // response from a node not in the configuration
  uint64_t malformed = 0;      // structurally invalid (e.g. MsgReadIndexResp w/o entry)
  uint64_t proposals = 0;      // proposals refused
  uint64_t ignored_votes = 0;  // vote requests ignored under leader lease (CheckQuorum)
  uint64_t read_index_during_transfer = 0;  // lease reads refused while transferring
};

class Raft {
 public:
  // REQUIRES: config.Validate().ok(). Fails if storage cannot be read or holds an
  // inconsistent state.
  static absl::StatusOr<std::unique_ptr<Raft>> Create(const Config& config);

  // Advances logical time by one tick.
  void Tick();
  // Feeds one message. Local messages have term 0. Returns a non-OK status only for a
  // refused proposal; other refused input is counted in drops().
  absl::Status Step(Message m);
  // Applies a committed configuration change. On error the configuration is unchanged (the
  // same happens on every node, since all apply the same entries in the same order).
  absl::StatusOr<ConfState> ApplyConfChange(const ConfChange& cc);
  // The driver persisted the log up to the stable index (RawNode::Advance): the leader's
  // own copy now counts towards commitment.
  void OnEntriesStable();
  // The application applied entries up to index, whose payloads total
  // applied_payload_bytes (released from the leader's uncommitted budget).
  void AppliedTo(uint64_t index, uint64_t applied_payload_bytes);

  // Messages produced so far; the driver takes them after persisting.
  std::vector<Message>& msgs() { return msgs_; }
  const std::vector<Message>& msgs() const { return msgs_; }
  std::vector<ReadState>& read_states() { return read_states_; }
  const std::vector<ReadState>& read_states() const { return read_states_; }

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  // Whether the commit index is at an entry of the current term: until it is, a new
  // leader does not know the newest commit index (Raft thesis 6.4).
  bool CommittedEntryInCurrentTerm() const;
  bool is_learner() const { return is_learner_; }
  uint64_t pending_conf_index() const { return pending_conf_index_; }
  uint64_t uncommitted_size() const { return uncommitted_size_; }
  int election_elapsed() const { return election_elapsed_; }
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  const RaftLog& log() const { return log_; }
  RaftLog& mutable_log() { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  const DropCounters& drops() const { return drops_; }
  const ReadOnly& read_only() const { return read_only_; }
  HardState GetHardState() const { return HardState{term_, vote_, log_.committed()}; }
  SoftState GetSoftState() const { return SoftState{lead_, state_}; }
  // True if this node may become leader (a voter with no pending snapshot).
  bool Promotable() const;

  // Role transitions; public for tests that set up scenarios directly.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  explicit Raft(const Config& config);
  absl::Status Init(const Config& config);
  void LoadState(const HardState& hs);

  // raft.cc: sending and replication.
  void Send(Message m);
  void SendAppend(uint64_t to);
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  bool MaybeSendSnapshot(uint64_t to, Progress* pr);
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BroadcastAppend();
  // After a commit: whether to BroadcastAppend the new commit index now, or (with
  // skip_broadcast_commit) let it wait for the next append or heartbeat. `commit_before`:
  // the commit index before this commit.
  bool ShouldBroadcastCommit(uint64_t commit_before) const;
  void BroadcastHeartbeat();
  void BroadcastHeartbeatWithContext(const std::string& ctx);
  void SendTimeoutNow(uint64_t to);
  // Tells `from` to campaign now if it is the transferee and has the whole log.
  void MaybeSendTimeoutNow(uint64_t from);
  bool MaybeCommit();
  bool AppendEntries(absl::Span<Entry> entries);
  bool IncreaseUncommittedSize(absl::Span<const Entry> entries);
  void ReduceUncommittedSize(uint64_t bytes);

  // raft.cc: roles and time.
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  bool PastElectionTimeout() const;
  void TickElection();
  void TickHeartbeat();
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  void Hup(CampaignType type);
  void Campaign(CampaignType type);
  TallyResult Poll(uint64_t id, MessageType type, bool granted);
  bool HasUnappliedConfChanges() const;
  ConfState SwitchToConfig(ConfigAndProgress cp);

  // raft_step.cc: message handling.
  absl::Status StepLeader(Message& m);
  absl::Status StepCandidate(Message& m);
  absl::Status StepFollower(Message& m);
  absl::Status StepLeaderProposal(Message& m);
  void StepLeaderReadIndex(Message& m);
  void StepLeaderAppendResponse(const Message& m, Progress* pr);
  void StepLeaderHeartbeatResponse(const Message& m, Progress* pr);
  void StepLeaderTransfer(const Message& m, Progress* pr);
  void HandleVoteRequest(const Message& m);
  // Whether a vote request must be ignored because we heard from a leader too recently.
  bool VoteRequestUnderLease(const Message& m) const;
  // A rejected vote may carry the voter's commit index: learn it if our log agrees there.
  void MaybeCommitFromVoteRejection(const Message& m);
  void HandleAppendEntries(Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const std::shared_ptr<const Snapshot>& snapshot);
  void SendReadIndexResponse(Message m);
  void RespondToReadIndex(const Message& request, uint64_t read_index);
  void ReleasePendingReadIndexMessages();

  const uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  uint64_t lead_ = kNone;
  StateType state_ = StateType::kFollower;
  bool is_learner_ = false;
  RaftLog log_;
  ProgressTracker tracker_;
  ReadOnly read_only_;
  Rng rng_;

  std::vector<Message> msgs_;
  // Reused buffer for reading entries to send, so MsgApp needs no allocation of its own.
  std::vector<Entry> send_scratch_;
  std::vector<ReadState> read_states_;
  // ReadIndex requests that arrived before this leader committed an entry of its term.
  std::vector<Message> pending_read_index_messages_;

  uint64_t max_msg_size_bytes_;
  uint64_t max_uncommitted_size_bytes_;
  uint64_t uncommitted_size_ = 0;
  uint64_t lead_transferee_ = kNone;
  // A leader removed from the configuration, handing over before it steps down.
  bool stepping_down_ = false;
  // Index of the newest conf change the leader appended; another may be proposed only once
  // this one is applied.
  uint64_t pending_conf_index_ = 0;

  int election_elapsed_ = 0;
  // Ticks since this node last heard from a leader (or was one), capped at the election
  // timeout; 0 at a restart. Unlike election_elapsed_, no change of term or role resets it:
  // while it is below the election timeout, vote requests are ignored (CheckQuorum).
  int leader_contact_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  const int election_timeout_ticks_;
  const int heartbeat_timeout_ticks_;
  int randomized_election_timeout_ = 0;
  const bool check_quorum_;
  const bool pre_vote_;
  const bool disable_proposal_forwarding_;
  const bool step_down_on_removal_;
  const bool skip_broadcast_commit_;
  DropCounters drops_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_RAFT_H_
