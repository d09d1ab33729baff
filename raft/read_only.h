// ReadOnly: bookkeeping for linearizable reads (ReadIndex, Raft thesis section 6.4).
//
// kSafe: the leader records its commit index, then confirms it is still leader by a round
// of heartbeats carrying the request's round key; once a quorum acknowledges, every read
// queued up to that one may be served at its recorded index.
//
// The key on the wire is the request's context prefixed with a round number unique to
// this leadership, not the context alone: an acknowledgment then counts only for the round
// it answers. With the bare context, a duplicate of a request answered earlier (the
// network may duplicate and delay messages) took the old round's late acknowledgments as
// its own, and confirmed every read queued before it, while this leader may have long been
// deposed (found by the simulator).
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
  // Queues a read at `index` and returns the key its heartbeats carry. The request's context
  // is request.entries[0].data; a request whose context is already pending is not queued
  // again (its key is returned).
  std::string AddRequest(uint64_t index, Message request);
  // Records a heartbeat acknowledgment from id for a key. Returns the acks so far, or null
  // if the key is unknown (another round's, or answered).
  const std::map<uint64_t, bool>* RecvAck(uint64_t id, const std::string& key);
  // Removes and returns every queued read up to and including the key's, oldest first.
  std::vector<ReadIndexStatus> Advance(const std::string& key);
  // Key of the newest pending read, or empty.
  std::string LastPendingRequestKey() const;

 private:
  ReadOnlyOption option_;
  uint64_t next_round_ = 1;
  std::map<std::string, ReadIndexStatus> pending_;  // by key
  std::map<std::string, std::string> key_of_ctx_;   // pending requests' contexts
  std::deque<std::string> queue_;                   // keys, oldest first
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_READ_ONLY_H_
