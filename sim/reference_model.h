// ReferenceModel: the key-value state machine written a second time, independently of
// node/state_machine.cc, for checking reads that are not linearizable by design. It
// follows the committed log in index order and remembers every key's history, so it can
// say what a node that had applied up to index i must have held.
#ifndef RAFTBADGER_SIM_REFERENCE_MODEL_H_
#define RAFTBADGER_SIM_REFERENCE_MODEL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "node/state_machine.h"

namespace rb::sim {

class ReferenceModel {
 public:
  ReferenceModel() = default;
  // The session rules every member applies (the policy is the one shared setting; the
  // rules are written here a second time).
  explicit ReferenceModel(node::SessionPolicy sessions) : sessions_(sessions) {}

  // Feeds the committed entry at `index`; `command` is a normal entry's payload (empty for
  // empty entries and configuration changes). Returns false, changing nothing, unless
  // index == applied_index() + 1 or index <= applied_index() (already fed; ignored).
  bool Apply(uint64_t index, bool is_command, absl::string_view command);
  uint64_t applied_index() const { return applied_index_; }
  // The key's value once entries up to `index` are applied.
  // REQUIRES: index <= applied_index().
  std::optional<std::string> ValueAt(const std::string& key, uint64_t index) const;

 private:
  void Set(const std::string& key, uint64_t index, std::optional<std::string> value);
  // Whether a command of this client may take effect now (its session is live and the seq
  // new), recording its activity if so.
  bool Admit(uint64_t client_id, uint64_t seq, uint64_t now_ms);
  void RemoveLeastRecent(int limit, uint64_t idle_before_ms);
  std::optional<std::string> Current(const std::string& key) const;

  uint64_t applied_index_ = 0;
  // Ordered maps: nothing here iterates in an order that varies between processes.
  std::map<std::string, std::vector<std::pair<uint64_t, std::optional<std::string>>>> history_;
  node::SessionPolicy sessions_;
  uint64_t log_time_ms_ = 0;
  struct Session {
    uint64_t seq = 0;
    uint64_t last_active_ms = 0;
  };
  std::map<uint64_t, Session> live_;                   // client id -> session
  std::map<std::pair<uint64_t, uint64_t>, bool> lru_;  // (last active, client id)
};

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_REFERENCE_MODEL_H_
