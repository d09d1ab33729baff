// Inflights: the bounded window of MsgApp a leader has sent to one follower and not yet
// seen acknowledged. A fixed ring buffer, allocated once, so the replicate path adds no
// allocation per message.
#ifndef RAFTBADGER_RAFT_INFLIGHTS_H_
#define RAFTBADGER_RAFT_INFLIGHTS_H_

#include <cstddef>
#include <cstdint>
#include <memory>

namespace rb::raft {

class Inflights {
 public:
  // max_bytes == 0 means no byte limit. REQUIRES: capacity > 0.
  Inflights(size_t capacity, uint64_t max_bytes);
  Inflights(const Inflights& other);
  Inflights& operator=(const Inflights& other);

  // Records a message whose last entry has `index` and whose payload is `bytes`.
  // REQUIRES: !Full(), index greater than every recorded index.
  void Add(uint64_t index, uint64_t bytes);
  // Forgets every message with last index <= to.
  void FreeLE(uint64_t to);
  void Reset();
  bool Full() const;
  size_t Count() const { return count_; }
  uint64_t Bytes() const { return bytes_; }

 private:
  struct Slot {
    uint64_t index;
    uint64_t bytes;
  };

  size_t capacity_;
  uint64_t max_bytes_;
  size_t start_ = 0;
  size_t count_ = 0;
  uint64_t bytes_ = 0;
  std::unique_ptr<Slot[]> buffer_;  // allocated on first Add
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_INFLIGHTS_H_
