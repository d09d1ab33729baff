#include "node/sqlite_node_store.h"

#include <utility>

#include "base/logging.h"
#include "base/status_macros.h"
#include "storage/snapshot.h"
#include "storage/wal_frames.h"

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

// The newest log entries held in memory for the core: enough for followers that keep up
// (a lagging one reads older entries from the database).
constexpr uint64_t kLogCacheBytes = 64 << 20;

// Rows read per query while digesting the state machine.
constexpr size_t kDigestPageRows = 1024;

// Pages copied per step while snapshotting; the node takes the whole snapshot in one call.
constexpr int kSnapshotPagesPerStep = 1024;

// The most a Ready may apply on the node's thread (see Persist): some 250 writes of
// 256 bytes, a few hundred microseconds of SQLite work. Larger applies (a follower catching
// up, large values) go to the writer thread, fsync or not, so that the loop keeps stepping.
constexpr uint64_t kInlineApplyBytes = 64 << 10;

}  // namespace

// raft::Storage over the store, under the store's mutex: the LogCache's way to older
// entries, the snapshot and the initial state.
class SqliteNodeStore::LockedLog : public raft::Storage {
 public:
  explicit LockedLog(const SqliteNodeStore* owner) : owner_(owner) {}
  absl::StatusOr<raft::InitialState> GetInitialState() const override {
    absl::MutexLock lock(&owner_->mu_);
    return owner_->store_->GetInitialState();
  }
  absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                       std::vector<raft::Entry>* out) const override {
    absl::MutexLock lock(&owner_->mu_);
    return owner_->store_->Entries(lo, hi, max_bytes, out);
  }
  absl::StatusOr<uint64_t> Term(uint64_t i) const override {
    absl::MutexLock lock(&owner_->mu_);
    return owner_->store_->Term(i);
  }
  absl::StatusOr<uint64_t> FirstIndex() const override {
    absl::MutexLock lock(&owner_->mu_);
    return owner_->store_->FirstIndex();
  }
  absl::StatusOr<uint64_t> LastIndex() const override {
    absl::MutexLock lock(&owner_->mu_);
    return owner_->store_->LastIndex();
  }
  // The core asks when a follower needs entries the log no longer has. A snapshot older
  // than the log's start would not do (the follower would then miss the entries between
  // the two): the core is told to ask again later, and the node builds one meanwhile.
  absl::StatusOr<std::shared_ptr<const raft::Snapshot>> GetSnapshot() const override {
    absl::MutexLock lock(&owner_->mu_);
    ASSIGN_OR_RETURN(std::shared_ptr<const raft::Snapshot> snap, owner_->store_->GetSnapshot());
    ASSIGN_OR_RETURN(uint64_t first, owner_->store_->FirstIndex());
    if (snap->metadata.index + 1 < first) {
      owner_->snapshot_wanted_.store(true, std::memory_order_relaxed);
      return raft::ErrSnapshotTemporarilyUnavailable();
    }
    return snap;
  }

 private:
  const SqliteNodeStore* owner_;
};

SqliteNodeStore::SqliteNodeStore(std::unique_ptr<storage::Store> store, Scheduler scheduler,
                                 Writer writer)
    : store_(std::move(store)),
      locked_log_(std::make_unique<LockedLog>(this)),
      scheduler_(std::move(scheduler)),
      writer_(std::move(writer)) {
  RB_CHECK(!writer_ || scheduler_, "a store with a writer thread needs a scheduler");
}

absl::StatusOr<std::unique_ptr<SqliteNodeStore>> SqliteNodeStore::Open(
    const storage::StoreOptions& options, const raft::ConfState& bootstrap, Scheduler scheduler,
    Writer writer) {
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(options));
  ASSIGN_OR_RETURN(raft::InitialState init, store->GetInitialState());
  ASSIGN_OR_RETURN(uint64_t last, store->LastIndex());
  const bool fresh = init.conf_state.voters.empty() && last == 0 && init.hard_state.IsEmpty();
  if (fresh) {
    RETURN_IF_ERROR(
        store->Write([&](storage::WriteTxn* txn) { return txn->SetConfState(bootstrap); }));
  }
  std::unique_ptr<SqliteNodeStore> node_store(
      new SqliteNodeStore(std::move(store), std::move(scheduler), std::move(writer)));
  RETURN_IF_ERROR(node_store->ReloadLog());
  return node_store;
}

SqliteNodeStore::~SqliteNodeStore() = default;

absl::Status SqliteNodeStore::ReloadLog() {
  RB_CHECK(!persist_in_flight_, "ReloadLog during a persist");
  ASSIGN_OR_RETURN(cache_, LogCache::Create(locked_log_.get(), kLogCacheBytes));
  applied_index_.store(store().applied_index());
  return absl::OkStatus();
}

void SqliteNodeStore::SetThreads(Scheduler scheduler, Writer writer) {
  RB_CHECK(!persist_in_flight_, "SetThreads during a persist");
  RB_CHECK(!writer || scheduler, "a store with a writer thread needs a scheduler");
  scheduler_ = std::move(scheduler);
  writer_ = std::move(writer);
}

bool SqliteNodeStore::MaySkipFsync(const raft::Ready& rd, bool applies) const {
  // The core's must_sync (etcd's MustSync): only entries or a new term or vote make
  // promises that a power loss must not break (a snapshot, too). A Ready that only commits
  // and applies holds nothing the log does not: what it applied is committed, so in the
  // log of a majority and in this node's own (it applies only entries it holds durably).
  // A Ready that writes nothing (read states, messages) reaches here only without a writer
  // thread (Persist completes it at once otherwise): it commits an empty transaction, which
  // costs no fsync either way, and takes the ordinary path.
  const bool writes = rd.hard_state.has_value() || applies;
  return writes && !rd.must_sync && rd.entries.empty() && rd.snapshot == nullptr &&
         store_->unsynced_commits() + 1 < storage::wal::kMaxUnsyncedCommits;
}

absl::Status SqliteNodeStore::WriteReady(const raft::Ready& rd, const ApplyFn& apply, bool sync) {
  absl::Status status = store_->Write(
      [&](storage::WriteTxn* txn) -> absl::Status {
        if (rd.snapshot != nullptr) RETURN_IF_ERROR(txn->InstallSnapshot(*rd.snapshot));
        RETURN_IF_ERROR(txn->AppendEntries(rd.entries));
        if (rd.hard_state) RETURN_IF_ERROR(txn->SetHardState(*rd.hard_state));
        if (write_hook_) write_hook_(rd);
        if (!apply) return absl::OkStatus();
        SqliteKvTxn kv(txn);
        return apply(&kv);
      },
      sync);
  // Before completing: the node serves reads waiting for this index once it completes.
  applied_index_.store(store_->applied_index(), std::memory_order_release);
  return status;
}

bool SqliteNodeStore::PersistInline(const raft::Ready& rd, const ApplyFn& apply,
                                    const std::function<void()>& on_durable,
                                    const std::function<void(absl::Status)>& done) {
  if (!rd.entries.empty() || rd.snapshot != nullptr) return false;
  uint64_t apply_bytes = 0;
  for (const raft::Entry& e : rd.committed_entries) apply_bytes += e.data.size();
  if (apply_bytes > kInlineApplyBytes) return false;
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (!MaySkipFsync(rd, apply != nullptr)) return false;
    status = WriteReady(rd, apply, /*sync=*/false);
  }
  // No entries and no snapshot: nothing for the cache.
  if (status.ok() && on_durable) on_durable();
  done(status);
  return true;
}

void SqliteNodeStore::Persist(const raft::Ready& rd, ApplyFn apply,
                              std::function<void()> on_durable,
                              std::function<void(absl::Status)> done) {
  RB_CHECK(!persist_in_flight_, "a second persist while one is in flight");
  // A Ready that writes nothing (only messages and read states, as every ReadIndex round
  // makes on the leader and its followers) needs no transaction. Handed to the writer
  // thread it cost two thread hand-offs and an empty transaction per round on each node;
  // it completes here instead. Without a writer the store keeps its one path, so the
  // simulator's runs (which have none) are unchanged.
  if (writer_ && rd.snapshot == nullptr && rd.entries.empty() && !rd.hard_state && !apply &&
      !write_hook_) {
    if (on_durable) on_durable();
    done(absl::OkStatus());
    return;
  }
  // A small Ready that only applies commits without an fsync in tens of microseconds: on
  // the node's thread, it saves a lone write two hand-offs (to the writer and back).
  if (writer_ && PersistInline(rd, apply, on_durable, done)) return;
  persist_in_flight_ = true;
  // rd stays untouched until done has run (the node's contract with its store).
  auto job = [this, &rd, apply = std::move(apply), on_durable = std::move(on_durable),
              done = std::move(done)]() mutable {
    absl::Status status;
    {
      absl::MutexLock lock(&mu_);
      status = WriteReady(rd, apply, /*sync=*/!MaySkipFsync(rd, apply != nullptr));
    }
    // On the writer's thread, the write ends here: what waited for it goes now, a hand-off
    // sooner than the completion. Without a writer it waits for the completion, which the
    // simulator's scheduler delays by the disk's latency.
    if (writer_ && status.ok() && on_durable) {
      on_durable();
      on_durable = nullptr;
    }
    // Completes the persist, on the node's thread (through the scheduler).
    auto complete = [this, &rd, status, on_durable = std::move(on_durable),
                     done = std::move(done)]() {
      persist_in_flight_ = false;
      if (status.ok()) {
        // Durable now: the core may forget these entries, so the cache must have them.
        if (rd.snapshot != nullptr) {
          cache_->ApplySnapshot(rd.snapshot->metadata.index, rd.snapshot->metadata.term);
        }
        cache_->Append(rd.entries);
        if (on_durable) on_durable();
      }
      done(status);
    };
    if (scheduler_) {
      scheduler_(std::move(complete));
    } else {
      complete();
    }
  };
  if (writer_) {
    writer_(std::move(job));
  } else {
    job();
  }
}

absl::Status SqliteNodeStore::Apply(const std::function<absl::Status(KvTxn*)>& fn) {
  RB_CHECK(!persist_in_flight_, "Apply during a persist");
  absl::MutexLock lock(&mu_);
  absl::Status status = store_->Write([&](storage::WriteTxn* txn) {
    SqliteKvTxn kv(txn);
    return fn(&kv);
  });
  applied_index_.store(store_->applied_index(), std::memory_order_release);
  return status;
}

absl::StatusOr<std::optional<std::string>> SqliteNodeStore::Get(absl::string_view key) const {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(SyncBeforeRead());
  return store_->Get(key);
}

absl::StatusOr<std::vector<storage::KeyValue>> SqliteNodeStore::Scan(
    absl::string_view prefix, size_t limit, absl::string_view start_after) const {
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(SyncBeforeRead());
  return store_->Scan(prefix, limit, start_after);
}

absl::Status SqliteNodeStore::SyncBeforeRead() const {
  // What a client reads here, a power loss must not undo: it would set this node's state
  // machine back below what the client saw (a later stale read from it would go back in
  // time). So an apply committed without its fsync is synced before a read shows it;
  // nothing to do otherwise. A failed sync poisons the store, and the read fails.
  return store_->SyncWal();
}

absl::StatusOr<StateDigest> SqliteNodeStore::Digest() const {
  absl::MutexLock lock(&mu_);
  StateDigestBuilder digest;
  std::string after;  // keys are never empty: "" means from the start
  // Page by page, so memory stays bounded; bounded by the number of rows.
  for (;;) {
    ASSIGN_OR_RETURN(std::vector<storage::KeyValue> page, store_->Scan("", kDigestPageRows, after));
    for (const storage::KeyValue& kv : page) digest.AddRow(kv.key, kv.value);
    if (page.size() < kDigestPageRows) break;
    after = page.back().key;
  }
  return digest.Finish(store_->applied_index(), store_->applied_conf_state());
}

absl::StatusOr<std::pair<int64_t, int64_t>> SqliteNodeStore::CheckpointWal() {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(int64_t before, store_->WalSizeBytes());
  RETURN_IF_ERROR(store_->Checkpoint());
  ASSIGN_OR_RETURN(int64_t after, store_->WalSizeBytes());
  return std::make_pair(before, after);
}

absl::StatusOr<std::shared_ptr<const raft::Snapshot>> SqliteNodeStore::LatestSnapshot() const {
  absl::MutexLock lock(&mu_);
  return store_->GetSnapshot();
}

uint64_t SqliteNodeStore::snapshot_index() const {
  auto snap = LatestSnapshot();
  return snap.ok() ? (*snap)->metadata.index : 0;
}

absl::Status SqliteNodeStore::SnapshotAndCompact(uint64_t keep_entries) {
  RB_CHECK(!persist_in_flight_, "a snapshot during a persist");
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(auto builder, storage::SnapshotBuilder::Start(store_.get()));
  bool done = false;
  for (int step = 0; step < 1'000'000 && !done; ++step) {  // bounded by the database size
    ASSIGN_OR_RETURN(done, builder->Step(kSnapshotPagesPerStep));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const raft::Snapshot> snap, builder->Finish());
  snapshot_wanted_.store(false, std::memory_order_relaxed);
  return CompactLocked(snap->metadata.index, keep_entries);
}

absl::Status SqliteNodeStore::CompactLog(uint64_t keep_entries) {
  RB_CHECK(!persist_in_flight_, "a compaction during a persist");
  absl::MutexLock lock(&mu_);
  return CompactLocked(store_->applied_index(), keep_entries);
}

absl::Status SqliteNodeStore::CompactLocked(uint64_t index, uint64_t keep_entries) {
  if (index <= keep_entries) return absl::OkStatus();
  ASSIGN_OR_RETURN(uint64_t first, store_->FirstIndex());
  const uint64_t compact = index - keep_entries;
  if (compact < first) return absl::OkStatus();
  ASSIGN_OR_RETURN(uint64_t compact_term, store_->Term(compact));
  RETURN_IF_ERROR(store_->Write([&](storage::WriteTxn* txn) { return txn->Compact(compact); }));
  cache_->Compact(compact, compact_term);
  // No checkpoint here: SQLite's automatic one (every wal_autocheckpoint_pages) bounds the
  // WAL, and journal_size_limit its file. Truncating the WAL at every snapshot cost a
  // database fsync, and made the next commits grow the file again, each fsync then also
  // writing its size.
  return absl::OkStatus();
}

}  // namespace rb::node
