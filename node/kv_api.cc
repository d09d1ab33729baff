#include "node/kv_api.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/state_machine.h"

namespace rb::node {

namespace kvpb = raftbadger::kvpb;
namespace v1 = raftbadger::v1;

namespace {

absl::Status CheckValue(const std::string& value, const KvLimits& limits) {
  if (value.size() <= limits.max_value_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("value of ", value.size(),
                                                 " bytes is larger than ", limits.max_value_bytes,
                                                 " (max_value_bytes)"));
}

absl::Status ApplySession(const v1::Session& session, kvpb::Command* cmd) {
  if (session.client_id() == 0) return absl::OkStatus();
  if (session.seq() == 0) return absl::InvalidArgumentError("a session's seq starts at 1");
  cmd->set_client_id(session.client_id());
  cmd->set_seq(session.seq());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<kvpb::Command> CommandFor(const v1::PutRequest& req, const KvLimits& limits) {
  RETURN_IF_ERROR(ValidateKey(req.key(), limits.max_key_bytes));
  RETURN_IF_ERROR(CheckValue(req.value(), limits));
  kvpb::Command cmd;
  RETURN_IF_ERROR(ApplySession(req.session(), &cmd));
  cmd.mutable_put()->set_key(req.key());
  cmd.mutable_put()->set_value(req.value());
  cmd.mutable_put()->set_require_existing(req.require_existing());
  return cmd;
}

absl::StatusOr<kvpb::Command> CommandFor(const v1::DeleteRequest& req, const KvLimits& limits) {
  RETURN_IF_ERROR(ValidateKey(req.key(), limits.max_key_bytes));
  kvpb::Command cmd;
  RETURN_IF_ERROR(ApplySession(req.session(), &cmd));
  cmd.mutable_delete_()->set_key(req.key());
  return cmd;
}

absl::StatusOr<kvpb::Command> CommandFor(const v1::CompareAndSwapRequest& req,
                                         const KvLimits& limits) {
  RETURN_IF_ERROR(ValidateKey(req.key(), limits.max_key_bytes));
  RETURN_IF_ERROR(CheckValue(req.value(), limits));
  if (req.expect_case() == v1::CompareAndSwapRequest::EXPECT_NOT_SET) {
    return absl::InvalidArgumentError("say what to compare: expected_value or expect_absent");
  }
  kvpb::Command cmd;
  RETURN_IF_ERROR(ApplySession(req.session(), &cmd));
  kvpb::CompareAndSwap* cas = cmd.mutable_cas();
  cas->set_key(req.key());
  cas->set_expect_absent(req.expect_case() == v1::CompareAndSwapRequest::kExpectAbsent);
  cas->set_expected(req.expected_value());
  cas->set_value(req.value());
  return cmd;
}

kvpb::Command RegisterSessionCommand() {
  kvpb::Command cmd;
  cmd.mutable_register_session();
  return cmd;
}

absl::StatusOr<kvpb::Command> CommandFor(const badgerpb::SaveEntriesRequest& req,
                                         const KvLimits& limits) {
  v1::PutRequest put;
  put.set_key(req.id());
  put.set_value(req.secrets());
  return CommandFor(put, limits);
}

absl::StatusOr<kvpb::Command> CommandFor(const badgerpb::UpdateEntriesRequest& req,
                                         const KvLimits& limits) {
  v1::PutRequest put;
  put.set_key(req.id());
  put.set_value(req.secrets());
  put.set_require_existing(true);
  return CommandFor(put, limits);
}

absl::StatusOr<kvpb::Command> CommandFor(const badgerpb::DeleteEntriesRequest& req,
                                         const KvLimits& limits) {
  v1::DeleteRequest del;
  del.set_key(req.id());
  return CommandFor(del, limits);
}

absl::Status ValidateGet(const v1::GetRequest& req, const KvLimits& limits) {
  return ValidateKey(req.key(), limits.max_key_bytes);
}

ReadConsistency ConsistencyOf(v1::Consistency consistency) {
  switch (consistency) {
    case v1::STALE:
      return ReadConsistency::kLocal;
    case v1::LEASE:
      return ReadConsistency::kLease;
    default:
      return ReadConsistency::kLinearizable;
  }
}

absl::Status ResponseFor(const v1::PutRequest& req, const kvpb::CommandResult& result,
                         v1::PutResponse* resp) {
  resp->set_revision(result.revision());
  if (req.require_existing() && !result.existed()) {
    return absl::NotFoundError("key not found; nothing written");
  }
  return absl::OkStatus();
}

absl::Status ResponseFor(const v1::DeleteRequest& /*req*/, const kvpb::CommandResult& result,
                         v1::DeleteResponse* resp) {
  resp->set_existed(result.existed());
  resp->set_revision(result.revision());
  return absl::OkStatus();
}

absl::Status ResponseFor(const v1::CompareAndSwapRequest& /*req*/,
                         const kvpb::CommandResult& result, v1::CompareAndSwapResponse* resp) {
  resp->set_swapped(result.swapped());
  resp->set_revision(result.revision());
  if (!result.swapped()) {
    return absl::FailedPreconditionError(
        "compare failed: the key does not hold the expected value");
  }
  return absl::OkStatus();
}

}  // namespace rb::node

namespace rb::node {

absl::Status ResponseFor(const badgerpb::UpdateEntriesRequest& /*req*/,
                         const kvpb::CommandResult& result, badgerpb::UpdateEntriesResponse* resp) {
  resp->set_success(result.existed());
  if (!result.existed()) return absl::NotFoundError("key not found; nothing written");
  return absl::OkStatus();
}

}  // namespace rb::node
