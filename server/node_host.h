// NodeHost: the production driver of one node::Node. One thread (the loop) owns the node,
// its store and everything they touch; other threads (gRPC handlers, peer links, the
// membership manager) hand it work through Post(), a bounded queue. The loop ticks the node
// on the real clock, takes a timed snapshot, and publishes a read-only View for status and
// health. Callbacks the node makes run on the loop; they must hand results back to other
// threads, never call into the node again.
//
// A second thread, the writer, runs the store's write transactions (one per Ready, fsync
// included), so that the loop keeps receiving acknowledgments, proposals and reads while
// the disk works; each write's completion comes back to the loop as posted work.
#ifndef RAFTBADGER_SERVER_NODE_HOST_H_
#define RAFTBADGER_SERVER_NODE_HOST_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/node.h"
#include "node/sqlite_node_store.h"

namespace rb::server {

struct NodeHostOptions {
  node::NodeOptions node;
  absl::Duration tick = absl::Milliseconds(100);
  // A snapshot is taken at least this often if anything was applied; zero: never.
  absl::Duration snapshot_interval = absl::Hours(1);
  // Bound on work waiting for the loop; Post() refuses more.
  size_t max_queued = 100000;
  // Called on the writer thread after each write transaction (its fsync included).
  std::function<void(absl::Duration)> on_write_done;
  // The data directory's free space (server/disk_space.h), asked on the loop every
  // disk_check_interval; below min_free_bytes the node refuses new writes
  // (node::Node::SetLowDiskSpace). Unset: never asked.
  std::function<absl::StatusOr<uint64_t>()> free_bytes;
  uint64_t min_free_bytes = 0;
  absl::Duration disk_check_interval = absl::Seconds(1);
};

// What other threads may read about the node: refreshed by the loop after each round.
struct NodeView {
  uint64_t id = 0;
  uint64_t term = 0;
  uint64_t leader = 0;
  std::string role;  // leader, follower, candidate, pre-candidate, learner, non-member
  uint64_t commit = 0;
  uint64_t applied = 0;
  raft::ConfState conf;
  // On the leader: each member's replication progress (match index, probe, replicate or
  // snapshot), by Raft id. Empty elsewhere.
  struct Progress {
    uint64_t match = 0;
    std::string state;
  };
  std::map<uint64_t, Progress> progress;
  node::NodeCounters counters;
  size_t pending_writes = 0;
  size_t pending_requests = 0;  // writes and reads
  uint64_t snapshot_index = 0;  // of the latest snapshot the node took
  bool failed = false;
  std::string failure;
  // Why writes are refused for want of space (the disk is full, or below the reserve);
  // empty while they are not.
  std::string disk_full;
  uint64_t free_bytes = 0;  // at the last check (0 before the first, or without one)
  // Knows a leader and has applied what it learned was committed (health: SERVING).
  bool serving = false;
  // Where a peer's word says this node was removed, once the node believed it
  // (node::Node::HearRemoval); 0 until then.
  uint64_t removal_believed_at = 0;
};

class NodeHost {
 public:
  static absl::StatusOr<std::unique_ptr<NodeHost>> Create(
      NodeHostOptions options, std::unique_ptr<node::SqliteNodeStore> store,
      node::Transport* transport, node::NodeHooks hooks);
  ~NodeHost();

  void Start();
  // Stops the loop after the work already posted; pending requests fail with Unavailable.
  void Stop();

  // Runs fn on the loop with the node. False (fn dropped) if stopped or the queue is full.
  bool Post(std::function<void(node::Node&)> fn);
  bool stopping() const;

  NodeView view() const;
  // Waits until pred holds for the view (re-checked whenever the view changes), the
  // deadline passes or the host stops. Returns whether pred holds; *last (if set) gets the
  // view it was last checked on.
  bool AwaitView(const std::function<bool(const NodeView&)>& pred, absl::Time deadline,
                 NodeView* last = nullptr) const;
  // The store, for reads on the loop only (inside a posted function or a node callback).
  node::SqliteNodeStore& store() { return *store_; }
  // Called on the loop whenever the view changes (role, term, leader, serving, failure,
  // configuration, or whether everything committed is applied).
  void set_on_view_change(std::function<void(const NodeView&)> fn) {
    on_view_change_ = std::move(fn);
  }

 private:
  NodeHost(NodeHostOptions options, std::unique_ptr<node::SqliteNodeStore> store);
  void Loop();
  void WriterLoop();
  // The store's Writer and Scheduler (see SqliteNodeStore).
  void RunWrite(std::function<void()> job);
  void CompleteWrite(std::function<void()> done);
  void RefreshView();
  uint64_t SnapshotIndex() const;  // of the store's latest snapshot (0: none)
  // Asks options_.free_bytes and tells the node whether it is below the reserve.
  void CheckDiskSpace();

  const NodeHostOptions options_;
  std::unique_ptr<node::SqliteNodeStore> store_;
  std::unique_ptr<node::Node> node_;
  std::function<void(const NodeView&)> on_view_change_;
  // Loop thread only.
  uint64_t free_bytes_ = 0;
  bool free_bytes_error_logged_ = false;

  mutable absl::Mutex mu_;
  std::deque<std::function<void(node::Node&)>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  NodeView view_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;

  // The writer: at most one write in flight (the node persists one Ready at a time).
  std::deque<std::function<void()>> writes_ ABSL_GUARDED_BY(mu_);
  int writes_in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // handed to the writer, not yet completed
  bool writer_stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_thread_;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_NODE_HOST_H_
