#include "server/address_book.h"

#include "absl/strings/str_cat.h"

namespace rb::server {

absl::Status AddressBook::Learn(uint64_t id, const std::string& name, const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(id);
  if (it != peers_.end() && it->second.name != name) {
    return absl::AlreadyExistsError(absl::StrCat("node names ", it->second.name, " and ", name,
                                                 " map to one Raft id (", id,
                                                 "); rename one of them"));
  }
  peers_[id] = PeerInfo{name, address};
  return absl::OkStatus();
}

std::optional<PeerInfo> AddressBook::Find(uint64_t id) const {
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(id);
    if (it != peers_.end()) return it->second;
  }
  if (!directory_ || id == 0) return std::nullopt;
  std::optional<PeerInfo> found = directory_(id);
  if (!found) return std::nullopt;
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = peers_.emplace(id, *found);
  return it->second;  // what another thread recorded meanwhile wins
}

std::string AddressBook::NameOf(uint64_t id) const {
  if (id == 0) return "";
  auto p = Find(id);
  return p ? p->name : absl::StrCat(id);
}

}  // namespace rb::server
