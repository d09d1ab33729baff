// Starting a new cluster the way the old Go service did (one node with BOOTSTRAP=true adds
// the RAFT_PEERS), done as etcd and Raft's thesis would: the bootstrap node's first log
// entry adds itself, so a node that joins later replays the whole membership from the
// log; each peer is then added as a learner and promoted to voter once it has caught up,
// one change at a time, so an absent peer never blocks the cluster's commits. The same
// keeper promotes the learners that `raftbadger-cli member add` and --join bring in.
#ifndef RAFTBADGER_SERVER_BOOTSTRAP_H_
#define RAFTBADGER_SERVER_BOOTSTRAP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/node_host.h"
#include "storage/store.h"

namespace rb::server {

// Writes the first entry of a new cluster into an empty store: a committed conf change
// adding this node (id, with "name address" as context). REQUIRES: the store is empty.
absl::Status BootstrapNewCluster(storage::Store* store, uint64_t id, const std::string& name,
                                 const std::string& address);

struct MembershipKeeperOptions {
  // RAFT_PEERS to add as learners (the bootstrap node's, until every one of them is a voter
  // or was removed; then on_seeded runs, and they are not added again). While this node
  // leads it adds them itself; while another leads it asks that one (ask_leader_to_add).
  std::vector<PeerSpec> seed_peers;
  std::function<void()> on_seeded;
  // Asks `leader` (a Raft id) to add `peer` as a learner unless it was removed from the
  // cluster (MemberAddRequest.unless_removed). Returns the index of its removal, or 0 if
  // it is now a member. Called on the keeper's own thread, never the loop; it may block
  // (bounded by its own deadline). Unset: seed peers are added only while this node leads.
  std::function<absl::StatusOr<uint64_t>(const PeerSpec& peer, uint64_t leader)> ask_leader_to_add;
  // A learner that answered the leader recently and is within this many entries of the
  // commit index is promoted to voter.
  uint64_t promote_lag_entries = 100;
  absl::Duration period = absl::Milliseconds(300);
  // This node's context ("name address") and a reader of the member directory: a leader
  // whose own row is missing or different (a cluster restored from a backup, or from
  // before the directory existed) records it with a conf change that changes nothing else.
  std::string self_context;
  std::function<std::optional<std::string>(uint64_t id)> read_member_row;
  // A member's name, for the log.
  std::function<std::string(uint64_t id)> name_of = [](uint64_t id) { return std::to_string(id); };
  // The log index at which `id` was removed from the cluster, as of the applied index (its
  // tombstone, node/member_directory.h); 0 if it was not, or was added again since. A seed
  // peer removed before every seed peer was a voter is not added again. Unset: none was.
  std::function<absl::StatusOr<uint64_t>(uint64_t id)> removed_at;
};

// Runs on every node. While its node leads, one membership change at a time: promotes each
// caught-up learner (added by RAFT_PEERS or `member add`), then adds the seed peers not yet
// in the configuration and never removed from it. An absent peer stays a learner, so it
// never counts towards (or blocks) the cluster's quorum. While another node leads, a node
// with seed peers left to add asks the leader to add them, one per period: leadership can
// move away from the bootstrap node before it added them all.
class MembershipKeeper {
 public:
  MembershipKeeper(NodeHost* host, MembershipKeeperOptions options);
  ~MembershipKeeper();
  bool seeded() const { return seeded_.load(); }

 private:
  void Run();
  void Step(node::Node& n);
  // Proposes recording this node's own member row if it is missing; true if it did.
  bool RecordOwnRow(node::Node& n);
  // Proposes promoting a learner that has caught up; true if it did.
  bool PromoteCaughtUpLearner(node::Node& n);
  // Where seeding stands in this node's configuration (as of its applied index).
  enum class Seeding {
    kDone,     // every seed peer is a voter or was removed from the cluster
    kWaiting,  // nothing to add now: some are still learners (or a tombstone was unreadable)
    kAdd,      // *next is neither in the configuration nor removed
  };
  Seeding NextSeedPeer(node::Node& n, const PeerSpec** next);
  // Proposes adding `next` (leader), or hands it to the keeper's thread to ask the leader.
  void AddSeedPeer(node::Node& n, const PeerSpec& next);
  void MarkSeeded();
  // A seed peer to ask a leader for, left by the loop for the keeper's thread.
  struct Ask {
    PeerSpec peer;
    uint64_t leader = 0;
  };
  // On the keeper's thread.
  void AskLeaderToAdd(const Ask& ask);

  NodeHost* host_;
  const MembershipKeeperOptions options_;
  std::atomic<bool> seeded_;
  bool own_row_checked_ = false;       // on the loop only
  std::set<uint64_t> removed_logged_;  // seed peers found removed, told once; loop only
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Ask> to_ask_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// Whether the leader may promote the learner with this progress (see
// MembershipKeeperOptions::promote_lag_entries).
bool CaughtUp(const raft::Progress& learner, uint64_t committed, uint64_t lag_entries);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_BOOTSTRAP_H_
