// Mutants: deliberate, realistic Raft bugs that prove the simulator catches what it claims.
//
// Each mutant is one small mistake an implementer could make (see the catalogue below),
// marked in the production source at the line it changes:
//
//   if (RB_MUTANT(kVoteIgnoresLog) || log_.IsUpToDate(m.index, m.log_term)) { ... }
//
// In a normal build RB_MUTANT(k) is the constant false: the mutant's code is dead and the
// optimizer drops it, so no production binary carries any mutant. Only targets built with
// base/mutation.bzl's rules (//sim:mutants, //sim:simulate_mutants, the checker tests)
// compile RB_MUTANTS in; there each point asks at run time whether its mutant is the one
// activated, and with none activated behaves exactly as the production code.
#ifndef RAFTBADGER_BASE_MUTATION_H_
#define RAFTBADGER_BASE_MUTATION_H_

#include <optional>
#include <string>
#include <vector>

namespace rb::mutation {

// X(id, name, area, what): the catalogue. `area` is what a reader would look under.
#define RB_MUTANT_CATALOGUE(X)                                                                \
  /* Persistence order and the storage contract. */                                           \
  X(kSendBeforePersist, "send_before_persist", "persistence",                                 \
    "node: a Ready's messages (votes, append acknowledgments) leave before its writes are "   \
    "durable")                                                                                \
  X(kSkipVotePersistence, "skip_vote_persistence", "persistence",                             \
    "node: the hard state is written without the vote")                                       \
  X(kLeaderCountsUnstable, "leader_counts_unstable", "persistence",                           \
    "core: a leader counts its own new entries towards the quorum before they are durable")   \
  X(kStoreKeepsStaleTail, "store_keeps_stale_tail", "storage contract",                       \
    "log store: an append that overwrites part of the log keeps the old entries after it")    \
  /* Elections and terms. */                                                                  \
  X(kVoteIgnoresLog, "vote_ignores_log", "elections",                                         \
    "core: a vote is granted without the up-to-date log check (election restriction)")        \
  X(kVoteTwiceInTerm, "vote_twice_in_term", "elections",                                      \
    "core: a node grants its vote in a term where it already voted for another")              \
  X(kTallyMixesTerms, "tally_mixes_terms", "elections",                                       \
    "core: a candidate counts vote responses from an earlier term")                           \
  X(kIgnoreHigherTermResponse, "ignore_higher_term_response", "terms",                        \
    "core: a response carrying a higher term is handled as if of the current term, without "  \
    "stepping down")                                                                          \
  X(kAcceptStaleTermAppend, "accept_stale_term_append", "terms",                              \
    "core: a follower accepts appends from the leader of an older term")                      \
  /* Log matching and truncation. */                                                          \
  X(kAppendSkipsPrevTermCheck, "append_skips_prev_term_check", "log matching",                \
    "core: an append is accepted when the follower has the previous index, whatever its "     \
    "term")                                                                                   \
  X(kTruncateOnMatchingAppend, "truncate_on_matching_append", "truncation",                   \
    "core: an append that matches but ends early (an old, delayed one) cuts the log after "   \
    "its last entry")                                                                         \
  /* Commit rules. */                                                                         \
  X(kCommitByCounting, "commit_by_counting", "commit",                                        \
    "core: a leader commits an entry of an earlier term by counting replicas (Figure 8)")     \
  X(kCommitPastNewEntries, "commit_past_new_entries", "commit",                               \
    "core: a follower takes the leader's commit index up to its own last index, not the "     \
    "append's last entry")                                                                    \
  X(kHeartbeatCommitUnbounded, "heartbeat_commit_unbounded", "commit",                        \
    "core: a heartbeat carries the leader's commit index even past what the follower is "     \
    "known to match")                                                                         \
  /* Flow control. */                                                                         \
  X(kHeartbeatRespKeepsPause, "heartbeat_resp_keeps_pause", "flow control",                   \
    "core: a heartbeat's answer neither lifts a paused follower's pause nor sends it what "   \
    "it lacks (a lost probe leaves the follower behind for good)")                            \
  /* Reads. */                                                                                \
  X(kReadIndexWithoutQuorum, "read_index_without_quorum", "reads",                            \
    "core: a leader answers ReadIndex without a heartbeat round confirming it still leads")   \
  X(kReadIndexBeforeTermCommit, "read_index_before_term_commit", "reads",                     \
    "core: a new leader answers ReadIndex before committing an entry of its term")            \
  X(kVoteIgnoresLeaderLease, "vote_ignores_leader_lease", "reads",                            \
    "core: a follower that just heard from a leader still votes for a rival (lease reads "    \
    "rely on it not to)")                                                                     \
  X(kLeaseFromAck, "lease_from_ack", "reads",                                                 \
    "node: a leader's lease runs from when the quorum's acknowledgments arrive, not from "    \
    "when the heartbeats were sent")                                                          \
  X(kLeaseDuringTransfer, "lease_during_transfer", "reads",                                   \
    "node: a leader keeps serving lease reads while it hands leadership over, and after "     \
    "(the transferee's campaign overrides the lease)")                                        \
  X(kReadJoinsSentRound, "read_joins_sent_round", "reads",                                    \
    "node: a linearizable read joins the ReadIndex round of an earlier batch while it is "    \
    "pending, though that round's heartbeats left before the read arrived")                   \
  X(kReadJoinsRoundInFlight, "read_joins_round_in_flight", "reads",                           \
    "node: a linearizable read that arrives while a ReadIndex round is out joins that round " \
    "instead of waiting for the next")                                                        \
  /* Membership. */                                                                           \
  X(kConfChangeWhilePending, "conf_change_while_pending", "membership",                       \
    "core: a leader accepts a configuration change while an earlier one is unapplied")        \
  X(kCampaignWithUnappliedConf, "campaign_with_unapplied_conf", "membership",                 \
    "core: a node campaigns while a committed configuration change is still unapplied")       \
  X(kTombstoneAfterRemoval, "tombstone_after_removal", "membership",                          \
    "member directory: a removal's tombstone holds the index after the removal's entry "      \
    "(where the node is first out), so a node told of its removal looks for it there")        \
  /* Snapshots. */                                                                            \
  X(kInstallStaleSnapshot, "install_stale_snapshot", "snapshots",                             \
    "core: a follower installs a snapshot older than its commit index")                       \
  X(kSnapshotMatchByIndex, "snapshot_match_by_index", "snapshots",                            \
    "core: a follower that has the snapshot's index keeps its log and commits there, "        \
    "without comparing the term")                                                             \
  X(kSnapshotSkipsSessions, "snapshot_skips_sessions", "snapshots",                           \
    "log store: installing a snapshot restores the key-value rows but keeps the old session " \
    "table")                                                                                  \
  /* Sessions. */                                                                             \
  X(kSessionReapplies, "session_reapplies", "sessions",                                       \
    "state machine: a retried command (same client and seq) is applied again")

enum class Mutant : int {
  kNone = 0,
#define RB_MUTANT_ENUM(id, name, area, what) id,
  RB_MUTANT_CATALOGUE(RB_MUTANT_ENUM)
#undef RB_MUTANT_ENUM
};

struct MutantInfo {
  Mutant id;
  const char* name;
  const char* area;
  const char* what;
};

#ifdef RB_MUTANTS
inline constexpr bool kBuildHasMutants = true;

// The one active mutant of this process (kNone: none). Mutation points read it; the
// simulator's runs are single-threaded and a run sets it before it starts.
Mutant Active();
void Activate(Mutant m);
inline bool IsActive(Mutant m) { return Active() == m; }

// Every mutant, in catalogue order.
const std::vector<MutantInfo>& Catalogue();
std::optional<MutantInfo> FindMutant(const std::string& name);
// The catalogue name of `m` ("" for kNone).
const char* MutantName(Mutant m);

#define RB_MUTANT(id) (::rb::mutation::IsActive(::rb::mutation::Mutant::id))
#else
inline constexpr bool kBuildHasMutants = false;
// Names the mutant (a typo fails to compile in every build), then yields a constant.
#define RB_MUTANT(id) (static_cast<void>(::rb::mutation::Mutant::id), false)
#endif

}  // namespace rb::mutation

#endif  // RAFTBADGER_BASE_MUTATION_H_
