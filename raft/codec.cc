#include "raft/codec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace rb::raft {

namespace pb = raftbadger::raftpb;

std::string EncodeConfChange(const ConfChange& cc) {
  pb::ConfChange p;
  p.set_transition(static_cast<pb::ConfChangeTransition>(cc.transition));
  for (const ConfChangeSingle& c : cc.changes) {
    auto* s = p.add_changes();
    s->set_type(static_cast<pb::ConfChangeType>(c.type));
    s->set_node_id(c.node_id);
  }
  p.set_context(cc.context);
  return p.SerializeAsString();
}

absl::StatusOr<ConfChange> DecodeConfChange(absl::string_view data) {
  pb::ConfChange p;
  if (!p.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::InvalidArgumentError("configuration change does not parse");
  }
  if (!pb::ConfChangeTransition_IsValid(p.transition())) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown configuration change transition ", p.transition()));
  }
  ConfChange cc;
  cc.transition = static_cast<ConfChangeTransition>(p.transition());
  cc.context = p.context();
  for (const auto& s : p.changes()) {
    if (!pb::ConfChangeType_IsValid(s.type())) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown configuration change type ", s.type()));
    }
    if (s.node_id() == kNone) {
      return absl::InvalidArgumentError("configuration change names node id 0");
    }
    cc.changes.push_back(ConfChangeSingle{static_cast<ConfChangeType>(s.type()), s.node_id()});
  }
  return cc;
}

void ToProto(const Entry& e, pb::Entry* out) {
  out->set_term(e.term);
  out->set_index(e.index);
  out->set_type(static_cast<pb::EntryType>(e.type));
  out->set_data(e.data.data(), e.data.size());
}

void ToProto(const HardState& hs, pb::HardState* out) {
  out->set_term(hs.term);
  out->set_vote(hs.vote);
  out->set_commit(hs.commit);
}

void ToProto(const ConfState& cs, pb::ConfState* out) {
  for (uint64_t id : cs.voters) out->add_voters(id);
  for (uint64_t id : cs.learners) out->add_learners(id);
  for (uint64_t id : cs.voters_outgoing) out->add_voters_outgoing(id);
  for (uint64_t id : cs.learners_next) out->add_learners_next(id);
  out->set_auto_leave(cs.auto_leave);
}

void ToProto(const Snapshot& s, pb::Snapshot* out) {
  out->set_data(s.data);
  ToProto(s.metadata.conf_state, out->mutable_metadata()->mutable_conf_state());
  out->mutable_metadata()->set_index(s.metadata.index);
  out->mutable_metadata()->set_term(s.metadata.term);
}

void ToProto(const Message& m, pb::Message* out) {
  out->set_type(static_cast<pb::MessageType>(m.type));
  out->set_to(m.to);
  out->set_from(m.from);
  out->set_term(m.term);
  out->set_log_term(m.log_term);
  out->set_index(m.index);
  for (const Entry& e : m.entries) ToProto(e, out->add_entries());
  out->set_commit(m.commit);
  if (m.snapshot != nullptr) ToProto(*m.snapshot, out->mutable_snapshot());
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint);
  out->set_context(m.context);
}

absl::StatusOr<Entry> FromProto(const pb::Entry& e) {
  if (!pb::EntryType_IsValid(e.type())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entry type ", e.type()));
  }
  return Entry{e.term(), e.index(), static_cast<EntryType>(e.type()), e.data()};
}

HardState FromProto(const pb::HardState& hs) {
  return HardState{hs.term(), hs.vote(), hs.commit()};
}

namespace {

absl::StatusOr<std::vector<uint64_t>> SortedIds(
    const google::protobuf::RepeatedField<uint64_t>& ids, const char* what) {
  std::vector<uint64_t> out(ids.begin(), ids.end());
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == kNone) return absl::InvalidArgumentError(absl::StrCat(what, " has id 0"));
    if (i > 0 && out[i - 1] >= out[i]) {
      return absl::InvalidArgumentError(absl::StrCat(what, " is not sorted and unique"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ConfState> FromProto(const pb::ConfState& p) {
  ConfState cs;
  ASSIGN_OR_RETURN(cs.voters, SortedIds(p.voters(), "voters"));
  ASSIGN_OR_RETURN(cs.learners, SortedIds(p.learners(), "learners"));
  ASSIGN_OR_RETURN(cs.voters_outgoing, SortedIds(p.voters_outgoing(), "voters_outgoing"));
  ASSIGN_OR_RETURN(cs.learners_next, SortedIds(p.learners_next(), "learners_next"));
  cs.auto_leave = p.auto_leave();
  return cs;
}

absl::StatusOr<Snapshot> FromProto(const pb::Snapshot& p) {
  Snapshot s;
  s.data = p.data();
  ASSIGN_OR_RETURN(s.metadata.conf_state, FromProto(p.metadata().conf_state()));
  s.metadata.index = p.metadata().index();
  s.metadata.term = p.metadata().term();
  if (s.metadata.index != 0 && s.metadata.term == 0) {
    return absl::InvalidArgumentError("snapshot has an index but term 0");
  }
  return s;
}

absl::StatusOr<Message> FromProto(const pb::Message& p) {
  if (!pb::MessageType_IsValid(p.type())) {
    return absl::InvalidArgumentError(absl::StrCat("unknown message type ", p.type()));
  }
  Message m;
  m.type = static_cast<MessageType>(p.type());
  if (IsLocalMessage(m.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat(MessageTypeName(m.type), " is local and must not come from a peer"));
  }
  if (p.from() == kNone || p.to() == kNone) {
    return absl::InvalidArgumentError("message without sender or recipient");
  }
  // Proposals and read requests forwarded to the leader travel without a term, every other
  // message with one. The core passes the former on and answers the latter, and checks
  // both rules when it sends (found by fuzz/peer_message_fuzz: a MsgVote of term 0, a
  // MsgProp with one, each failed a check in the core).
  const bool termless = m.type == MessageType::kProp || m.type == MessageType::kReadIndex;
  if (termless != (p.term() == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(MessageTypeName(m.type), " from a peer ",
                                                   termless ? "with" : "without", " a term"));
  }
  // Terms and indexes far beyond any a cluster reaches: a node moved to term 2^64-1 by a
  // peer would overflow at its next election (found by fuzz/peer_message_fuzz).
  const uint64_t numbers[] = {p.term(),
                              p.log_term(),
                              p.index(),
                              p.commit(),
                              p.reject_hint(),
                              p.snapshot().metadata().index(),
                              p.snapshot().metadata().term()};
  for (uint64_t n : numbers) {
    if (n > kMaxWireTermOrIndex) {
      return absl::InvalidArgumentError("a term or index in a peer message is out of range");
    }
  }
  for (const auto& pe : p.entries()) {
    if (pe.term() > kMaxWireTermOrIndex || pe.index() > kMaxWireTermOrIndex) {
      return absl::InvalidArgumentError("an entry's term or index is out of range");
    }
  }
  m.to = p.to();
  m.from = p.from();
  m.term = p.term();
  m.log_term = p.log_term();
  m.index = p.index();
  m.commit = p.commit();
  m.reject = p.reject();
  m.reject_hint = p.reject_hint();
  m.context = p.context();
  m.entries.reserve(p.entries_size());
  for (const auto& pe : p.entries()) {
    ASSIGN_OR_RETURN(Entry e, FromProto(pe));
    m.entries.push_back(std::move(e));
  }
  if (m.type == MessageType::kApp) {
    if (m.log_term > m.term) {
      return absl::InvalidArgumentError("MsgApp log term later than the message's term");
    }
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (m.entries[i].index != m.index + 1 + i) {
        return absl::InvalidArgumentError("MsgApp entries are not contiguous after its index");
      }
      if (m.entries[i].term < m.log_term || m.entries[i].term > m.term) {
        return absl::InvalidArgumentError("MsgApp entry term out of range");
      }
    }
  }
  if (p.has_snapshot()) {
    if (m.type != MessageType::kSnap) {
      return absl::InvalidArgumentError("snapshot attached to a message that is not MsgSnap");
    }
    ASSIGN_OR_RETURN(Snapshot s, FromProto(p.snapshot()));
    // A leader's snapshot holds only entries of its term or earlier; a later one would give
    // the receiver a log from the future (found by fuzz/peer_message_fuzz).
    if (s.metadata.term > m.term) {
      return absl::InvalidArgumentError("MsgSnap snapshot from a later term than the message");
    }
    m.snapshot = std::make_shared<const Snapshot>(std::move(s));
  } else if (m.type == MessageType::kSnap) {
    return absl::InvalidArgumentError("MsgSnap without a snapshot");
  }
  return m;
}

std::string EncodeMessage(const Message& m) {
  pb::Message p;
  ToProto(m, &p);
  return p.SerializeAsString();
}

absl::StatusOr<Message> DecodeMessage(absl::string_view bytes) {
  pb::Message p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("message does not parse");
  }
  return FromProto(p);
}

}  // namespace rb::raft
