// Invariant checks for the Raft core, in the spirit of LogCabin's RaftConsensusInvariants:
// run after every step in every test build and in the simulator. A violation is a bug in
// the core (or in a driver that broke its contract), reported as a Status naming it.
//
// Per node (CheckNode): index ordering (applied <= committed <= last), role consistency,
// leader progress sanity, unstable entries contiguous with non-decreasing terms.
// Across nodes and time (InvariantChecker::Observe):
//   - election safety: at most one leader per term;
//   - term and commit index never decrease (per node incarnation);
//   - leader append-only: a leader never removes or rewrites entries of its own log;
//   - a leader moves its commit index only onto an entry of its own term;
//   - no campaign, and no win, with a configuration change known committed but unapplied;
//   - log matching: two logs with an entry of the same index and term are identical up to it;
//   - state machine safety: committed prefixes agree;
//   - leader completeness: a leader holds every entry known to be committed.
// And, on demand (CheckCommitSafety), its inductive form: no voter lacking the newest
// committed entry could win an election, so no future leader can lack it.
#ifndef RAFTBADGER_RAFT_INVARIANTS_H_
#define RAFTBADGER_RAFT_INVARIANTS_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "raft/raft.h"

namespace rb::raft {

// A log's bounds, read once per check.
struct LogShape {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t last_term = 0;
  static LogShape Of(const RaftLog& log);
};

absl::Status CheckNode(const Raft& r);
absl::Status CheckNode(const Raft& r, const LogShape& shape);

class InvariantChecker {
 public:
  // Checks every node and the relations between them and with what was observed before.
  absl::Status Observe(const std::vector<const Raft*>& nodes);
  // A node restarted (crash): its volatile state may legitimately go back to what it
  // persisted, so forget its per-incarnation history. Cluster-wide history is kept.
  void ForgetNode(uint64_t id);
  // Enables the O(nodes^2 * log) full log comparison (on by default; the simulator samples).
  void set_full_log_checks(bool on) { full_log_checks_ = on; }

  // Commit safety: the newest entry known committed (index c, term t) is held by a
  // majority whose logs are all more up to date than any log lacking it, so no voter
  // lacking it can collect a majority of votes on log grounds (Raft's election
  // restriction), whatever happens next. Leader completeness only notices a violation once
  // such a voter has won and its leadership is observed; this notices the unsafe commit.
  // `nodes` must be every live node; crashed ones are left out, which only hides
  // violations (a crashed voter might grant a vote), never invents one. Checked only while
  // every node's configuration is the same and not joint (otherwise it returns OK).
  absl::Status CheckCommitSafety(const std::vector<const Raft*>& nodes);
  // Whether something CheckCommitSafety depends on changed since it last ran: the newest
  // commit, or the last term of an observed log. (A log that only grows within its last
  // term is caught at the next commit.)
  bool commit_safety_due() const { return commit_safety_due_; }
  // The highest commit index observed on any node so far (the simulator's read check
  // holds reads to it).
  uint64_t max_committed_index() const { return max_committed_index_; }

 private:
  struct NodeHistory {
    uint64_t term = 0;
    uint64_t commit = 0;
    // While leader: the term and last entry of its log at the previous observation.
    uint64_t leader_term = 0;
    uint64_t leader_last_index = 0;
    uint64_t leader_last_entry_term = 0;
    uint64_t last_term = 0;  // of the log's last entry
    StateType state = StateType::kFollower;
  };

  absl::Status CheckHistory(const Raft& r, const LogShape& shape);
  absl::Status CheckLogsAgree(const Raft& a, const Raft& b) const;

  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<uint64_t, NodeHistory> history_;
  // Highest index known committed anywhere, and its term.
  uint64_t max_committed_index_ = 0;
  uint64_t max_committed_term_ = 0;
  uint64_t max_committed_seen_in_term_ = 0;
  bool full_log_checks_ = true;
  bool commit_safety_due_ = false;
  // Scratch space: the nodes checked (those whose storage has not failed) and their logs.
  std::vector<const Raft*> observed_;
  std::vector<LogShape> shapes_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_INVARIANTS_H_
