#include "server/force_new_cluster.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "raft/codec.h"
#include "raft/confchange.h"

namespace rb::server {
namespace {

// The configuration in force once every entry of the log is applied: the applied one,
// then the conf changes after it, committed or not (the forced node commits them all).
absl::StatusOr<raft::ConfState> ConfStateAt(const storage::Store& store, uint64_t last) {
  raft::ConfState cs = store.applied_conf_state();
  uint64_t next = store.applied_index() + 1;
  while (next <= last) {  // bounded: each round reads at least one entry
    std::vector<raft::Entry> entries;
    RETURN_IF_ERROR(store.Entries(next, last + 1, /*max_bytes=*/64 << 20, &entries));
    if (entries.empty()) return absl::DataLossError(absl::StrCat("log entry ", next, " missing"));
    for (const raft::Entry& e : entries) {
      if (e.type != raft::EntryType::kConfChange) continue;
      auto cc = raft::DecodeConfChange(e.data);
      if (!cc.ok()) continue;  // the node would skip it too
      auto after = raft::NextConfState(cs, *cc);
      if (after.ok()) cs = *after;  // an invalid change leaves the configuration as is
    }
    next = entries.back().index + 1;
  }
  return cs;
}

bool Contains(const std::vector<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

absl::StatusOr<ForcedCluster> ForceNewCluster(storage::Store* store, uint64_t self_id) {
  ASSIGN_OR_RETURN(uint64_t last, store->LastIndex());
  ASSIGN_OR_RETURN(raft::ConfState cs, ConfStateAt(*store, last));
  const raft::HardState hs = store->hard_state();
  RB_CHECK(last >= hs.commit, "the commit index is past the log");
  if (!Contains(cs.voters, self_id) && !Contains(cs.voters_outgoing, self_id)) {
    return absl::FailedPreconditionError(
        "this node is not a voter of its cluster as of its last log entry: only a voter's "
        "data holds every committed entry");
  }
  std::vector<raft::ConfChange> changes;
  if (!cs.voters_outgoing.empty()) changes.push_back(raft::ConfChange{});  // leave joint
  for (const auto* ids : {&cs.voters, &cs.voters_outgoing, &cs.learners, &cs.learners_next}) {
    for (uint64_t id : *ids) {
      if (id == self_id) continue;
      bool seen = false;
      for (const raft::ConfChange& c : changes) {
        seen = seen || (!c.changes.empty() && c.changes[0].node_id == id);
      }
      if (seen) continue;
      raft::ConfChange cc;
      cc.changes.push_back({raft::ConfChangeType::kRemoveNode, id});
      changes.push_back(std::move(cc));
    }
  }
  ForcedCluster out;
  out.commit_index = hs.commit;
  // Alone already: the node commits its own tail once it leads, as any leader does.
  if (changes.empty()) return out;
  // Each change must be valid on top of the last, as the node will check when applying.
  std::vector<raft::Entry> entries;
  raft::ConfState check = cs;
  for (const raft::ConfChange& cc : changes) {
    ASSIGN_OR_RETURN(check, raft::NextConfState(check, cc));
    entries.push_back(raft::Entry{hs.term, last + entries.size() + 1, raft::EntryType::kConfChange,
                                  raft::EncodeConfChange(cc)});
  }
  out.removed_members = changes.size() - (cs.voters_outgoing.empty() ? 0 : 1);
  out.committed_tail_entries = last - hs.commit;
  out.commit_index = entries.back().index;
  RETURN_IF_ERROR(store->Write([&](storage::WriteTxn* txn) -> absl::Status {
    RETURN_IF_ERROR(txn->AppendEntries(entries));
    return txn->SetHardState(raft::HardState{hs.term, hs.vote, out.commit_index});
  }));
  return out;
}

}  // namespace rb::server
