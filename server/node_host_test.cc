// NodeHost over the real store: the store's writes run on their own thread, and the loop
// keeps working while one is in flight.
#include "server/node_host.h"

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "node/null_transport.h"
#include "storage/test_util.h"

namespace rb::server {
namespace {

namespace kvpb = raftbadger::kvpb;

constexpr absl::Duration kWait = absl::Seconds(20);

// Counts answered writes, so a test can wait for some number of them.
class Answers {
 public:
  node::WriteCallback Callback() {
    return [this](absl::StatusOr<kvpb::CommandResult> r) {
      absl::MutexLock lock(&mu_);
      if (r.ok()) {
        ++ok_;
      } else {
        last_error_ = r.status();
      }
    };
  }
  bool AwaitOk(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ok_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kWait);
  }
  int ok() {
    absl::MutexLock lock(&mu_);
    return ok_;
  }
  absl::Status last_error() {
    absl::MutexLock lock(&mu_);
    return last_error_;
  }

 private:
  absl::Mutex mu_;
  int ok_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
};

kvpb::Command Put(uint64_t seq, std::string key, std::string value = "v") {
  kvpb::Command c;
  c.set_seq(seq);  // no session: at most once for one attempt
  c.mutable_put()->set_key(std::move(key));
  c.mutable_put()->set_value(std::move(value));
  return c;
}

// Holds the first write that `which` picks inside its transaction (on the writer thread, or
// the loop's for a small apply; holding the store) until released; later writes pass.
class WriteHold {
 public:
  explicit WriteHold(std::function<bool(const raft::Ready&)> which) : which_(std::move(which)) {}
  ~WriteHold() { Release(); }
  void OnWrite(const raft::Ready& rd) {
    if (!which_(rd)) return;
    if (picked_.fetch_add(1) == 0) {
      held_.Notify();
      release_.WaitForNotification();
    }
  }
  bool AwaitHeld() { return held_.WaitForNotificationWithTimeout(kWait); }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }
  int picked() const { return picked_.load(); }

 private:
  std::function<bool(const raft::Ready&)> which_;
  absl::Notification held_, release_;
  std::atomic<int> picked_{0};
};

// Whether the Ready appends a client's command (not only a leader's empty entry).
bool HasCommand(const raft::Ready& rd) {
  for (const raft::Entry& e : rd.entries) {
    if (e.type == raft::EntryType::kNormal && !e.data.empty()) return true;
  }
  return false;
}

// Whether the Ready applies a client's command.
bool AppliesCommand(const raft::Ready& rd) {
  for (const raft::Entry& e : rd.committed_entries) {
    if (e.type == raft::EntryType::kNormal && !e.data.empty()) return true;
  }
  return false;
}

class NodeHostTest : public testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions store_options;
    store_options.dir = storage::MakeTempDir();
    raft::ConfState solo;
    solo.voters = {1};
    auto store = node::SqliteNodeStore::Open(store_options, solo);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = store->get();
    NodeHostOptions options;
    options.node.raft.id = 1;
    options.tick = absl::Milliseconds(10);
    options.free_bytes = [this]() -> absl::StatusOr<uint64_t> { return free_bytes_.load(); };
    options.min_free_bytes = 1 << 20;
    options.disk_check_interval = absl::Milliseconds(10);
    auto host = NodeHost::Create(options, *std::move(store), &transport_, {});
    ASSERT_TRUE(host.ok()) << host.status();
    host_ = *std::move(host);
    host_->set_on_view_change([this](const NodeView& v) {
      if (v.role == "leader" && !leads_.HasBeenNotified()) leads_.Notify();
    });
    host_->Start();
    ASSERT_TRUE(host_->Post([](node::Node& n) { n.Campaign(); }));
    ASSERT_TRUE(leads_.WaitForNotificationWithTimeout(kWait));
  }

  // Holds the write that `which` picks (see WriteHold; released at the end of the test,
  // even a failed one), and proposes a put of "a" for it to carry.
  WriteHold* PutAndHold(std::function<bool(const raft::Ready&)> which, Answers* answers,
                        std::string value = "v") {
    hold_ = std::make_unique<WriteHold>(std::move(which));
    WriteHold* hold = hold_.get();
    store_->SetWriteHookForTesting([hold](const raft::Ready& rd) { hold->OnWrite(rd); });
    EXPECT_TRUE(host_->Post([answers, value = std::move(value)](node::Node& n) {
      n.Write(Put(1, "a", value), answers->Callback());
    }));
    return hold;
  }
  void TearDown() override {
    if (hold_ != nullptr) hold_->Release();
  }

  // Declared before host_: they outlive its loop and writer.
  std::atomic<uint64_t> free_bytes_{uint64_t{1} << 30};  // what the disk check measures
  std::unique_ptr<WriteHold> hold_;
  absl::Notification leads_;
  node::NullTransport transport_;
  node::SqliteNodeStore* store_ = nullptr;  // owned by host_
  std::unique_ptr<NodeHost> host_;
};

TEST_F(NodeHostTest, LoopKeepsWorkingWhileAWriteIsInFlight) {
  Answers answers;
  WriteHold* hold = PutAndHold(HasCommand, &answers);
  ASSERT_TRUE(hold->AwaitHeld());

  // The write is stuck mid-transaction. The loop still runs posted work, the core still
  // reads its log (from memory), and a second write is accepted into the next Ready.
  absl::Notification loop_ran;
  uint64_t last_term = 0;
  ASSERT_TRUE(host_->Post([&](node::Node& n) {
    const raft::Storage& log = store_->raft_storage();
    last_term = log.Term(*log.LastIndex()).value_or(0);
    n.Write(Put(2, "b"), answers.Callback());
    loop_ran.Notify();
  }));
  const bool ran = loop_ran.WaitForNotificationWithTimeout(kWait);
  hold->Release();
  ASSERT_TRUE(ran) << "the loop was blocked by the write in flight";
  EXPECT_EQ(last_term, host_->view().term);
  EXPECT_EQ(answers.ok(), 0);  // nothing acknowledged before it is durable

  ASSERT_TRUE(answers.AwaitOk(2)) << answers.last_error();
  EXPECT_GE(hold->picked(), 2);
  auto a = store_->Get("a");
  auto b = store_->Get("b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->value_or(""), "v");
  EXPECT_EQ(b->value_or(""), "v");
}

TEST_F(NodeHostTest, StopWaitsForTheWriteInFlightAndAnswersIt) {
  Answers answers;
  WriteHold* hold = PutAndHold(HasCommand, &answers);
  ASSERT_TRUE(hold->AwaitHeld());
  absl::Notification stopped;
  std::thread stopper([&] {
    host_->Stop();
    stopped.Notify();
  });
  // Stop must not return while the writer holds the node's Ready.
  EXPECT_FALSE(stopped.WaitForNotificationWithTimeout(absl::Milliseconds(200)));
  hold->Release();
  stopper.join();
  // The write became durable before the node closed, so its caller heard so.
  EXPECT_EQ(answers.ok(), 1) << answers.last_error();
  EXPECT_EQ(store_->Get("a").value_or(std::nullopt).value_or(""), "v");
}

TEST_F(NodeHostTest, TimedSnapshotWaitsForTheWriteInFlight) {
  Answers answers;
  // A small apply is written on the loop itself (node/sqlite_node_store.h); one over 64 KiB
  // goes to the writer, as an append always does.
  WriteHold* hold = PutAndHold(AppliesCommand, &answers, std::string(100 << 10, 'v'));
  ASSERT_TRUE(hold->AwaitHeld());
  // The Put is being applied. The timer's snapshot arrives mid-write: it must wait for the write,
  // not read the store under it (the store would refuse: a snapshot during a persist).
  absl::Notification asked;
  absl::Status snapshot_status;
  ASSERT_TRUE(host_->Post([&](node::Node& n) {
    snapshot_status = n.SnapshotIfBehind();
    asked.Notify();
  }));
  ASSERT_TRUE(asked.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(snapshot_status.ok()) << snapshot_status;
  hold->Release();
  ASSERT_TRUE(answers.AwaitOk(1)) << answers.last_error();
  // Posted after the write's completion, so it runs after the snapshot was taken.
  absl::Notification checked;
  uint64_t snapshot_index = 0, applied = 0;
  ASSERT_TRUE(host_->Post([&](node::Node&) {
    snapshot_index = store_->LatestSnapshot().value()->metadata.index;
    applied = store_->applied_index();
    checked.Notify();
  }));
  ASSERT_TRUE(checked.WaitForNotificationWithTimeout(kWait));
  EXPECT_EQ(snapshot_index, applied);
  EXPECT_GE(snapshot_index, 2u);
}

TEST_F(NodeHostTest, BelowTheDiskReserveWritesAreRefusedUntilSpaceIsFreed) {
  Answers answers;
  ASSERT_TRUE(host_->Post([&](node::Node& n) { n.Write(Put(1, "a"), answers.Callback()); }));
  ASSERT_TRUE(answers.AwaitOk(1)) << answers.last_error();

  free_bytes_ = 100 << 10;
  NodeView v;
  ASSERT_TRUE(host_->AwaitView([](const NodeView& w) { return !w.disk_full.empty(); },
                               absl::Now() + kWait, &v));
  EXPECT_NE(v.disk_full.find("0.0 MiB free, below the 1.0 MiB kept"), std::string::npos)
      << v.disk_full;
  EXPECT_EQ(v.free_bytes, 100u << 10);
  ASSERT_TRUE(host_->Post([&](node::Node& n) { n.Write(Put(2, "b"), answers.Callback()); }));
  ASSERT_TRUE(host_->AwaitView([](const NodeView& w) { return w.counters.writes_failed >= 1; },
                               absl::Now() + kWait));
  EXPECT_EQ(answers.last_error().code(), absl::StatusCode::kResourceExhausted)
      << answers.last_error();
  EXPECT_FALSE(store_->Get("b").value_or(std::nullopt).has_value());

  free_bytes_ = uint64_t{1} << 30;
  ASSERT_TRUE(
      host_->AwaitView([](const NodeView& w) { return w.disk_full.empty(); }, absl::Now() + kWait));
  ASSERT_TRUE(host_->Post([&](node::Node& n) { n.Write(Put(3, "c"), answers.Callback()); }));
  ASSERT_TRUE(answers.AwaitOk(2)) << answers.last_error();
  EXPECT_EQ(store_->Get("c").value_or(std::nullopt).value_or(""), "v");
}

}  // namespace
}  // namespace rb::server
