#include "node/state_machine.h"

#include <algorithm>
#include <functional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "base/mutation.h"
#include "base/status_macros.h"

namespace rb::node {

namespace kvpb = raftbadger::kvpb;

absl::Status ValidateKey(absl::string_view key, size_t max_bytes) {
  if (key.empty()) return absl::InvalidArgumentError("key must not be empty");
  if (key[0] == kReservedKeyPrefix) {
    return absl::InvalidArgumentError("keys starting with a NUL byte are reserved");
  }
  if (key.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("key of ", key.size(), " bytes is longer than ", max_bytes));
  }
  return absl::OkStatus();
}

namespace {

constexpr char kSessionExpiredPayload[] = "raftbadger/session-expired";

void AppendBigEndian(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t ParseBigEndian(absl::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  }
  return v;
}

std::string ReservedKey(absl::string_view name) {
  std::string key(1, kReservedKeyPrefix);
  key.append(name.data(), name.size());
  return key;
}

// Sessions by last activity: "<prefix><log time><client id>", both big-endian, so a scan
// of the prefix meets the least recently used first.
std::string ExpiryPrefix() { return ReservedKey("sessexp/"); }
std::string ExpiryKey(uint64_t last_active_ms, uint64_t client_id) {
  std::string key = ExpiryPrefix();
  AppendBigEndian(last_active_ms, &key);
  AppendBigEndian(client_id, &key);
  return key;
}

absl::StatusOr<uint64_t> LoadCounter(KvTxn* txn, const std::string& key) {
  ASSIGN_OR_RETURN(auto stored, txn->Get(key));
  if (!stored) return 0;
  if (stored->size() != 8) return absl::DataLossError(absl::StrCat("reserved row is damaged"));
  return ParseBigEndian(*stored);
}

absl::Status StoreCounter(KvTxn* txn, const std::string& key, uint64_t v, uint64_t index) {
  std::string bytes;
  AppendBigEndian(v, &bytes);
  return txn->Put(key, bytes, index);
}

// Removes sessions whose expiry rows come first, while `expired` says they should go.
absl::Status RemoveOldest(KvTxn* txn, int limit, uint64_t index,
                          const std::function<bool(uint64_t last_active_ms)>& expired) {
  if (limit <= 0) return absl::OkStatus();
  const std::string prefix = ExpiryPrefix();
  ASSIGN_OR_RETURN(auto rows, txn->Scan(prefix, static_cast<size_t>(limit)));
  if (rows.empty()) return absl::OkStatus();
  const std::string count_key = ReservedKey("sesscount");
  ASSIGN_OR_RETURN(uint64_t count, LoadCounter(txn, count_key));
  for (const auto& [key, value] : rows) {
    const absl::string_view rest = absl::string_view(key).substr(prefix.size());
    if (rest.size() != 16) return absl::DataLossError("a session expiry row is damaged");
    if (!expired(ParseBigEndian(rest.substr(0, 8)))) break;
    RETURN_IF_ERROR(txn->Delete(SessionKey(ParseBigEndian(rest.substr(8)))).status());
    RETURN_IF_ERROR(txn->Delete(key).status());
    if (count > 0) --count;
  }
  return StoreCounter(txn, count_key, count, index);
}

absl::Status ExpireIdle(KvTxn* txn, uint64_t log_time_ms, uint64_t index,
                        const SessionPolicy& policy) {
  if (log_time_ms < policy.idle_timeout_ms) return absl::OkStatus();
  const uint64_t cutoff = log_time_ms - policy.idle_timeout_ms;
  return RemoveOldest(txn, policy.expire_per_command, index,
                      [cutoff](uint64_t last_active_ms) { return last_active_ms <= cutoff; });
}

absl::Status RegisterNewSession(KvTxn* txn, uint64_t index, uint64_t log_time_ms,
                                const SessionPolicy& policy, ApplyOutcome* out) {
  kvpb::SessionRecord record;
  record.set_last_active_ms(log_time_ms);
  RETURN_IF_ERROR(txn->Put(SessionKey(index), record.SerializeAsString(), index));
  RETURN_IF_ERROR(txn->Put(ExpiryKey(log_time_ms, index), "", index));
  const std::string count_key = ReservedKey("sesscount");
  ASSIGN_OR_RETURN(uint64_t count, LoadCounter(txn, count_key));
  RETURN_IF_ERROR(StoreCounter(txn, count_key, count + 1, index));
  if (count + 1 > policy.max_sessions) {
    // Full: the least recently used session goes (never the new one: its row sorts last,
    // or with an equal time, by its larger id).
    const uint64_t excess = count + 1 - policy.max_sessions;
    RETURN_IF_ERROR(RemoveOldest(txn, static_cast<int>(std::min<uint64_t>(excess, 8)), index,
                                 [](uint64_t) { return true; }));
  }
  out->result.set_session_id(index);
  out->result.set_revision(index);
  return absl::OkStatus();
}

// The command's effect on the key-value rows; out->result says what it did.
absl::Status ApplyOperation(KvTxn* txn, uint64_t index, const kvpb::Command& cmd,
                            ApplyOutcome* out) {
  switch (cmd.op_case()) {
    case kvpb::Command::kPut: {
      bool write = true;
      if (cmd.put().require_existing()) {
        ASSIGN_OR_RETURN(auto current, txn->Get(cmd.put().key()));
        write = current.has_value();
        out->result.set_existed(write);
      }
      if (write) RETURN_IF_ERROR(txn->Put(cmd.put().key(), cmd.put().value(), index));
      break;
    }
    case kvpb::Command::kDelete: {
      ASSIGN_OR_RETURN(bool existed, txn->Delete(cmd.delete_().key()));
      out->result.set_existed(existed);
      break;
    }
    case kvpb::Command::kCas: {
      const kvpb::CompareAndSwap& cas = cmd.cas();
      ASSIGN_OR_RETURN(auto current, txn->Get(cas.key()));
      const bool matches = cas.expect_absent() ? !current : (current && *current == cas.expected());
      if (matches) RETURN_IF_ERROR(txn->Put(cas.key(), cas.value(), index));
      out->result.set_swapped(matches);
      break;
    }
    case kvpb::Command::kRegisterSession:
    case kvpb::Command::OP_NOT_SET:
      break;
  }
  out->result.set_revision(index);
  return absl::OkStatus();
}

// Applies a key-value command under its client's session: at most once per seq.
absl::Status ApplyInSession(KvTxn* txn, uint64_t index, const kvpb::Command& cmd,
                            uint64_t log_time_ms, ApplyOutcome* out) {
  if (cmd.client_id() == 0) return ApplyOperation(txn, index, cmd, out);
  const std::string session_key = SessionKey(cmd.client_id());
  ASSIGN_OR_RETURN(auto stored, txn->Get(session_key));
  if (!stored) {
    out->unknown_session = true;
    return absl::OkStatus();
  }
  kvpb::SessionRecord session;
  if (!session.ParseFromString(*stored)) {
    return absl::DataLossError(
        absl::StrCat("session of client ", cmd.client_id(), " does not parse"));
  }
  if (cmd.seq() <= session.seq() && !(RB_MUTANT(kSessionReapplies) && cmd.seq() == session.seq())) {
    if (cmd.seq() == session.seq()) {
      out->duplicate = true;
      out->result = session.result();
    } else {
      out->stale = true;
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(ApplyOperation(txn, index, cmd, out));
  const uint64_t was_active_ms = session.last_active_ms();
  session.set_seq(cmd.seq());
  *session.mutable_result() = out->result;
  session.set_last_active_ms(log_time_ms);
  RETURN_IF_ERROR(txn->Put(session_key, session.SerializeAsString(), index));
  if (was_active_ms != log_time_ms) {
    RETURN_IF_ERROR(txn->Delete(ExpiryKey(was_active_ms, cmd.client_id())).status());
    RETURN_IF_ERROR(txn->Put(ExpiryKey(log_time_ms, cmd.client_id()), "", index));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SessionExpiredError(uint64_t client_id) {
  absl::Status s = absl::FailedPreconditionError(absl::StrCat(
      "session ", client_id, " is unknown or expired; register a new session and retry"));
  s.SetPayload(kSessionExpiredPayload, absl::Cord("1"));
  return s;
}

bool IsSessionExpired(const absl::Status& status) {
  return status.GetPayload(kSessionExpiredPayload).has_value();
}

bool ResultKnownBeforeApply(const kvpb::Command& cmd) {
  // Without a session nothing suppresses it, and a plain put's result is only its index.
  return cmd.client_id() == 0 && cmd.op_case() == kvpb::Command::kPut &&
         !cmd.put().require_existing();
}

std::string SessionKey(uint64_t client_id) {
  std::string key(1, kReservedKeyPrefix);
  key += "session/";
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((client_id >> shift) & 0xff));  // big-endian: ordered
  }
  return key;
}

absl::StatusOr<ApplyOutcome> ApplyCommand(KvTxn* txn, uint64_t index, absl::string_view data,
                                          const SessionPolicy& policy) {
  ApplyOutcome out;
  kvpb::Command cmd;
  if (!cmd.ParseFromArray(data.data(), static_cast<int>(data.size())) ||
      cmd.op_case() == kvpb::Command::OP_NOT_SET) {
    out.malformed = true;
    return out;
  }
  out.client_id = cmd.client_id();
  out.seq = cmd.seq();
  // Log time never goes back, whatever the clocks of successive leaders say.
  const std::string log_time_key = ReservedKey("logtime");
  ASSIGN_OR_RETURN(const uint64_t stored_time, LoadCounter(txn, log_time_key));
  const uint64_t log_time_ms = std::max(stored_time, cmd.time_ms());
  if (log_time_ms != stored_time) {
    RETURN_IF_ERROR(StoreCounter(txn, log_time_key, log_time_ms, index));
  }
  if (cmd.op_case() == kvpb::Command::kRegisterSession) {
    RETURN_IF_ERROR(RegisterNewSession(txn, index, log_time_ms, policy, &out));
    RETURN_IF_ERROR(ExpireIdle(txn, log_time_ms, index, policy));
    return out;
  }
  RETURN_IF_ERROR(ApplyInSession(txn, index, cmd, log_time_ms, &out));
  RETURN_IF_ERROR(ExpireIdle(txn, log_time_ms, index, policy));
  return out;
}

}  // namespace rb::node
