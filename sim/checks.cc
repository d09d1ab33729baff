// The checks a simulation runs while it runs (see simulation.h for the list), and the
// node hooks that feed them: every applied entry, every Ready, and the state of each node
// after every event. Simulation's other parts (simulation.cc, nemesis.cc, workload.cc)
// drive the run; this file only judges it.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/cluster.h"
#include "storage/page_checksum_vfs.h"

namespace rb::sim {
namespace internal {

void Simulation::OnApply(SimNode* n, const raft::Entry& e) {
  if (e.index <= n->last_applied) {
    Fail("agreement", absl::StrCat("node ", n->id, " applied index ", e.index,
                                   " twice (last applied ", n->last_applied, ")"));
  }
  n->last_applied = e.index;
  FeedModel(e);
  CheckStaleReads();
  const auto fingerprint = std::make_pair(e.term, HashBytes(e.data.view()));
  auto [it, inserted] = applied_.emplace(e.index, fingerprint);
  if (!inserted && it->second != fingerprint) {
    Fail("agreement", absl::StrCat("node ", n->id, " applied a different command at index ",
                                   e.index, " (term ", e.term, " vs ", it->second.first, ")"));
  }
}

void Simulation::FeedModel(const raft::Entry& e) {
  if (model_lost_) return;
  if (e.index > model_.applied_index() + 1) {
    // No node reported the entries in between as applied (one applied them, then crashed
    // before saying so, and the others got them in a snapshot): read them from a log.
    const uint64_t lo = model_.applied_index() + 1;
    std::vector<raft::Entry> gap;
    for (auto& [id, other] : nodes_) {
      // Only a log that has committed them holds the committed entries there.
      if (other.node == nullptr || other.node->raw().raft().log().committed() < e.index) continue;
      gap.clear();
      if (other.store()->raft_storage().Entries(lo, e.index, UINT64_MAX, &gap).ok() &&
          gap.size() == e.index - lo) {
        break;
      }
      gap.clear();
    }
    if (gap.empty()) {
      // Compacted everywhere: stale reads from here on cannot be checked (and are counted).
      model_lost_ = true;
      return;
    }
    for (const raft::Entry& g : gap) {
      RB_CHECK(model_.Apply(g.index, g.type == raft::EntryType::kNormal, g.data.view()),
               "model rejected entry ", g.index);
      RB_CHECK(membership_.Apply(g), "membership model rejected entry ", g.index);
    }
  }
  RB_CHECK(model_.Apply(e.index, e.type == raft::EntryType::kNormal, e.data.view()),
           "model rejected entry ", e.index);
  RB_CHECK(membership_.Apply(e), "membership model rejected entry ", e.index);
}

void Simulation::OnTellRemoved(uint64_t from, uint64_t to, uint64_t removed_at) {
  ++result_.removals_told;
  // Without a trace line, and reading nothing from a disk: the run is the same as it was
  // before this check existed.
  const uint64_t applied = NodeById(from).store()->applied_index();
  if (!model_lost_ && applied <= membership_.applied_index()) {
    ++result_.removals_told_checked;
    const uint64_t expected = membership_.RemovedAt(to, applied);
    if (expected != removed_at) {
      Fail(
          "membership",
          absl::StrCat("node ", from, " told node ", to, " it was removed at log index ",
                       removed_at, ", but as of its applied index ", applied, " the committed log ",
                       expected == 0 ? "has not removed it (or added it again)"
                                     : absl::StrCat("removed it at ", expected)));
      return;
    }
  }
  if (scenario_.deliver_removals) {
    DeliverRemovalLater(from, to, removed_at);
    return;
  }
  // How often the told node would act on it (node::Node::MissedItsRemovalAt); a store on
  // a simulated disk is not read here, since its reads are timed and may fail.
  SimNode& told = NodeById(to);
  if (told.node != nullptr && told.memory != nullptr && told.node->MissedItsRemovalAt(removed_at)) {
    ++result_.removals_believed;
  }
}

void Simulation::CheckStaleReads() {
  while (!stale_reads_.empty() && stale_reads_.begin()->first <= model_.applied_index()) {
    const uint64_t index = stale_reads_.begin()->first;
    const StaleRead read = stale_reads_.begin()->second;
    stale_reads_.erase(stale_reads_.begin());
    const Operation& op = result_.history[read.op];
    ++result_.stale_reads_checked;
    const std::optional<std::string> expected = model_.ValueAt(op.key, index);
    if (op.read != expected) {
      Fail("stale reads",
           absl::StrCat("client ", op.client, "'s stale read of ", op.key, " on node ", read.node,
                        " returned ", op.read.value_or("(absent)"), ", but at its applied index ",
                        index, " the key held ", expected.value_or("(absent)")));
    }
  }
}

void Simulation::CheckAfterEvent() {
  // Whole-log comparison across nodes (O(nodes^2 * log)) every 4096 events and at the end;
  // otherwise only the node the event acted on is checked (the others did not change).
  const bool full_logs = result_.events >= last_full_check_ + 4096;
  if (full_logs) last_full_check_ = result_.events;
  live_.clear();  // reused: no allocation per event
  auto check = [this](SimNode& n) {
    const raft::HardState hs = n.durable_hard_state();
    if (hs.term < n.durable_term || hs.commit < n.durable_commit) {
      Fail("durability",
           absl::StrCat("node ", n.id, "'s durable state went back: term ", n.durable_term, "->",
                        hs.term, ", commit ", n.durable_commit, "->", hs.commit));
    }
    n.durable_term = std::max(n.durable_term, hs.term);
    n.durable_commit = std::max(n.durable_commit, hs.commit);
    if (n.sqlite != nullptr) {
      n.durable_applied = std::max(n.durable_applied, n.sqlite->store().durable_applied_index());
    }
    if (n.node != nullptr) {
      live_.push_back(&n.node->raw().raft());
      CheckStateDigest(n);
      CheckLease(n);
      CheckElectedByQuorum(n);
    }
  };
  if (full_logs || touched_ == 0) {
    for (auto& [id, n] : nodes_) check(n);
  } else {
    check(NodeById(touched_));
  }
  checker_.set_full_log_checks(full_logs);
  absl::Status s = checker_.Observe(live_);
  if (s.ok() && (full_logs || checker_.commit_safety_due())) {
    if (!full_logs && touched_ != 0) {  // live_ holds the touched node only
      live_.clear();
      for (auto& [id, n] : nodes_) {
        if (n.node != nullptr) live_.push_back(&n.node->raw().raft());
      }
    }
    s = checker_.CheckCommitSafety(live_);
  }
  if (!s.ok()) Fail("invariants", s.ToString());
}

void Simulation::CheckLease(const SimNode& n) {
  const raft::Raft& r = n.node->raw().raft();
  if (n.node->is_leader() && r.term() > max_led_term_) {
    // A new term has a leader: no node may still hold a lease of an earlier one, or its
    // lease reads could miss what the new leader commits.
    max_led_term_ = r.term();
    for (const auto& [id, other] : nodes_) {
      if (id == n.id || other.node == nullptr || !other.node->HasLease()) continue;
      Fail("leases", absl::StrCat("node ", n.id, " leads term ", r.term(), " while node ", id,
                                  " holds a lease of term ", other.node->raw().raft().term(),
                                  " (its lease reads may miss the new leader's writes)"));
      return;
    }
  }
  if (n.timeout_now_term == r.term() && n.node->HasLease()) {
    Fail("leases", absl::StrCat("node ", n.id, " holds a lease of term ", r.term(),
                                " after it sent TimeoutNow in that term"));
    return;
  }
  if (r.term() < max_led_term_ && n.node->HasLease()) {
    Fail("leases", absl::StrCat("node ", n.id, " holds a lease of term ", r.term(),
                                " although term ", max_led_term_, " has had a leader"));
  }
}

void Simulation::OnReady(SimNode* n, const raft::Ready& ready) {
  CheckOneConfChangeAtATime(*n, ready);
  for (const raft::ReadState& rs : ready.read_states) {
    auto it = read_floor_.find(rs.request_ctx);
    if (it == read_floor_.end()) continue;  // answered before (a duplicate answer)
    if (rs.index < it->second) {
      Fail("reads",
           absl::StrCat("node ", n->id, " answers read ", rs.request_ctx, " at index ", rs.index,
                        ", below index ", it->second, ", committed before the read began"));
    }
    read_floor_.erase(it);
  }
}

void Simulation::CheckOneConfChangeAtATime(const SimNode& n, const raft::Ready& ready) {
  if (n.node == nullptr || !n.node->is_leader()) return;
  const raft::Raft& r = n.node->raw().raft();
  for (const raft::Entry& e : ready.entries) {
    if (e.type != raft::EntryType::kConfChange || e.term != r.term()) continue;
    const uint64_t committed = r.log().committed();
    std::vector<raft::Entry> before;
    if (e.index <= committed + 1 ||
        !r.log().Slice(committed + 1, e.index, raft::kNoLimit, &before).ok()) {
      continue;
    }
    for (const raft::Entry& earlier : before) {
      if (earlier.type != raft::EntryType::kConfChange) continue;
      Fail("membership", absl::StrCat("leader ", n.id, " appended configuration change ", e.index,
                                      " while change ", earlier.index,
                                      " was not committed (commit index ", committed, ")"));
      return;
    }
  }
}

void Simulation::CheckElectedByQuorum(SimNode& n) {
  const raft::Raft& r = n.node->raw().raft();
  if (!n.node->is_leader() || r.term() == n.quorum_checked_term) return;
  n.quorum_checked_term = r.term();
  // The configuration it leads with is the one its last votes were counted in: a
  // candidate wins only with every change it knew committed applied (raft/invariants.h),
  // and the core counts each vote in the configuration of the moment.
  std::map<uint64_t, bool> votes{{n.id, true}};
  auto it = grants_.find({r.term(), n.id});
  if (it != grants_.end()) {
    for (uint64_t voter : it->second) votes[voter] = true;
  }
  const raft::JointConfig& config = r.tracker().config.voters;
  if (config.Vote(votes) == raft::VoteResult::kWon) return;
  std::vector<uint64_t> granted;
  for (const auto& [voter, yes] : votes) granted.push_back(voter);
  Fail("elections",
       absl::StrCat("node ", n.id, " leads term ", r.term(), " although only nodes ",
                    absl::StrJoin(granted, ", "), " granted it their votes in that term (voters ",
                    absl::StrJoin(config.Ids(), ", "), ")"));
}

void Simulation::CheckStateDigest(SimNode& n) {
  const uint64_t applied = n.store()->applied_index();
  if (applied == n.digested_index || applied == 0) return;
  n.digested_index = applied;
  // The simulator's own reads: they cost the node no virtual time.
  const uint64_t reads_before = n.disk != nullptr ? n.disk->reads() : 0;
  absl::StatusOr<node::StateDigest> digest = n.store()->Digest();
  if (n.disk != nullptr) n.disk_reads_charged += n.disk->reads() - reads_before;
  // A damaged disk may refuse the read; the node meets that itself when it reads.
  if (!digest.ok()) return;
  RB_CHECK(digest->applied_index == applied, "digest at ", digest->applied_index, " vs ", applied);
  auto [it, first] = state_digests_.emplace(applied, std::make_pair(*digest, n.id));
  if (first) return;
  ++result_.state_digests_compared;
  const node::StateDigest& other = it->second.first;
  if (!digest->SameState(other)) {
    Fail("state digest",
         absl::StrCat("node ", n.id, "'s state machine at applied index ", applied,
                      " differs from node ", it->second.second, "'s there: ", digest->rows,
                      " rows (hash ", absl::Hex(digest->rows_hash), ") vs ", other.rows, " (hash ",
                      absl::Hex(other.rows_hash), "), voters ",
                      absl::StrJoin(digest->conf_state.voters, ","), " vs ",
                      absl::StrJoin(other.conf_state.voters, ","),
                      digest->conf_state == other.conf_state ? "" : " (configurations differ)"));
  }
}

void Simulation::CheckReadFaultsCaught() {
  const storage::PageChecksumVfs::Counters c = vfs_->checksums().counters();
  result_.read_faults = vfs_->read_faults();
  result_.read_faults_repaired = c.repaired;
  // Every flipped bit fails its page's checksum. Damage at rest (DamageDatabase) also fails
  // checksums, and is found on every read of that page: then only a lower bound holds. So
  // does a failed fsync (SimDisk::FailSync): it drops unsynced writes that SQLite already
  // counts as committed (an apply's commit skips its fsync), and when SQLite reads one of
  // them back in the same process (it did inside the failing COMMIT), the frame fails its
  // check: seed 7831148 with --voters=1 --large_values=always --storage=sqlite.
  const bool damaged_at_rest = result_.corrupted_disks > 0 || result_.sync_failures > 0;
  if (damaged_at_rest ? c.mismatches < result_.read_faults : c.mismatches != result_.read_faults) {
    Fail("page checksums",
         absl::StrCat(result_.read_faults, " bits flipped in page reads, but the page checksums ",
                      "failed ", c.mismatches, " times: a damaged read went unnoticed"));
  }
  if (!damaged_at_rest && c.damaged > 0) {
    Fail("page checksums",
         absl::StrCat(c.damaged, " pages read as damaged, but no disk was damaged"));
  }
}

}  // namespace internal
}  // namespace rb::sim
