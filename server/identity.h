// Who a node is: its name (NODE_ID, chosen by the user), the Raft id derived from it, and
// the cluster it belongs to, recorded in its data directory so that a restart resumes as
// the same member and a directory of another node or cluster is refused.
#ifndef RAFTBADGER_SERVER_IDENTITY_H_
#define RAFTBADGER_SERVER_IDENTITY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::server {

// The Raft id for a node name: a 63-bit hash (never 0). Names are what users see; ids only
// travel on the wire. Two names that hash alike are caught where both are known (RAFT_PEERS,
// the membership, a peer's greeting) and refused, never silently merged.
uint64_t RaftIdForName(absl::string_view name);

// What a peer says of itself in a conf change's context: "name address".
std::string MemberContext(absl::string_view name, absl::string_view address);
bool ParseMemberContext(absl::string_view context, std::string* name, std::string* address);

// A fresh cluster id: random, 63 bits, never 0.
uint64_t NewClusterId();

struct DataDirIdentity {
  std::string name;
  uint64_t raft_id = 0;
  uint64_t cluster_id = 0;  // 0: not known yet (waiting to be added to a cluster)
  // The bootstrap node added every RAFT_PEERS member once: it never adds them again (one
  // may have been removed since).
  bool peers_added = false;
  // The log index of the change that removed this node from its cluster (0: not removed).
  // A removed node refuses to start over its old data.
  uint64_t removed_at_index = 0;
};

inline constexpr char kIdentityFileName[] = "raftbadger.identity";

// Reads the identity of data_dir. NotFound if the directory holds no RaftBadger data at
// all (a fresh node); FailedPrecondition if it holds files but no readable identity.
absl::StatusOr<DataDirIdentity> ReadIdentity(const std::string& data_dir);
// Writes it durably (temporary file, fsync, rename, fsync of the directory).
absl::Status WriteIdentity(const std::string& data_dir, const DataDirIdentity& identity);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_IDENTITY_H_
