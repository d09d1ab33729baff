// Starting a new cluster the way the old Go service did (one node with BOOTSTRAP=true adds
// the RAFT_PEERS), done as etcd and Raft's thesis would: the bootstrap node's first log
// entry adds itself, so a node that joins later replays the whole membership from the
// log; each peer is then added as a learner and promoted to voter once it has caught up,
// one change at a time, so an absent peer never blocks the cluster's commits.
#ifndef RAFTBADGER_SERVER_BOOTSTRAP_H_
#define RAFTBADGER_SERVER_BOOTSTRAP_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/config.h"
#include "server/node_host.h"
#include "storage/store.h"

namespace rb::server {

// Writes the first entry of a new cluster into an empty store: a committed conf change
// adding this node (id, with "name address" as context). REQUIRES: the store is empty.
absl::Status BootstrapNewCluster(storage::Store* store, uint64_t id, const std::string& name,
                                 const std::string& address);

// While this node leads, adds each peer as a learner, then promotes it once its log is
// within a few entries of the leader's commit index. Retries every `period` until every
// peer is a voter; a no-op on a node that does not lead.
class PeerAdder {
 public:
  PeerAdder(NodeHost* host, std::vector<PeerSpec> peers,
            absl::Duration period = absl::Milliseconds(300));
  ~PeerAdder();
  bool done() const { return done_.load(); }

 private:
  void Run();
  void Step(node::Node& n);

  NodeHost* host_;
  const std::vector<PeerSpec> peers_;
  const absl::Duration period_;
  std::atomic<bool> done_{false};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_BOOTSTRAP_H_
