#include "raft/quorum.h"

#include <algorithm>

#include "absl/strings/str_join.h"

namespace rb::raft {

const char* VoteResultName(VoteResult result) {
  switch (result) {
    case VoteResult::kPending:
      return "pending";
    case VoteResult::kLost:
      return "lost";
    case VoteResult::kWon:
      return "won";
  }
  return "unknown";
}

MajorityConfig::MajorityConfig(std::vector<uint64_t> ids) : ids_(std::move(ids)) {
  std::sort(ids_.begin(), ids_.end());
  ids_.erase(std::unique(ids_.begin(), ids_.end()), ids_.end());
}

bool MajorityConfig::Contains(uint64_t id) const {
  return std::binary_search(ids_.begin(), ids_.end(), id);
}

void MajorityConfig::Insert(uint64_t id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it == ids_.end() || *it != id) ids_.insert(it, id);
}

void MajorityConfig::Erase(uint64_t id) {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), id);
  if (it != ids_.end() && *it == id) ids_.erase(it);
}

VoteResult MajorityConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  // An empty configuration wins every vote so that joint quorums reduce to the other half.
  if (ids_.empty()) return VoteResult::kWon;
  size_t yes = 0, missing = 0;
  for (uint64_t id : ids_) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++yes;
    }
  }
  const size_t quorum = ids_.size() / 2 + 1;
  if (yes >= quorum) return VoteResult::kWon;
  if (yes + missing >= quorum) return VoteResult::kPending;
  return VoteResult::kLost;
}

std::string MajorityConfig::DebugString() const { return "(" + absl::StrJoin(ids_, " ") + ")"; }

std::vector<uint64_t> JointConfig::Ids() const {
  std::vector<uint64_t> out;
  std::set_union(incoming.ids().begin(), incoming.ids().end(), outgoing.ids().begin(),
                 outgoing.ids().end(), std::back_inserter(out));
  return out;
}

VoteResult JointConfig::Vote(const std::map<uint64_t, bool>& votes) const {
  const VoteResult a = incoming.Vote(votes);
  const VoteResult b = outgoing.Vote(votes);
  if (a == b) return a;
  if (a == VoteResult::kLost || b == VoteResult::kLost) return VoteResult::kLost;
  return VoteResult::kPending;  // one won, the other is pending
}

}  // namespace rb::raft
