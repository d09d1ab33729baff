#include "node/memory_node_store.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/mutation.h"
#include "base/status_macros.h"
#include "node/state_machine.h"
#include "proto/storage.pb.h"

namespace rb::node {

namespace spb = raftbadger::storagepb;

namespace {

// The snapshot_skips_sessions mutant: the session rows stay as they were before the install.
void RestoreSessionRows(const std::map<std::string, std::string>& old,
                        std::map<std::string, std::string>* kv) {
  std::string prefix = SessionKey(0);
  prefix.resize(prefix.size() - 8);  // without the client id
  for (auto it = kv->lower_bound(prefix); it != kv->end() && absl::StartsWith(it->first, prefix);) {
    it = kv->erase(it);
  }
  for (auto it = old.lower_bound(prefix); it != old.end() && absl::StartsWith(it->first, prefix);
       ++it) {
    (*kv)[it->first] = it->second;
  }
}

}  // namespace

// Stages changes and applies them on commit, so a failed Apply changes nothing.
class MemoryNodeStore::Txn : public KvTxn {
 public:
  explicit Txn(MemoryNodeStore* store) : store_(store) {}
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    auto staged = staged_.find(std::string(key));
    if (staged != staged_.end()) return staged->second;
    auto it = store_->kv_.find(std::string(key));
    if (it == store_->kv_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  absl::Status Put(absl::string_view key, absl::string_view value, uint64_t) override {
    staged_[std::string(key)] = std::string(value);
    return absl::OkStatus();
  }
  absl::StatusOr<bool> Delete(absl::string_view key) override {
    ASSIGN_OR_RETURN(auto current, Get(key));
    staged_[std::string(key)] = std::nullopt;
    return current.has_value();
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(absl::string_view prefix,
                                                                        size_t limit) override {
    // Merges the committed rows with the staged ones (staged wins; nullopt is a delete).
    std::vector<std::pair<std::string, std::string>> out;
    const std::string from(prefix);
    auto base = store_->kv_.lower_bound(from);
    auto staged = staged_.lower_bound(from);
    auto in_prefix = [&](const std::string& key) { return absl::StartsWith(key, prefix); };
    // Bounded: each round consumes a row of either map, and stops at `limit` results.
    while (out.size() < limit) {
      const bool base_ok = base != store_->kv_.end() && in_prefix(base->first);
      const bool staged_ok = staged != staged_.end() && in_prefix(staged->first);
      if (!base_ok && !staged_ok) break;
      if (staged_ok && (!base_ok || staged->first <= base->first)) {
        if (base_ok && base->first == staged->first) ++base;
        if (staged->second) out.emplace_back(staged->first, *staged->second);
        ++staged;
      } else {
        out.emplace_back(base->first, base->second);
        ++base;
      }
    }
    return out;
  }
  absl::Status SetApplied(uint64_t index, const raft::ConfState& cs) override {
    if (index < store_->applied_index_) {
      return absl::FailedPreconditionError("applied index would go back");
    }
    applied_ = index;
    conf_state_ = cs;
    return absl::OkStatus();
  }
  uint64_t applied_index() const override { return applied_.value_or(store_->applied_index_); }
  void Commit() {
    for (auto& [key, value] : staged_) {
      if (value) {
        store_->kv_[key] = std::move(*value);
      } else {
        store_->kv_.erase(key);
      }
    }
    if (applied_) {
      store_->applied_index_ = *applied_;
      store_->applied_conf_state_ = conf_state_;
    }
  }

 private:
  MemoryNodeStore* store_;
  std::map<std::string, std::optional<std::string>> staged_;
  std::optional<uint64_t> applied_;
  raft::ConfState conf_state_;
};

absl::StatusOr<raft::InitialState> MemoryNodeStore::LogView::GetInitialState() const {
  ASSIGN_OR_RETURN(raft::InitialState state, store_->log_.GetInitialState());
  if (!store_->applied_conf_state_.voters.empty()) {
    state.conf_state = store_->applied_conf_state_;
  }
  return state;
}

MemoryNodeStore::MemoryNodeStore(const raft::ConfState& initial, Scheduler scheduler)
    : scheduler_(std::move(scheduler)) {
  log_.SetConfState(initial);
}

void MemoryNodeStore::Persist(const raft::Ready& rd, ApplyFn apply,
                              std::function<void()> on_durable,
                              std::function<void(absl::Status)> done) {
  // Copy what must become durable now: the caller may reuse the Ready.
  struct Write {
    std::optional<raft::HardState> hard_state;
    std::vector<raft::Entry> entries;
    std::shared_ptr<const raft::Snapshot> snapshot;
  };
  auto write = std::make_shared<Write>(Write{rd.hard_state, rd.entries, rd.snapshot});
  const uint64_t incarnation = incarnation_;
  auto complete = [this, write, incarnation, apply = std::move(apply),
                   on_durable = std::move(on_durable), done = std::move(done)]() {
    if (incarnation != incarnation_) return;  // the process crashed meanwhile: lost
    if (disk_full_) {
      done(absl::ResourceExhaustedError("simulated disk is full"));
      return;
    }
    absl::Status s;
    if (write->snapshot != nullptr) {
      s = log_.ApplySnapshot(write->snapshot);
      if (s.ok()) {
        spb::SnapshotChunk rows;
        if (!rows.ParseFromString(write->snapshot->data)) {
          s = absl::DataLossError("snapshot data does not parse");
        } else {
          std::map<std::string, std::string> old = std::move(kv_);
          kv_.clear();
          for (const auto& row : rows.rows()) kv_[row.key()] = row.value();
          if (RB_MUTANT(kSnapshotSkipsSessions)) RestoreSessionRows(old, &kv_);
          applied_index_ = write->snapshot->metadata.index;
          applied_conf_state_ = write->snapshot->metadata.conf_state;
        }
      }
    }
    if (s.ok()) s = log_.Append(write->entries);
    if (s.ok() && write->hard_state) log_.SetHardState(*write->hard_state);
    if (s.ok() && apply) s = RunTxn(apply);
    if (s.ok() && on_durable) on_durable();
    done(s);
  };
  if (scheduler_) {
    scheduler_(std::move(complete));
  } else {
    complete();
  }
}

absl::Status MemoryNodeStore::Apply(const std::function<absl::Status(KvTxn*)>& fn) {
  return RunTxn(fn);
}

absl::Status MemoryNodeStore::RunTxn(const ApplyFn& fn) {
  Txn txn(this);
  RETURN_IF_ERROR(fn(&txn));
  txn.Commit();
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> MemoryNodeStore::Get(absl::string_view key) const {
  auto it = kv_.find(std::string(key));
  if (it == kv_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::Status MemoryNodeStore::SnapshotAndCompact(uint64_t keep_entries) {
  ASSIGN_OR_RETURN(auto current, log_.GetSnapshot());
  if (applied_index_ <= current->metadata.index) return absl::OkStatus();
  spb::SnapshotChunk rows;
  for (const auto& [key, value] : kv_) {
    auto* row = rows.add_rows();
    row->set_key(key);
    row->set_value(value);
  }
  rows.set_last(true);
  RETURN_IF_ERROR(
      log_.CreateSnapshot(applied_index_, applied_conf_state_, rows.SerializeAsString()).status());
  if (applied_index_ > keep_entries) {
    const uint64_t compact = applied_index_ - keep_entries;
    ASSIGN_OR_RETURN(uint64_t first, log_.FirstIndex());
    if (compact >= first) RETURN_IF_ERROR(log_.Compact(compact));
  }
  return absl::OkStatus();
}

uint64_t MemoryNodeStore::snapshot_index() const {
  auto snap = log_.GetSnapshot();
  RB_CHECK(snap.ok(), "the memory log has no snapshot");
  return (*snap)->metadata.index;
}

absl::StatusOr<StateDigest> MemoryNodeStore::Digest() const {
  StateDigestBuilder digest;
  for (const auto& [key, value] : kv_) digest.AddRow(key, value);
  return digest.Finish(applied_index_, applied_conf_state_);
}

}  // namespace rb::node
