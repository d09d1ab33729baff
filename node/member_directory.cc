#include "node/member_directory.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "base/mutation.h"
#include "base/status_macros.h"
#include "node/state_machine.h"

namespace rb::node {

std::string MemberRowPrefix() {
  std::string prefix(1, kReservedKeyPrefix);
  prefix += "member/";
  return prefix;
}

// Fixed-width hex, so that rows sort by id.
std::string MemberRowKey(uint64_t id) { return MemberRowPrefix() + absl::StrFormat("%016x", id); }

std::optional<uint64_t> MemberIdFromRowKey(absl::string_view key) {
  const std::string prefix = MemberRowPrefix();
  if (!absl::ConsumePrefix(&key, prefix) || key.size() != 16) return std::nullopt;
  uint64_t id = 0;
  if (!absl::SimpleHexAtoi(key, &id)) return std::nullopt;
  return id;
}

std::string RemovedRowKey(uint64_t id) {
  std::string key(1, kReservedKeyPrefix);
  return key + absl::StrFormat("removed/%016x", id);
}

absl::Status RecordMemberChange(KvTxn* txn, const raft::ConfChange& cc, uint64_t index) {
  for (const raft::ConfChangeSingle& c : cc.changes) {
    if (c.type == raft::ConfChangeType::kRemoveNode) {
      RETURN_IF_ERROR(txn->Delete(MemberRowKey(c.node_id)).status());
      const uint64_t removed_at = RB_MUTANT(kTombstoneAfterRemoval) ? index + 1 : index;
      RETURN_IF_ERROR(txn->Put(RemovedRowKey(c.node_id), absl::StrCat(removed_at), index));
    } else {
      RETURN_IF_ERROR(txn->Delete(RemovedRowKey(c.node_id)).status());
    }
  }
  if (cc.context.empty() || cc.changes.empty()) return absl::OkStatus();
  const raft::ConfChangeSingle& described = cc.changes.back();
  if (described.type == raft::ConfChangeType::kRemoveNode) return absl::OkStatus();
  return txn->Put(MemberRowKey(described.node_id), cc.context, index);
}

absl::StatusOr<uint64_t> RemovedAt(const NodeStore& store, uint64_t id) {
  ASSIGN_OR_RETURN(std::optional<std::string> row, store.Get(RemovedRowKey(id)));
  if (!row.has_value()) return 0;
  uint64_t index = 0;
  if (!absl::SimpleAtoi(*row, &index) || index == 0) {
    return absl::DataLossError(
        absl::StrCat("the tombstone of node ", id, " holds no log index: \"", *row, "\""));
  }
  return index;
}

}  // namespace rb::node
