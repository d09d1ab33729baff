// The membership directory: each member's name and address, kept in the replicated state
// machine beside the configuration.
//
// The core's configuration holds only Raft ids. Where each member is listening travels in
// the context of the conf change that added it ("name address", see server/identity.h);
// applying that change records it here, in a reserved row, and a removal deletes the row.
// Since the rows are state machine rows, every replica holds them at the same applied
// index, they travel inside snapshots (a node that catches up by snapshot never sees the
// conf change entries) and survive restarts; the digest covers them.
#ifndef RAFTBADGER_NODE_MEMBER_DIRECTORY_H_
#define RAFTBADGER_NODE_MEMBER_DIRECTORY_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "node/node_store.h"
#include "raft/types.h"

namespace rb::node {

// The key prefix of member rows, and the row of one member.
std::string MemberRowPrefix();
std::string MemberRowKey(uint64_t id);
// The id a member row's key names; nullopt for any other key.
std::optional<uint64_t> MemberIdFromRowKey(absl::string_view key);

// The row that marks a node as removed (a tombstone), kept until the node is added again.
std::string RemovedRowKey(uint64_t id);

// Records the effect of a valid conf change committed at `index`: a removed node's row is
// deleted and a tombstone row written for it; an added node's tombstone is deleted; the
// node the context describes (the last change's, by convention) gets the context as its
// row, if it is added. A change without context leaves member rows as they are.
absl::Status RecordMemberChange(KvTxn* txn, const raft::ConfChange& cc, uint64_t index);

// The log index of `id`'s removal, if the state machine holds its tombstone (it was
// removed, and not added again as of the applied index); 0 if it holds none. DataLoss for
// a tombstone that does not hold an index (only RecordMemberChange writes them).
absl::StatusOr<uint64_t> RemovedAt(const NodeStore& store, uint64_t id);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_MEMBER_DIRECTORY_H_
