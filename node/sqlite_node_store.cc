#include "node/sqlite_node_store.h"

#include <utility>

#include "base/status_macros.h"
#include "storage/snapshot.h"

namespace rb::node {
namespace {

// KvTxn over one storage::WriteTxn.
class SqliteKvTxn : public KvTxn {
 public:
  explicit SqliteKvTxn(storage::WriteTxn* txn) : txn_(txn) {}
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    return txn_->Get(key);
  }
  absl::Status Put(absl::string_view key, absl::string_view value, uint64_t index) override {
    return txn_->Put(key, value, index);
  }
  absl::StatusOr<bool> Delete(absl::string_view key) override { return txn_->Delete(key); }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Scan(absl::string_view prefix,
                                                                        size_t limit) override {
    ASSIGN_OR_RETURN(std::vector<storage::KeyValue> rows, txn_->Scan(prefix, limit));
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(rows.size());
    for (storage::KeyValue& kv : rows) out.emplace_back(std::move(kv.key), std::move(kv.value));
    return out;
  }
  absl::Status SetApplied(uint64_t index, const raft::ConfState& cs) override {
    return txn_->SetApplied(index, cs);
  }
  uint64_t applied_index() const override { return txn_->applied_index(); }

 private:
  storage::WriteTxn* txn_;
};

// Pages copied per step while snapshotting; the node takes the whole snapshot in one call.
constexpr int kSnapshotPagesPerStep = 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteNodeStore>> SqliteNodeStore::Open(
    const storage::StoreOptions& options, const raft::ConfState& bootstrap, Scheduler scheduler) {
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(options));
  ASSIGN_OR_RETURN(raft::InitialState init, store->GetInitialState());
  ASSIGN_OR_RETURN(uint64_t last, store->LastIndex());
  const bool fresh = init.conf_state.voters.empty() && last == 0 && init.hard_state.IsEmpty();
  if (fresh) {
    RETURN_IF_ERROR(
        store->Write([&](storage::WriteTxn* txn) { return txn->SetConfState(bootstrap); }));
  }
  return std::unique_ptr<SqliteNodeStore>(
      new SqliteNodeStore(std::move(store), std::move(scheduler)));
}

void SqliteNodeStore::Persist(const raft::Ready& rd, ApplyFn apply,
                              std::function<void(absl::Status)> done) {
  absl::Status status = store_->Write([&](storage::WriteTxn* txn) -> absl::Status {
    if (rd.snapshot != nullptr) RETURN_IF_ERROR(txn->InstallSnapshot(*rd.snapshot));
    RETURN_IF_ERROR(txn->AppendEntries(rd.entries));
    if (rd.hard_state) RETURN_IF_ERROR(txn->SetHardState(*rd.hard_state));
    if (!apply) return absl::OkStatus();
    SqliteKvTxn kv(txn);
    return apply(&kv);
  });
  if (scheduler_) {
    scheduler_([done = std::move(done), status]() { done(status); });
  } else {
    done(status);
  }
}

absl::Status SqliteNodeStore::Apply(const std::function<absl::Status(KvTxn*)>& fn) {
  return store_->Write([&](storage::WriteTxn* txn) {
    SqliteKvTxn kv(txn);
    return fn(&kv);
  });
}

absl::StatusOr<std::optional<std::string>> SqliteNodeStore::Get(absl::string_view key) const {
  return store_->Get(key);
}

absl::Status SqliteNodeStore::SnapshotAndCompact(uint64_t keep_entries) {
  ASSIGN_OR_RETURN(auto builder, storage::SnapshotBuilder::Start(store_.get()));
  bool done = false;
  for (int step = 0; step < 1'000'000 && !done; ++step) {  // bounded by the database size
    ASSIGN_OR_RETURN(done, builder->Step(kSnapshotPagesPerStep));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const raft::Snapshot> snap, builder->Finish());
  const uint64_t index = snap->metadata.index;
  if (index <= keep_entries) return absl::OkStatus();
  ASSIGN_OR_RETURN(uint64_t first, store_->FirstIndex());
  const uint64_t compact = index - keep_entries;
  if (compact < first) return absl::OkStatus();
  RETURN_IF_ERROR(store_->Write([&](storage::WriteTxn* txn) { return txn->Compact(compact); }));
  // Compaction is when the WAL holds the most dead frames: checkpoint and truncate it, so
  // that its disk space comes back. Unavailable only means a reader pins it: next time.
  const absl::Status checkpoint = store_->Checkpoint();
  return checkpoint.code() == absl::StatusCode::kUnavailable ? absl::OkStatus() : checkpoint;
}

}  // namespace rb::node
