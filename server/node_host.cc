#include "server/node_host.h"

#include <optional>
#include <utility>

#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "base/thread_name.h"
#include "server/disk_space.h"

namespace rb::server {

NodeHost::NodeHost(NodeHostOptions options, std::unique_ptr<node::SqliteNodeStore> store)
    : options_(std::move(options)), store_(std::move(store)) {}

absl::StatusOr<std::unique_ptr<NodeHost>> NodeHost::Create(
    NodeHostOptions options, std::unique_ptr<node::SqliteNodeStore> store,
    node::Transport* transport, node::NodeHooks hooks) {
  std::unique_ptr<NodeHost> host(new NodeHost(std::move(options), std::move(store)));
  NodeHost* h = host.get();
  h->store_->SetThreads([h](std::function<void()> done) { h->CompleteWrite(std::move(done)); },
                        [h](std::function<void()> job) { h->RunWrite(std::move(job)); });
  ASSIGN_OR_RETURN(host->node_, node::Node::Create(host->options_.node, host->store_.get(),
                                                   transport, std::move(hooks)));
  host->RefreshView();
  return host;
}

NodeHost::~NodeHost() { Stop(); }

void NodeHost::Start() {
  RB_CHECK(!thread_.joinable(), "NodeHost started twice");
  writer_thread_ = std::thread([this] { WriterLoop(); });
  thread_ = std::thread([this] { Loop(); });
}

void NodeHost::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // The loop ends only once no write is in flight (the writer holds the node's Ready).
  if (thread_.joinable()) thread_.join();
  {
    absl::MutexLock lock(&mu_);
    writer_stopping_ = true;
  }
  if (writer_thread_.joinable()) writer_thread_.join();
}

void NodeHost::RunWrite(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  RB_CHECK(writes_in_flight_ == 0, "a second write while one is in flight");
  ++writes_in_flight_;
  writes_.push_back(std::move(job));
}

void NodeHost::CompleteWrite(std::function<void()> done) {
  absl::MutexLock lock(&mu_);
  RB_CHECK(writes_in_flight_ == 1, "a write completed that was not in flight");
  --writes_in_flight_;
  // Never refused, even when stopping or full: the node waits for it.
  queue_.push_back([done = std::move(done)](node::Node&) { done(); });
}

void NodeHost::WriterLoop() {
  SetThreadName("rb-writer");
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !writes_.empty() || writer_stopping_;
      };
      mu_.Await(absl::Condition(&ready));
      if (writes_.empty()) return;  // stopping, and nothing left
      job = std::move(writes_.front());
      writes_.pop_front();
    }
    const absl::Time start = absl::Now();
    job();  // writes, then hands its completion to CompleteWrite
    if (options_.on_write_done) options_.on_write_done(absl::Now() - start);
  }
}

bool NodeHost::Post(std::function<void(node::Node&)> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queue_.size() >= options_.max_queued) return false;
  queue_.push_back(std::move(fn));
  return true;
}

bool NodeHost::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

NodeView NodeHost::view() const {
  absl::MutexLock lock(&mu_);
  return view_;
}

bool NodeHost::AwaitView(const std::function<bool(const NodeView&)>& pred, absl::Time deadline,
                         NodeView* last) const {
  absl::MutexLock lock(&mu_);
  auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || pred(view_); };
  mu_.AwaitWithDeadline(absl::Condition(&settled), deadline);
  if (last != nullptr) *last = view_;
  return pred(view_);
}

void NodeHost::Loop() {
  SetThreadName("rb-loop");
  absl::Time next_tick = absl::Now() + options_.tick;
  absl::Time next_snapshot = absl::Now() + options_.snapshot_interval;
  absl::Time next_disk_check = absl::Now();
  std::deque<std::function<void(node::Node&)>> work;
  for (;;) {
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      // Wake for work, for the next tick, or to stop once the write in flight is done.
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !queue_.empty() || (stopping_ && writes_in_flight_ == 0);
      };
      mu_.AwaitWithDeadline(absl::Condition(&ready), next_tick);
      if (stopping_ && queue_.empty() && writes_in_flight_ == 0) break;
      stopping = stopping_;
      work.swap(queue_);
    }
    // Bounded: what was queued when the loop woke; later work waits for the next round.
    // One batch: the round's proposals share one Ready and one fsync (group commit).
    node_->BeginBatch();
    for (auto& fn : work) fn(*node_);
    node_->EndBatch();
    work.clear();
    const absl::Time now = absl::Now();
    // Stopping: no more ticks, which would make more Readies to write.
    if (!stopping && now >= next_tick) {
      node_->Tick();
      // A loop that fell behind (a long fsync) ticks once, not in a burst: ticks measure
      // time the node could hear from its peers.
      next_tick = std::max(next_tick + options_.tick, now);
    }
    if (options_.free_bytes && now >= next_disk_check) {
      next_disk_check = now + options_.disk_check_interval;
      CheckDiskSpace();
    }
    if (options_.snapshot_interval > absl::ZeroDuration() && now >= next_snapshot) {
      next_snapshot = now + options_.snapshot_interval;
      const uint64_t before = SnapshotIndex();
      // A failure stops the node, and a full disk postpones it; the node logs both.
      if (node_->SnapshotIfBehind().ok() && SnapshotIndex() != before) {
        RB_LOG(INFO) << "took a timed snapshot at index " << SnapshotIndex();
      }
    }
    RefreshView();
  }
  // Stopping: whatever still waits gets Unavailable; the store closes with the host.
  node_->Close();
  node_.reset();
  RefreshView();
}

void NodeHost::CheckDiskSpace() {
  absl::StatusOr<uint64_t> free = options_.free_bytes();
  if (!free.ok()) {
    // Without a measure the reserve cannot be kept; writes go on (a full disk still stalls
    // the node safely). Said once: it would repeat every second.
    if (!free_bytes_error_logged_)
      RB_LOG(WARNING) << "cannot measure free disk space: " << free.status();
    free_bytes_error_logged_ = true;
    return;
  }
  free_bytes_ = *free;
  absl::Status low = CheckFreeSpace(*free, options_.min_free_bytes);
  if (low.ok() != node_->low_disk_space().ok()) {
    if (low.ok()) {
      RB_LOG(INFO) << "disk space is back above the reserve: writes accepted again";
    } else {
      RB_LOG(WARNING) << "disk space low, refusing writes: " << low.message();
    }
  }
  node_->SetLowDiskSpace(std::move(low));
}

uint64_t NodeHost::SnapshotIndex() const { return store_->snapshot_index(); }

void NodeHost::RefreshView() {
  NodeView v;
  if (node_ != nullptr) {
    const raft::Raft& r = node_->raw().raft();
    v.id = node_->id();
    v.term = r.term();
    v.leader = node_->leader();
    if (!node_->is_member()) {
      v.role = "non-member";
    } else if (r.is_learner()) {
      v.role = "learner";
    } else {
      v.role = raft::StateTypeName(r.state());
    }
    v.commit = r.log().committed();
    v.applied = store_->applied_index();
    v.conf = r.tracker().GetConfState();
    if (r.state() == raft::StateType::kLeader) {
      for (const auto& [id, pr] : r.tracker().progress) {
        v.progress[id] = NodeView::Progress{pr.match, raft::ProgressStateName(pr.state)};
      }
    }
    v.failed = !node_->failure().ok();
    v.failure = std::string(node_->failure().message());
    v.disk_full = std::string(node_->disk_space_problem().message());
    v.free_bytes = free_bytes_;
    v.serving = !v.failed && v.leader != raft::kNone && v.applied >= v.commit;
    v.counters = node_->counters();
    v.pending_writes = node_->pending_writes();
    v.pending_requests = node_->pending_requests();
    v.snapshot_index = node_->last_snapshot_index();
    v.removal_believed_at = node_->removal_believed_at();
  } else {
    absl::MutexLock lock(&mu_);
    v = view_;
    v.serving = false;
    v.role = "stopped";
  }
  // Runs every round: the view is moved into place, and copied only for the callback.
  std::optional<NodeView> changed;
  {
    absl::MutexLock lock(&mu_);
    if (v.role != view_.role || v.term != view_.term || v.leader != view_.leader ||
        v.serving != view_.serving || v.failed != view_.failed || !(v.conf == view_.conf) ||
        v.removal_believed_at != view_.removal_believed_at ||
        v.disk_full.empty() != view_.disk_full.empty() ||
        (v.applied >= v.commit) != (view_.applied >= view_.commit)) {
      changed = v;
    }
    view_ = std::move(v);
  }
  if (changed && on_view_change_) on_view_change_(*changed);
}

}  // namespace rb::server
