// The raftbadger.v1.KV requests as a member handles them, apart from gRPC: decoding into
// state-machine commands with validation, and results into responses with the status the
// call returns. One piece of code for the gRPC service (server/kv_service) and the
// simulator's clients, which send the same messages encoded, so that the simulator's seeds
// exercise what the server does with a request.
#ifndef RAFTBADGER_NODE_KV_API_H_
#define RAFTBADGER_NODE_KV_API_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "node/node.h"
#include "proto/badger.pb.h"
#include "proto/kv.pb.h"
#include "proto/raftbadger.pb.h"

namespace rb::node {

struct KvLimits {
  size_t max_key_bytes = 4096;
  uint64_t max_value_bytes = 1 << 20;
};

// The command a write request asks for, or InvalidArgument (empty, reserved or long key,
// large value, a session seq of 0, a compare-and-swap that says nothing to compare).
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(const raftbadger::v1::PutRequest& req,
                                                     const KvLimits& limits);
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(const raftbadger::v1::DeleteRequest& req,
                                                     const KvLimits& limits);
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(
    const raftbadger::v1::CompareAndSwapRequest& req, const KvLimits& limits);
raftbadger::kvpb::Command RegisterSessionCommand();

// The old service's API (badgerpb.BadgerService): writes without a session, so at most
// once for a single attempt. SaveEntries is a put, UpdateEntries a put of an existing key
// only, DeleteEntries a delete.
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(const badgerpb::SaveEntriesRequest& req,
                                                     const KvLimits& limits);
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(const badgerpb::UpdateEntriesRequest& req,
                                                     const KvLimits& limits);
absl::StatusOr<raftbadger::kvpb::Command> CommandFor(const badgerpb::DeleteEntriesRequest& req,
                                                     const KvLimits& limits);

absl::Status ValidateGet(const raftbadger::v1::GetRequest& req, const KvLimits& limits);
ReadConsistency ConsistencyOf(raftbadger::v1::Consistency consistency);

// The response to a write whose command was applied with `result`, and the status the call
// returns: NOT_FOUND for an update of a missing key, FAILED_PRECONDITION for a failed
// comparison (each with the response filled in); OK otherwise.
absl::Status ResponseFor(const raftbadger::v1::PutRequest& req,
                         const raftbadger::kvpb::CommandResult& result,
                         raftbadger::v1::PutResponse* resp);
absl::Status ResponseFor(const raftbadger::v1::DeleteRequest& req,
                         const raftbadger::kvpb::CommandResult& result,
                         raftbadger::v1::DeleteResponse* resp);
absl::Status ResponseFor(const raftbadger::v1::CompareAndSwapRequest& req,
                         const raftbadger::kvpb::CommandResult& result,
                         raftbadger::v1::CompareAndSwapResponse* resp);
// UpdateEntries of a missing key: NOT_FOUND, nothing written (the old service said success).
absl::Status ResponseFor(const badgerpb::UpdateEntriesRequest& req,
                         const raftbadger::kvpb::CommandResult& result,
                         badgerpb::UpdateEntriesResponse* resp);

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_KV_API_H_
