// MemoryNodeStore: a NodeStore kept in memory, the simulator's model of the storage
// contract. Persist() is atomic and takes effect only when the driver's scheduler runs its
// completion (the simulator delays it by a disk latency); a crash before that (Crash())
// loses it, exactly like an unsynced write. Everything else is durable at once.
#ifndef RAFTBADGER_NODE_MEMORY_NODE_STORE_H_
#define RAFTBADGER_NODE_MEMORY_NODE_STORE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "node/node_store.h"
#include "raft/memory_storage.h"

namespace rb::node {

class MemoryNodeStore : public NodeStore {
 public:
  // Runs `work` now or later. The default runs it at once (synchronous persistence).
  using Scheduler = std::function<void(std::function<void()> work)>;

  explicit MemoryNodeStore(const raft::ConfState& initial, Scheduler scheduler = nullptr);

  const raft::Storage& raft_storage() const override { return view_; }
  void Persist(const raft::Ready& rd, ApplyFn apply, std::function<void()> on_durable,
               std::function<void(absl::Status)> done) override;
  absl::Status Apply(const std::function<absl::Status(KvTxn*)>& fn) override;
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) const override;
  uint64_t applied_index() const override { return applied_index_; }
  absl::StatusOr<StateDigest> Digest() const override;
  absl::Status SnapshotAndCompact(uint64_t keep_entries) override;
  // A snapshot in memory is cheap: every compaction takes one, so none is ever wanted.
  absl::Status CompactLog(uint64_t keep_entries) override {
    return SnapshotAndCompact(keep_entries);
  }
  bool snapshot_wanted() const override { return false; }
  uint64_t snapshot_index() const override;

  // The process died: a persist in flight never completes, and its callback is dropped.
  void Crash() { ++incarnation_; }
  // While set, a persist that completes finds no room: it changes nothing and reports
  // ResourceExhausted, as SQLite's SQLITE_FULL does.
  void set_disk_full(bool full) { disk_full_ = full; }
  const raft::HardState& durable_hard_state() const { return log_.hard_state(); }

 private:
  class Txn;
  absl::Status RunTxn(const ApplyFn& fn);

  // The log as the core reads it, except that the initial configuration is the one as of
  // the applied index (entries after it, conf changes included, are applied again after a
  // restart; those before it are not). storage::Store reports it the same way.
  class LogView : public raft::Storage {
   public:
    explicit LogView(const MemoryNodeStore* store) : store_(store) {}
    absl::StatusOr<raft::InitialState> GetInitialState() const override;
    absl::Status Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes,
                         std::vector<raft::Entry>* out) const override {
      return store_->log_.Entries(lo, hi, max_bytes, out);
    }
    absl::StatusOr<uint64_t> Term(uint64_t i) const override { return store_->log_.Term(i); }
    absl::StatusOr<uint64_t> FirstIndex() const override { return store_->log_.FirstIndex(); }
    absl::StatusOr<uint64_t> LastIndex() const override { return store_->log_.LastIndex(); }
    absl::StatusOr<std::shared_ptr<const raft::Snapshot>> GetSnapshot() const override {
      return store_->log_.GetSnapshot();
    }

   private:
    const MemoryNodeStore* store_;
  };

  raft::MemoryStorage log_;
  LogView view_{this};
  Scheduler scheduler_;
  uint64_t incarnation_ = 0;
  bool disk_full_ = false;
  std::map<std::string, std::string> kv_;  // ordered: snapshots and scans are deterministic
  uint64_t applied_index_ = 0;
  raft::ConfState applied_conf_state_;
};

}  // namespace rb::node

#endif  // RAFTBADGER_NODE_MEMORY_NODE_STORE_H_
