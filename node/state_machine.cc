#include "node/state_machine.h"

#include "absl/strings/str_cat.h"
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

std::string SessionKey(uint64_t client_id) {
  std::string key(1, kReservedKeyPrefix);
  key += "session/";
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((client_id >> shift) & 0xff));  // big-endian: ordered
  }
  return key;
}

absl::StatusOr<ApplyOutcome> ApplyCommand(KvTxn* txn, uint64_t index, absl::string_view data) {
  ApplyOutcome out;
  kvpb::Command cmd;
  if (!cmd.ParseFromArray(data.data(), static_cast<int>(data.size())) ||
      cmd.op_case() == kvpb::Command::OP_NOT_SET) {
    out.malformed = true;
    return out;
  }
  out.client_id = cmd.client_id();
  out.seq = cmd.seq();
  const std::string session_key = SessionKey(cmd.client_id());
  kvpb::SessionRecord session;
  if (cmd.client_id() != 0) {
    ASSIGN_OR_RETURN(auto stored, txn->Get(session_key));
    if (stored && !session.ParseFromString(*stored)) {
      return absl::DataLossError(
          absl::StrCat("session of client ", cmd.client_id(), " does not parse"));
    }
    if (stored && cmd.seq() <= session.seq()) {
      if (cmd.seq() == session.seq()) {
        out.duplicate = true;
        out.result = session.result();
      } else {
        out.stale = true;
      }
      return out;
    }
  }
  switch (cmd.op_case()) {
    case kvpb::Command::kPut: {
      bool write = true;
      if (cmd.put().require_existing()) {
        ASSIGN_OR_RETURN(auto current, txn->Get(cmd.put().key()));
        write = current.has_value();
        out.result.set_existed(write);
      }
      if (write) RETURN_IF_ERROR(txn->Put(cmd.put().key(), cmd.put().value(), index));
      break;
    }
    case kvpb::Command::kDelete: {
      ASSIGN_OR_RETURN(bool existed, txn->Delete(cmd.delete_().key()));
      out.result.set_existed(existed);
      break;
    }
    case kvpb::Command::kCas: {
      const kvpb::CompareAndSwap& cas = cmd.cas();
      ASSIGN_OR_RETURN(auto current, txn->Get(cas.key()));
      const bool matches = cas.expect_absent() ? !current : (current && *current == cas.expected());
      if (matches) RETURN_IF_ERROR(txn->Put(cas.key(), cas.value(), index));
      out.result.set_swapped(matches);
      break;
    }
    case kvpb::Command::OP_NOT_SET:
      break;
  }
  out.result.set_revision(index);
  if (cmd.client_id() != 0) {
    session.set_seq(cmd.seq());
    *session.mutable_result() = out.result;
    RETURN_IF_ERROR(txn->Put(session_key, session.SerializeAsString(), index));
  }
  return out;
}

}  // namespace rb::node
