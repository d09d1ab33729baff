#include "raft/raw_node.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "raft/codec.h"

namespace rb::raft {

void Ready::Clear() {
  soft_state.reset();
  hard_state.reset();
  read_states.clear();
  entries.clear();
  snapshot.reset();
  committed_entries.clear();
  messages.clear();
  must_sync = false;
}

RawNode::RawNode(std::unique_ptr<Raft> raft) : raft_(std::move(raft)) {
  prev_soft_state_ = raft_->GetSoftState();
  prev_hard_state_ = raft_->GetHardState();
}

absl::StatusOr<std::unique_ptr<RawNode>> RawNode::Create(const Config& config) {
  ASSIGN_OR_RETURN(std::unique_ptr<Raft> raft, Raft::Create(config));
  return std::unique_ptr<RawNode>(new RawNode(std::move(raft)));
}

void RawNode::Tick() { raft_->Tick(); }

void RawNode::Campaign() {
  Message m;
  m.type = MessageType::kHup;
  raft_->Step(std::move(m)).IgnoreError();
}

absl::Status RawNode::Propose(std::string data) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.resize(1);
  m.entries[0].data = std::move(data);
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeBatch(std::vector<Payload> data) {
  RB_CHECK(!data.empty(), "ProposeBatch without entries");
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.resize(data.size());
  for (size_t i = 0; i < data.size(); ++i) m.entries[i].data = std::move(data[i]);
  return raft_->Step(std::move(m));
}

absl::Status RawNode::ProposeConfChange(const ConfChange& cc) {
  Message m;
  m.type = MessageType::kProp;
  m.from = raft_->id();
  m.entries.resize(1);
  m.entries[0].type = EntryType::kConfChange;
  m.entries[0].data = EncodeConfChange(cc);
  return raft_->Step(std::move(m));
}

absl::StatusOr<ConfState> RawNode::ApplyConfChange(const ConfChange& cc) {
  return raft_->ApplyConfChange(cc);
}

absl::Status RawNode::Step(Message m) {
  if (IsLocalMessage(m.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("refusing local message type ", MessageTypeName(m.type), " from a peer"));
  }
  if (IsResponseMessage(m.type) && raft_->tracker().progress.count(m.from) == 0) {
    return absl::NotFoundError(
        absl::StrCat("response from ", m.from, ", which is not in the configuration"));
  }
  return raft_->Step(std::move(m));
}

void RawNode::ReadIndex(std::string ctx) {
  Message m;
  m.type = MessageType::kReadIndex;
  m.entries.resize(1);
  m.entries[0].data = std::move(ctx);
  raft_->Step(std::move(m)).IgnoreError();
}

void RawNode::TransferLeader(uint64_t transferee) {
  Message m;
  m.type = MessageType::kTransferLeader;
  m.from = transferee;
  raft_->Step(std::move(m)).IgnoreError();
}

void RawNode::ReportUnreachable(uint64_t id) {
  Message m;
  m.type = MessageType::kUnreachable;
  m.from = id;
  raft_->Step(std::move(m)).IgnoreError();
}

void RawNode::ReportSnapshot(uint64_t id, bool failed) {
  Message m;
  m.type = MessageType::kSnapStatus;
  m.from = id;
  m.reject = failed;
  raft_->Step(std::move(m)).IgnoreError();
}

bool RawNode::HasReady() const {
  const Raft& r = *raft_;
  // After a storage failure nothing leaves: the step that met it acted on reads that
  // answered "not there".
  if (!r.log().storage_failure().ok()) return false;
  if (r.GetSoftState() != prev_soft_state_) return true;
  const HardState hs = r.GetHardState();
  if (!hs.IsEmpty() && hs != prev_hard_state_) return true;
  if (r.log().HasPendingSnapshot()) return true;
  if (!r.log().UnstableEntries().empty() || r.log().HasNextCommittedEntries()) return true;
  return !r.msgs().empty() || !r.read_states().empty();
}

void RawNode::GetReady(Ready* rd) {
  RB_CHECK(!ready_outstanding_, "GetReady called twice without Advance");
  RB_CHECK(raft_->log().storage_failure().ok(),
           "GetReady after a storage failure: ", raft_->log().storage_failure().ToString());
  rd->Clear();
  Raft& r = *raft_;
  const SoftState ss = r.GetSoftState();
  if (ss != prev_soft_state_) {
    rd->soft_state = ss;
    prev_soft_state_ = ss;
  }
  const HardState hs = r.GetHardState();
  if (!hs.IsEmpty() && hs != prev_hard_state_) {
    rd->must_sync = hs.term != prev_hard_state_.term || hs.vote != prev_hard_state_.vote;
    rd->hard_state = hs;
    prev_hard_state_ = hs;
  }
  rd->entries = r.log().UnstableEntries();
  if (!rd->entries.empty()) rd->must_sync = true;
  r.log().NextCommittedEntries(&rd->committed_entries);
  rd->snapshot = r.log().PendingSnapshot();
  rd->messages.swap(r.msgs());  // both keep their buffers
  rd->read_states.swap(r.read_states());
  if (!r.log().storage_failure().ok()) {
    // Reading the committed entries failed: this Ready must not be acted on, nor any later.
    rd->Clear();
    ready_outstanding_ = true;  // and no Advance
    return;
  }

  ready_outstanding_ = true;
  stable_index_ = rd->entries.empty() ? 0 : rd->entries.back().index;
  stable_term_ = rd->entries.empty() ? 0 : rd->entries.back().term;
  stable_snapshot_index_ = rd->snapshot == nullptr ? 0 : rd->snapshot->metadata.index;
  applied_cursor_ = 0;
  applied_payload_bytes_ = 0;
  if (!rd->committed_entries.empty()) {
    applied_cursor_ = rd->committed_entries.back().index;
    for (const Entry& e : rd->committed_entries) applied_payload_bytes_ += e.data.size();
  } else if (rd->snapshot != nullptr) {
    applied_cursor_ = rd->snapshot->metadata.index;
  }
}

void RawNode::Advance() {
  RB_CHECK(ready_outstanding_, "Advance called without a Ready");
  ready_outstanding_ = false;
  if (applied_cursor_ > 0) raft_->AppliedTo(applied_cursor_, applied_payload_bytes_);
  if (stable_index_ > 0) raft_->mutable_log().StableTo(stable_index_, stable_term_);
  if (stable_snapshot_index_ > 0) raft_->mutable_log().StableSnapTo(stable_snapshot_index_);
  if (stable_index_ > 0) raft_->OnEntriesStable();
}

NodeStatus RawNode::Status() const {
  NodeStatus s;
  s.id = raft_->id();
  s.hard_state = raft_->GetHardState();
  s.soft_state = raft_->GetSoftState();
  s.applied = raft_->log().applied();
  s.lead_transferee = raft_->lead_transferee();
  s.config = raft_->tracker().GetConfState();
  if (raft_->state() == StateType::kLeader) {
    for (const auto& [id, pr] : raft_->tracker().progress) s.progress.emplace(id, pr);
  }
  return s;
}

}  // namespace rb::raft
