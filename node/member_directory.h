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

// Records the effect of a valid conf change committed at `index`: a removed node's row is
// deleted; the node the context describes (the last change's, by convention) gets the
// context as its row, if it is added. A change without context leaves rows as they are.
absl::Status RecordMemberChange(KvTxn* txn, const raft::ConfChange& cc, uint64_t index);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_MEMBER_DIRECTORY_H_
