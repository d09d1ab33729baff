// Joining a running cluster (--join): a node with no data asks any member, through the
// client library (which finds the leader), to add it as a learner. The leader then sends
// it the log or a snapshot, and promotes it once it has caught up (MembershipKeeper).
//
// Asking again is harmless: a member that is asked to add itself again changes nothing.
// So a node that crashes at any point of joining simply asks again when it restarts with
// an empty store, and a node whose store has data never asks.
#ifndef RAFTBADGER_SERVER_JOIN_H_
#define RAFTBADGER_SERVER_JOIN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/address_book.h"
#include "server/config.h"
#include "server/security.h"

namespace rb::server {

struct JoinRequest {
  std::vector<std::string> endpoints;      // members to ask (host:port)
  std::string name;                        // this node's NODE_ID
  std::string address;                     // this node's RAFT_ADDRESS
  const NodeSecurity* security = nullptr;  // how to dial them; must outlive the Joiner
};

// Asks on its own thread, retrying while the cluster cannot answer, until it succeeds,
// fails for good, or is destroyed. done runs once, on that thread, with the cluster id
// on success or the error that makes retrying pointless (a name clash, a bad address).
class Joiner {
 public:
  Joiner(JoinRequest request, std::function<void(absl::StatusOr<uint64_t>)> done);
  ~Joiner();

 private:
  void Run();

  const JoinRequest request_;
  const std::function<void(absl::StatusOr<uint64_t>)> done_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// What a bootstrap node that no longer leads uses to have the RAFT_PEERS it has not added
// yet added by the leader (MembershipKeeperOptions::ask_leader_to_add): one MemberAdd call
// with unless_removed to the leader's address in `book`, with a 2 s deadline. Returns the
// index of the peer's removal, or 0 once it is a member. `book` and `security` must
// outlive the function; it is called from one thread at a time.
std::function<absl::StatusOr<uint64_t>(const PeerSpec& peer, uint64_t leader)> SeedPeerAsker(
    const AddressBook* book, const NodeSecurity* security);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_JOIN_H_
