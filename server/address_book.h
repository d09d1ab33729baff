// Where each member is: Raft id -> name and address. Filled from RAFT_PEERS, from the
// context of every applied membership change, and from peers' greetings. Thread-safe.
#ifndef RAFTBADGER_SERVER_ADDRESS_BOOK_H_
#define RAFTBADGER_SERVER_ADDRESS_BOOK_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace rb::server {

struct PeerInfo {
  std::string name;
  std::string address;
};

class AddressBook {
 public:
  // Records id -> (name, address). Refuses (and changes nothing) if id is known under
  // another name: two names whose ids collide, or two nodes claiming one name.
  absl::Status Learn(uint64_t id, const std::string& name, const std::string& address);
  std::optional<PeerInfo> Find(uint64_t id) const;
  // The name for id, or the id in decimal if unknown (for logs and status).
  std::string NameOf(uint64_t id) const;

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, PeerInfo> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_ADDRESS_BOOK_H_
