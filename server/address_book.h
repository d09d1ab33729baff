// Where each member is: Raft id -> name and address. Filled from RAFT_PEERS, from the
// context of every applied membership change, from peers' greetings, and on a miss from
// the replicated member directory (node/member_directory.h). Thread-safe.
#ifndef RAFTBADGER_SERVER_ADDRESS_BOOK_H_
#define RAFTBADGER_SERVER_ADDRESS_BOOK_H_

#include <cstdint>
#include <functional>
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
  using Directory = std::function<std::optional<PeerInfo>(uint64_t id)>;
  // Where Find looks up an id it does not know; what it finds is remembered. Set before
  // the book is shared. It runs without the book's lock held.
  void set_directory(Directory directory) { directory_ = std::move(directory); }

  // Records id -> (name, address). Refuses (and changes nothing) if id is known under
  // another name: two names whose ids collide, or two nodes claiming one name.
  absl::Status Learn(uint64_t id, const std::string& name, const std::string& address);
  std::optional<PeerInfo> Find(uint64_t id) const;
  // The name for id, or the id in decimal if unknown (for logs and status).
  std::string NameOf(uint64_t id) const;

 private:
  Directory directory_;
  mutable absl::Mutex mu_;
  mutable std::map<uint64_t, PeerInfo> peers_ ABSL_GUARDED_BY(mu_);  // Find caches
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_ADDRESS_BOOK_H_
