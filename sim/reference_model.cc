#include "sim/reference_model.h"

#include <algorithm>

#include "base/logging.h"
#include "proto/kv.pb.h"

namespace rb::sim {

namespace kvpb = raftbadger::kvpb;

bool ReferenceModel::Apply(uint64_t index, bool is_command, absl::string_view command) {
  if (index <= applied_index_) return true;
  if (index != applied_index_ + 1) return false;
  applied_index_ = index;
  kvpb::Command cmd;
  if (!is_command || command.empty() ||
      !cmd.ParseFromArray(command.data(), static_cast<int>(command.size())) ||
      cmd.op_case() == kvpb::Command::OP_NOT_SET) {
    return true;
  }
  log_time_ms_ = std::max(log_time_ms_, cmd.time_ms());
  const bool admitted = cmd.op_case() == kvpb::Command::kRegisterSession || cmd.client_id() == 0 ||
                        Admit(cmd.client_id(), cmd.seq(), log_time_ms_);
  if (cmd.op_case() == kvpb::Command::kRegisterSession) {
    live_[index] = Session{0, log_time_ms_};
    lru_[{log_time_ms_, index}] = true;
    if (live_.size() > sessions_.max_sessions) {
      RemoveLeastRecent(
          static_cast<int>(std::min<uint64_t>(live_.size() - sessions_.max_sessions, 8)),
          UINT64_MAX);
    }
  }
  if (log_time_ms_ >= sessions_.idle_timeout_ms) {
    RemoveLeastRecent(sessions_.expire_per_command, log_time_ms_ - sessions_.idle_timeout_ms + 1);
  }
  if (!admitted) return true;
  switch (cmd.op_case()) {
    case kvpb::Command::kPut:
      if (!cmd.put().require_existing() || Current(cmd.put().key())) {
        Set(cmd.put().key(), index, cmd.put().value());
      }
      break;
    case kvpb::Command::kDelete:
      Set(cmd.delete_().key(), index, std::nullopt);
      break;
    case kvpb::Command::kCas: {
      const std::optional<std::string> current = Current(cmd.cas().key());
      const bool matches =
          cmd.cas().expect_absent() ? !current.has_value() : current == cmd.cas().expected();
      if (matches) Set(cmd.cas().key(), index, cmd.cas().value());
      break;
    }
    default:
      break;
  }
  return true;
}

std::optional<std::string> ReferenceModel::ValueAt(const std::string& key, uint64_t index) const {
  RB_CHECK(index <= applied_index_, "model asked about index ", index, " beyond ", applied_index_);
  auto it = history_.find(key);
  if (it == history_.end()) return std::nullopt;
  const auto& versions = it->second;
  // The last version written at or before index.
  auto after = std::upper_bound(versions.begin(), versions.end(), index,
                                [](uint64_t i, const auto& v) { return i < v.first; });
  if (after == versions.begin()) return std::nullopt;
  return std::prev(after)->second;
}

bool ReferenceModel::Admit(uint64_t client_id, uint64_t seq, uint64_t now_ms) {
  auto it = live_.find(client_id);
  if (it == live_.end() || seq <= it->second.seq) return false;  // expired, or a retry
  lru_.erase({it->second.last_active_ms, client_id});
  it->second = Session{seq, now_ms};
  lru_[{now_ms, client_id}] = true;
  return true;
}

void ReferenceModel::RemoveLeastRecent(int limit, uint64_t idle_before_ms) {
  for (int i = 0; i < limit && !lru_.empty(); ++i) {
    const auto [last_active_ms, client_id] = lru_.begin()->first;
    if (last_active_ms >= idle_before_ms) break;
    lru_.erase(lru_.begin());
    live_.erase(client_id);
  }
}

void ReferenceModel::Set(const std::string& key, uint64_t index, std::optional<std::string> value) {
  history_[key].emplace_back(index, std::move(value));
}

std::optional<std::string> ReferenceModel::Current(const std::string& key) const {
  return ValueAt(key, applied_index_);
}

}  // namespace rb::sim
