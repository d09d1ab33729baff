// MembershipModel: which nodes the committed log removed, and where, written a second time
// independently of node/member_directory. The member directory keeps a tombstone row per
// removed node (the index of its removal, until it is added again); peers read it to tell a
// node that missed its own removal (node::Transport::TellRemoved), and the server reads it
// before adding a RAFT_PEERS peer. This model follows the committed log in index order, as
// ReferenceModel does, and says what that row must hold at any applied index.
#ifndef RAFTBADGER_SIM_MEMBERSHIP_MODEL_H_
#define RAFTBADGER_SIM_MEMBERSHIP_MODEL_H_

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "raft/types.h"

namespace rb::sim {

class MembershipModel {
 public:
  MembershipModel() = default;
  explicit MembershipModel(raft::ConfState initial) : conf_(std::move(initial)) {}

  // Feeds the committed entry at e.index. Returns false, changing nothing, unless
  // e.index == applied_index() + 1 or e.index <= applied_index() (already fed; ignored).
  bool Apply(const raft::Entry& e);
  uint64_t applied_index() const { return applied_index_; }

  // The index of id's last removal by a change applied at or below `index`, if no later
  // one (up to `index`) added it again; 0 otherwise. REQUIRES: index <= applied_index().
  uint64_t RemovedAt(uint64_t id, uint64_t index) const;

 private:
  raft::ConfState conf_;  // the configuration as of applied_index_
  uint64_t applied_index_ = 0;
  // id -> (index, removed) of every valid change about it, ascending. Ordered maps only.
  std::map<uint64_t, std::vector<std::pair<uint64_t, bool>>> events_;
};

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_MEMBERSHIP_MODEL_H_
