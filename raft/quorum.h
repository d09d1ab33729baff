// Quorum arithmetic for majority and joint (two-majority) configurations.
#ifndef RAFTBADGER_RAFT_QUORUM_H_
#define RAFTBADGER_RAFT_QUORUM_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace rb::raft {

enum class VoteResult : uint8_t { kPending, kLost, kWon };
const char* VoteResultName(VoteResult result);

// Returns the index acknowledged by voter `id`, or false if it has acknowledged nothing.
using AckedIndexFn = std::function<bool(uint64_t id, uint64_t* index)>;

// A set of voters; sorted, no duplicates.
class MajorityConfig {
 public:
  MajorityConfig() = default;
  explicit MajorityConfig(std::vector<uint64_t> ids);

  bool Contains(uint64_t id) const;
  void Insert(uint64_t id);
  void Erase(uint64_t id);
  void Clear() { ids_.clear(); }
  size_t size() const { return ids_.size(); }
  bool empty() const { return ids_.empty(); }
  const std::vector<uint64_t>& ids() const { return ids_; }

  // The largest index acknowledged by a majority. An empty config returns the maximum
  // uint64, so that it does not constrain a joint configuration.
  template <typename AckedFn>
  uint64_t CommittedIndex(const AckedFn& acked) const;
  // Outcome of an election given the votes so far (absent voters have not answered).
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;

  bool operator==(const MajorityConfig& o) const { return ids_ == o.ids_; }
  std::string DebugString() const;

 private:
  std::vector<uint64_t> ids_;
};

// Joint consensus: decisions need a majority of both halves. outgoing is empty unless joint.
struct JointConfig {
  MajorityConfig incoming;
  MajorityConfig outgoing;

  bool IsJoint() const { return !outgoing.empty(); }
  bool Contains(uint64_t id) const { return incoming.Contains(id) || outgoing.Contains(id); }
  // Union of both halves, sorted.
  std::vector<uint64_t> Ids() const;
  template <typename AckedFn>
  uint64_t CommittedIndex(const AckedFn& acked) const {
    const uint64_t a = incoming.CommittedIndex(acked);
    const uint64_t b = outgoing.CommittedIndex(acked);
    return a < b ? a : b;
  }
  VoteResult Vote(const std::map<uint64_t, bool>& votes) const;
  bool operator==(const JointConfig& o) const {
    return incoming == o.incoming && outgoing == o.outgoing;
  }
};

// Voter sets are small (at most a few dozen), so a stack array avoids allocation on the
// commit path; larger sets are a configuration bug caught here.
inline constexpr size_t kMaxVoters = 64;

template <typename AckedFn>
uint64_t MajorityConfig::CommittedIndex(const AckedFn& acked) const {
  const size_t n = ids_.size();
  if (n == 0) return std::numeric_limits<uint64_t>::max();
  uint64_t sorted[kMaxVoters];
  if (n > kMaxVoters) return 0;  // unreachable: configurations are validated
  for (size_t i = 0; i < n; ++i) {
    uint64_t index = 0;
    if (!acked(ids_[i], &index)) index = 0;
    // Insertion sort, descending: n is tiny.
    size_t j = i;
    while (j > 0 && sorted[j - 1] < index) {
      sorted[j] = sorted[j - 1];
      --j;
    }
    sorted[j] = index;
  }
  // The (n/2+1)-th largest index is held by a majority.
  return sorted[n / 2];
}

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_QUORUM_H_
