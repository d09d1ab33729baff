// Node's write path: a client's write checked and proposed (alone, or held for its batch
// and proposed with the others), and its answer: at once if refused, at commit for a write
// whose result the state machine cannot change (NodeOptions::answer_writes_at_commit),
// otherwise once applied (Node::FinishApply, in node.cc). The rest of Node is in node.cc.
#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
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
  const bool at_commit = options_.answer_writes_at_commit && ResultKnownBeforeApply(cmd);
  raft::Payload data(cmd.SerializeAsString());
  if (batch_depth_ > 0) {
    AwaitOutcome(key, std::move(done));
    held_writes_.push_back(HeldWrite{key, std::move(data), at_commit});
    return;
  }
  absl::Status proposed = raw_->ProposeBatch({std::move(data)});
  if (!proposed.ok()) {
    done(proposed);
    return;
  }
  ++counters_.writes_proposed;
  AwaitOutcome(key, std::move(done));
  if (at_commit) AwaitCommit(key, raw_->raft().log().LastIndex());
  Pump();
}

void Node::AwaitCommit(std::pair<uint64_t, uint64_t> key, uint64_t index) {
  // Appended by this leader in its term, so (index, term) names the write's entry alone.
  RB_CHECK(is_leader(), "node ", id_, ": a write awaits its commit on a node that is not leader");
  // Entries from index on were truncated since those records were made (this node lost
  // its role and won it back): the records name entries that are gone.
  while (!awaiting_commit_.empty() && awaiting_commit_.back().index >= index) {
    awaiting_commit_.pop_back();
  }
  // Past the bound, the write is answered once applied, as any other.
  if (awaiting_commit_.size() >= options_.max_pending_requests) return;
  awaiting_commit_.push_back(AwaitingCommit{index, raw_->raft().term(), key});
}

void Node::AnswerWritesAtCommit() {
  std::vector<std::pair<WriteCallback, uint64_t>> answers;
  for (const raft::Entry& e : ready_.committed_entries) {
    while (!awaiting_commit_.empty() && awaiting_commit_.front().index < e.index) {
      awaiting_commit_.pop_front();  // its entry was committed in an earlier Ready: gone
    }
    if (awaiting_commit_.empty()) break;
    const AwaitingCommit w = awaiting_commit_.front();
    if (w.index != e.index) continue;
    awaiting_commit_.pop_front();
    // Another leader's entry at this index: the write it named is lost. A lost role
    // clears the records (OnLeadershipChange) before such an entry can commit here, unless
    // one batch of inputs lost and won the role back; (index, term) names an entry alone
    // either way.
    if (w.term != e.term) continue;
    auto it = pending_writes_.find(w.key);
    if (it == pending_writes_.end()) continue;  // cancelled, or answered already
    answers.emplace_back(std::move(it->second), e.index);
    pending_writes_.erase(it);
  }
  // Once the records are consistent: an answer may bring the client's next write at once.
  for (auto& [done, index] : answers) {
    ++counters_.writes_answered_at_commit;
    answered_at_commit_index_ = std::max(answered_at_commit_index_, index);
    kvpb::CommandResult result;
    result.set_revision(index);
    done(std::move(result));
  }
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
  std::vector<HeldWrite> held = std::move(held_writes_);
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
    for (const HeldWrite& w : held) {
      if (disk) ++counters_.writes_refused_disk;
      refuse(w.key, refused);
    }
    return;
  }
  std::vector<raft::Payload> data;
  data.reserve(held.size());
  for (const HeldWrite& w : held) data.push_back(w.data);
  const absl::Status proposed = raw_->ProposeBatch(std::move(data));
  if (proposed.ok()) {
    counters_.writes_proposed += held.size();
    if (held.size() > 1) counters_.writes_proposed_together += held.size();
    // One proposal: its entries end the log, in the batch's order.
    const uint64_t first = raw_->raft().log().LastIndex() + 1 - held.size();
    for (size_t k = 0; k < held.size(); ++k) {
      if (held[k].at_commit) AwaitCommit(held[k].key, first + k);
    }
    return;
  }
  // All or none. A batch too large for the uncommitted limit is proposed one by one
  // instead, so that as many get in as would have alone.
  const bool one_by_one = absl::IsResourceExhausted(proposed) && held.size() > 1;
  for (HeldWrite& w : held) {
    absl::Status s = one_by_one ? raw_->ProposeBatch({std::move(w.data)}) : proposed;
    if (s.ok()) {
      ++counters_.writes_proposed;
      if (w.at_commit) AwaitCommit(w.key, raw_->raft().log().LastIndex());
    } else {
      refuse(w.key, std::move(s));
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
