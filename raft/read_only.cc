#include "raft/read_only.h"

#include <utility>

#include "base/logging.h"

namespace rb::raft {

std::string ReadOnly::AddRequest(uint64_t index, Message request) {
  RB_CHECK(!request.entries.empty(), "read request without context");
  std::string ctx = request.entries[0].data.str();
  auto known = key_of_ctx_.find(ctx);
  if (known != key_of_ctx_.end()) return known->second;
  // Eight bytes of round first: unique whatever the contexts hold.
  std::string key(8, '\0');
  const uint64_t round = next_round_++;
  for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(round >> (56 - 8 * i));
  key += ctx;
  ReadIndexStatus status;
  status.index = index;
  status.request = std::move(request);
  pending_.emplace(key, std::move(status));
  key_of_ctx_.emplace(std::move(ctx), key);
  queue_.push_back(key);
  return key;
}

const std::map<uint64_t, bool>* ReadOnly::RecvAck(uint64_t id, const std::string& key) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::Advance(const std::string& key) {
  std::vector<ReadIndexStatus> out;
  size_t found = queue_.size();
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i] == key) {
      found = i;
      break;
    }
  }
  if (found == queue_.size()) return out;
  for (size_t i = 0; i <= found; ++i) {
    auto it = pending_.find(queue_.front());
    RB_CHECK(it != pending_.end(), "read queue and pending map disagree");
    key_of_ctx_.erase(it->second.request.entries[0].data.str());
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingRequestKey() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace rb::raft
