// Node's write path: a client's write checked and proposed (alone, or held for its batch
// and proposed with the others), and its answer once applied (Node::FinishApply, in
// node.cc) or at once if refused. The rest of Node is in node.cc.
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "node/node.h"

namespace rb::node {

namespace kvpb = raftbadger::kvpb;

void Node::Write(kvpb::Command cmd, WriteCallback answer) {
  ++counters_.writes_received;
  WriteCallback done =
      [this, answer = std::move(answer)](absl::StatusOr<raftbadger::kvpb::CommandResult> r) {
        ++(r.ok() ? counters_.writes_committed : counters_.writes_failed);
        answer(std::move(r));
      };
  if (!failure_.ok()) {
    done(absl::UnavailableError(absl::StrCat("node ", id_, " has failed: ", failure_.message())));
    return;
  }
  absl::Status valid;
  switch (cmd.op_case()) {
    case kvpb::Command::kPut:
      valid = ValidateKey(cmd.put().key());
      break;
    case kvpb::Command::kDelete:
      valid = ValidateKey(cmd.delete_().key());
      break;
    case kvpb::Command::kCas:
      valid = ValidateKey(cmd.cas().key());
      break;
    case kvpb::Command::kRegisterSession:
      break;
    case kvpb::Command::OP_NOT_SET:
      valid = absl::InvalidArgumentError("command has no operation");
      break;
  }
  if (!valid.ok()) {
    done(valid);
    return;
  }
  if (pending_requests() >= options_.max_pending_requests) {
    done(absl::ResourceExhaustedError("too many requests in flight on this node"));
    return;
  }
  if (absl::Status refused = WriteRefusal(); !refused.ok()) {
    if (absl::IsResourceExhausted(refused)) ++counters_.writes_refused_disk;
    done(std::move(refused));
    return;
  }
  if (options_.log_clock_ms) cmd.set_time_ms(options_.log_clock_ms());
  const auto key = std::make_pair(cmd.client_id(), cmd.seq());
  raft::Payload data(cmd.SerializeAsString());
  if (batch_depth_ > 0) {
    AwaitOutcome(key, std::move(done));
    held_writes_.emplace_back(key, std::move(data));
    return;
  }
  absl::Status proposed = raw_->ProposeBatch({std::move(data)});
  if (!proposed.ok()) {
    done(proposed);
    return;
  }
  ++counters_.writes_proposed;
  AwaitOutcome(key, std::move(done));
  Pump();
}

absl::Status Node::WriteRefusal() const {
  if (!failure_.ok()) {
    return absl::UnavailableError(absl::StrCat("node ", id_, " has failed: ", failure_.message()));
  }
  if (!is_member()) return NotAMemberError();
  if (!is_leader()) {
    // Writes go to the leader: a follower would forward the proposal, then answer only once
    // it applied it itself, so its replication lag would become the client's latency.
    return absl::UnavailableError(
        leader() == raft::kNone
            ? absl::StrCat("node ", id_, " is not the leader and knows none; retry elsewhere")
            : absl::StrCat("node ", id_, " is not the leader; leader is ", leader()));
  }
  // Before the proposal: a refused write is certainly not applied.
  return DiskSpaceError();
}

void Node::AwaitOutcome(std::pair<uint64_t, uint64_t> key, WriteCallback done) {
  auto it = pending_writes_.find(key);
  if (it != pending_writes_.end()) {
    // A retry of the same command on this node: the earlier caller gave up on it.
    it->second(absl::AbortedError("superseded by a retry of the same command"));
    it->second = std::move(done);
  } else {
    pending_writes_.emplace(key, std::move(done));
  }
}

void Node::ProposeHeldWrites() {
  if (held_writes_.empty()) return;
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, raft::Payload>> held =
      std::move(held_writes_);
  held_writes_.clear();
  // Answers a held write with an error, unless a retry or a cancellation already did.
  auto refuse = [this](std::pair<uint64_t, uint64_t> key, absl::Status s) {
    auto it = pending_writes_.find(key);
    if (it == pending_writes_.end()) return;
    WriteCallback done = std::move(it->second);
    pending_writes_.erase(it);
    done(std::move(s));
  };
  // The batch may have changed the node (a message that deposed it, a failure): then none
  // is proposed, as each would have been refused alone.
  if (absl::Status refused = WriteRefusal(); !refused.ok()) {
    const bool disk = absl::IsResourceExhausted(refused);
    for (const auto& [key, payload] : held) {
      if (disk) ++counters_.writes_refused_disk;
      refuse(key, refused);
    }
    return;
  }
  std::vector<raft::Payload> data;
  data.reserve(held.size());
  for (const auto& [key, payload] : held) data.push_back(payload);
  const absl::Status proposed = raw_->ProposeBatch(std::move(data));
  if (proposed.ok()) {
    counters_.writes_proposed += held.size();
    if (held.size() > 1) counters_.writes_proposed_together += held.size();
    return;
  }
  // All or none. A batch too large for the uncommitted limit is proposed one by one
  // instead, so that as many get in as would have alone.
  const bool one_by_one = absl::IsResourceExhausted(proposed) && held.size() > 1;
  for (auto& [key, payload] : held) {
    absl::Status s = one_by_one ? raw_->ProposeBatch({std::move(payload)}) : proposed;
    if (s.ok()) {
      ++counters_.writes_proposed;
    } else {
      refuse(key, std::move(s));
    }
  }
}

void Node::CancelWrite(uint64_t client_id, uint64_t seq) {
  auto it = pending_writes_.find({client_id, seq});
  if (it == pending_writes_.end()) return;
  WriteCallback done = std::move(it->second);
  pending_writes_.erase(it);
  done(absl::DeadlineExceededError("the caller's deadline passed; the write may still apply"));
}

}  // namespace rb::node
