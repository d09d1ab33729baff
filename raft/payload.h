// Payload: immutable, shared entry bytes.
//
// An entry's payload travels from the proposal into the log, the Ready (to persist), every
// follower's MsgApp, the inflight window and the committed entries (to apply). Copying the
// bytes at each hop cost one allocation and a memcpy per hop per entry; sharing one
// immutable buffer makes each hop a reference-count increment.
#ifndef RAFTBADGER_RAFT_PAYLOAD_H_
#define RAFTBADGER_RAFT_PAYLOAD_H_

#include <memory>
#include <ostream>
#include <string>

#include "absl/strings/string_view.h"

namespace rb::raft {

class Payload {
 public:
  Payload() = default;
  // Takes the string's buffer; one allocation for the shared block (none when empty).
  Payload(std::string bytes)  // NOLINT: implicit, so Entry{.., "data"} reads naturally
      : rep_(bytes.empty() ? nullptr : std::make_shared<const std::string>(std::move(bytes))) {}
  Payload(const char* bytes) : Payload(std::string(bytes)) {}        // NOLINT
  Payload(absl::string_view bytes) : Payload(std::string(bytes)) {}  // NOLINT

  size_t size() const { return rep_ == nullptr ? 0 : rep_->size(); }
  bool empty() const { return size() == 0; }
  const char* data() const { return rep_ == nullptr ? "" : rep_->data(); }
  absl::string_view view() const { return absl::string_view(data(), size()); }
  operator absl::string_view() const { return view(); }  // NOLINT
  std::string str() const { return std::string(view()); }
  // True when both refer to the same buffer (a copy, not just equal bytes).
  bool SharesBufferWith(const Payload& o) const { return rep_ != nullptr && rep_ == o.rep_; }

  friend bool operator==(const Payload& a, const Payload& b) { return a.view() == b.view(); }
  friend bool operator!=(const Payload& a, const Payload& b) { return !(a == b); }
  friend bool operator==(const Payload& a, absl::string_view b) { return a.view() == b; }
  friend bool operator==(absl::string_view a, const Payload& b) { return a == b.view(); }
  friend bool operator==(const Payload& a, const char* b) { return a.view() == b; }
  friend bool operator==(const Payload& a, const std::string& b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& os, const Payload& p) { return os << p.view(); }

 private:
  std::shared_ptr<const std::string> rep_;
};

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_PAYLOAD_H_
