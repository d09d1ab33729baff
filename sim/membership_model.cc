#include "sim/membership_model.h"

#include "base/logging.h"
#include "raft/codec.h"
#include "raft/confchange.h"

namespace rb::sim {

bool MembershipModel::Apply(const raft::Entry& e) {
  if (e.index <= applied_index_) return true;
  if (e.index != applied_index_ + 1) return false;
  applied_index_ = e.index;
  if (e.type != raft::EntryType::kConfChange) return true;
  // A change the configuration refuses (the core then leaves it as it is) records nothing.
  const absl::StatusOr<raft::ConfChange> cc = raft::DecodeConfChange(e.data);
  if (!cc.ok()) return true;
  absl::StatusOr<raft::ConfState> next = raft::NextConfState(conf_, *cc);
  if (!next.ok()) return true;
  conf_ = *std::move(next);
  for (const raft::ConfChangeSingle& c : cc->changes) {
    events_[c.node_id].emplace_back(e.index, c.type == raft::ConfChangeType::kRemoveNode);
  }
  return true;
}

uint64_t MembershipModel::RemovedAt(uint64_t id, uint64_t index) const {
  RB_CHECK(index <= applied_index_, "asked as of ", index, ", applied only ", applied_index_);
  auto it = events_.find(id);
  if (it == events_.end()) return 0;
  uint64_t removed_at = 0;
  for (const auto& [at, removed] : it->second) {
    if (at > index) break;
    removed_at = removed ? at : 0;
  }
  return removed_at;
}

}  // namespace rb::sim
