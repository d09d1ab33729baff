// Conversion between the core's structs (types.h) and the wire format (proto/raft.proto).
//
// Everything that arrives from outside (peers, disk) passes through a Decode function that
// validates it: malformed input becomes an InvalidArgument / DataLoss status for the caller
// to drop and count, never a crash in the core.
#ifndef RAFTBADGER_RAFT_CODEC_H_
#define RAFTBADGER_RAFT_CODEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/raft.pb.h"
#include "raft/types.h"

namespace rb::raft {

// Context of vote requests sent for a leadership transfer; voters under a leader lease
// grant them anyway.
inline constexpr absl::string_view kCampaignTransferContext = "CampaignTransfer";

// The largest term or index a peer message may carry (DecodeMessage refuses more): far
// beyond any a cluster reaches, and far enough below 2^64 that term + 1 and index + n
// never overflow.
inline constexpr uint64_t kMaxWireTermOrIndex = uint64_t{1} << 62;

std::string EncodeConfChange(const ConfChange& cc);
absl::StatusOr<ConfChange> DecodeConfChange(absl::string_view data);

void ToProto(const Entry& e, raftbadger::raftpb::Entry* out);
void ToProto(const HardState& hs, raftbadger::raftpb::HardState* out);
void ToProto(const ConfState& cs, raftbadger::raftpb::ConfState* out);
void ToProto(const Snapshot& s, raftbadger::raftpb::Snapshot* out);
void ToProto(const Message& m, raftbadger::raftpb::Message* out);

absl::StatusOr<Entry> FromProto(const raftbadger::raftpb::Entry& e);
HardState FromProto(const raftbadger::raftpb::HardState& hs);
absl::StatusOr<ConfState> FromProto(const raftbadger::raftpb::ConfState& cs);
absl::StatusOr<Snapshot> FromProto(const raftbadger::raftpb::Snapshot& s);
// Validates a message received from a peer: known type, not a local-only type, non-zero
// sender and recipient, contiguous entries, snapshot only on MsgSnap.
absl::StatusOr<Message> FromProto(const raftbadger::raftpb::Message& m);

// Serialized forms, for transports and storage.
std::string EncodeMessage(const Message& m);
absl::StatusOr<Message> DecodeMessage(absl::string_view bytes);

}  // namespace rb::raft

#endif  // RAFTBADGER_RAFT_CODEC_H_
