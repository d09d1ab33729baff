// Recovering from the loss of a majority (--force-new-cluster), as etcd's flag of the same
// name: one survivor's data becomes a new cluster whose only voter is that survivor.
//
// The survivor keeps its whole log, as if it had won an election: a leader commits its
// predecessors' entries, and so does this. Entries past its commit index may well be
// committed, and acknowledged to clients, by the lost majority: this node only had not
// heard so yet. (etcd drops them; an acknowledged write is then lost for nothing.) Then
// one conf change per other member removes it, appended after the last entry in the
// current term, and the commit index is set past them by fiat (there is no quorum left
// to ask). The node applies them at start like any committed entries. The caller then
// gives the data directory a new cluster id, so that old members that come back are
// refused (their greetings carry the old id) instead of mixing two histories.
#ifndef RAFTBADGER_SERVER_FORCE_NEW_CLUSTER_H_
#define RAFTBADGER_SERVER_FORCE_NEW_CLUSTER_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace rb::server {

struct ForcedCluster {
  uint64_t removed_members = 0;         // 0: the node was alone already (nothing was written)
  uint64_t committed_tail_entries = 0;  // entries past the old commit index, kept
  uint64_t commit_index = 0;            // after the removals
};

// REQUIRES: the store is not open elsewhere; self_id is a voter in the configuration as
// of the last log entry (a learner may lack committed entries). FailedPrecondition
// otherwise.
absl::StatusOr<ForcedCluster> ForceNewCluster(storage::Store* store, uint64_t self_id);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_FORCE_NEW_CLUSTER_H_
