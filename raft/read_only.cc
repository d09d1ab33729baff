#include "raft/read_only.h"

#include <utility>

#include "base/logging.h"

namespace rb::raft {

void ReadOnly::AddRequest(uint64_t index, Message request) {
  RB_CHECK(!request.entries.empty(), "read request without context");
  std::string ctx = request.entries[0].data.str();
  if (pending_.count(ctx) > 0) return;
  ReadIndexStatus status;
  status.index = index;
  status.request = std::move(request);
  pending_.emplace(ctx, std::move(status));
  queue_.push_back(std::move(ctx));
}

const std::map<uint64_t, bool>* ReadOnly::RecvAck(uint64_t id, const std::string& ctx) {
  auto it = pending_.find(ctx);
  if (it == pending_.end()) return nullptr;
  it->second.acks[id] = true;
  return &it->second.acks;
}

std::vector<ReadIndexStatus> ReadOnly::Advance(const std::string& ctx) {
  std::vector<ReadIndexStatus> out;
  size_t found = queue_.size();
  for (size_t i = 0; i < queue_.size(); ++i) {
    if (queue_[i] == ctx) {
      found = i;
      break;
    }
  }
  if (found == queue_.size()) return out;
  for (size_t i = 0; i <= found; ++i) {
    auto it = pending_.find(queue_.front());
    RB_CHECK(it != pending_.end(), "read queue and pending map disagree");
    out.push_back(std::move(it->second));
    pending_.erase(it);
    queue_.pop_front();
  }
  return out;
}

std::string ReadOnly::LastPendingRequestCtx() const {
  return queue_.empty() ? std::string() : queue_.back();
}

}  // namespace rb::raft
