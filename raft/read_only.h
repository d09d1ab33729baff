// ReadOnly: bookkeeping for linearizable reads (ReadIndex, Raft thesis section 6.4).
//
// kSafe: the leader records its commit index, then confirms it is still leader by a round
// of heartbeats carrying the request's context; once a quorum acknowledges, every read
// queued up to that one may be served at its recorded index.
// kLeaseBased: the leader answers at once, trusting that no other leader can exist within
// an election timeout of its last quorum contact (needs CheckQuorum; unsafe under
// unbounded clock drift).
#ifndef RAFTBADGER_RAFT_READ_ONLY_H_
#define RAFTBADGER_RAFT_READ_ONLY_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "raft/types.h"

namespace rb::raft {

enum class ReadOnlyOption : uint8_t { kSafe, kLeaseBased };

struct ReadIndexStatus {
  Message request;
  uint64_t index = 0;
  std::map<uint64_t, bool> acks;  // voter id -> acknowledged (always true once present)
};

class ReadOnly {
 public:
  explicit ReadOnly(ReadOnlyOption option) : option_(option) {}

  ReadOnlyOption option() const { return option_; }
  // Queues a read at `index`. The context is request.entries[0].data; duplicates ignored.
  void AddRequest(uint64_t index, Message request);
  // Records a heartbeat acknowledgment from id for ctx. Returns the acks so far, or null if
  // ctx is unknown.
  const std::map<uint64_t, bool>* RecvAck(uint64_t id, const std::string& ctx);
  // Removes and returns every queued read up to and including ctx, oldest first.
  std::vector<ReadIndexStatus> Advance(const std::string& ctx);
  // Context of the newest pending read, or empty.
  std::string LastPendingRequestCtx() const;

 private:
  ReadOnlyOption option_;
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_READ_ONLY_H_
