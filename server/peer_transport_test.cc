#include "server/peer_transport.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "raft/codec.h"

namespace rb::server {
namespace {

namespace v1 = raftbadger::v1;

constexpr uint64_t kSelf = 1;
constexpr uint64_t kPeer = 2;
constexpr absl::Duration kPatience = absl::Seconds(20);

// The peer: a RaftPeer service that records what arrives, in order.
class Receiver final : public v1::RaftPeer::Service {
 public:
  grpc::Status Send(grpc::ServerContext* /*ctx*/, grpc::ServerReader<v1::PeerBatch>* reader,
                    v1::PeerAck* /*ack*/) override {
    v1::PeerBatch batch;
    while (reader->Read(&batch)) {
      absl::MutexLock lock(&mu_);
      ++batches_;
      if (batch.hello().from() != kSelf || batch.hello().to() != kPeer) ++misaddressed_;
      if (batch.removed_at_index() != 0) removals_.push_back(batch.removed_at_index());
      for (const std::string& bytes : batch.messages()) {
        auto m = raft::DecodeMessage(bytes);
        if (m.ok()) indexes_.push_back(m->index);
      }
    }
    return grpc::Status::OK;
  }

  // Waits (at most `timeout`) until `n` messages have arrived; returns their indexes.
  std::vector<uint64_t> AwaitMessages(size_t n, absl::Duration timeout = kPatience) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return indexes_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
    return indexes_;
  }
  // Waits (bounded) until the message with this index has arrived; false if it did not.
  bool AwaitIndex(uint64_t index) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, index]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return std::find(indexes_.begin(), indexes_.end(), index) != indexes_.end();
    };
    return mu_.AwaitWithTimeout(absl::Condition(&arrived), kPatience);
  }
  std::vector<uint64_t> AwaitRemovals(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return removals_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kPatience);
    return removals_;
  }
  int batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  int misaddressed() {
    absl::MutexLock lock(&mu_);
    return misaddressed_;
  }

 private:
  absl::Mutex mu_;
  std::vector<uint64_t> indexes_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> removals_ ABSL_GUARDED_BY(mu_);
  int batches_ ABSL_GUARDED_BY(mu_) = 0;
  int misaddressed_ ABSL_GUARDED_BY(mu_) = 0;
};

// Serves a Receiver on `port` (0: any free port, then port() says which).
class PeerServer {
 public:
  explicit PeerServer(int port) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(absl::StrCat("127.0.0.1:", port), grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&receiver_);
    server_ = builder.BuildAndStart();
  }
  ~PeerServer() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }
  int port() const { return port_; }
  Receiver& receiver() { return receiver_; }

 private:
  Receiver receiver_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

raft::Message App(uint64_t index) {
  raft::Message m;
  m.type = raft::MessageType::kApp;
  m.from = kSelf;
  m.to = kPeer;
  m.term = 1;
  m.index = index;
  return m;
}

// Waits (bounded) until `counter` reaches `at_least`. The counters are bumped on gRPC's
// threads, which signal nothing, so this polls.
bool AwaitCount(const std::atomic<uint64_t>& counter, uint64_t at_least) {
  const absl::Time deadline = absl::Now() + kPatience;
  while (counter.load() < at_least) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// The sending side, dialing `port` as the peer.
struct Sender {
  explicit Sender(int port) {
    self.id = kSelf;
    self.name = "one";
    self.address = "127.0.0.1:1";
    self.cluster_id = &cluster_id;
    self.security = &security;
    EXPECT_TRUE(book.Learn(kPeer, "two", absl::StrCat("127.0.0.1:", port)).ok());
    transport = std::make_unique<PeerTransport>(&self, &book, /*store=*/nullptr, &host, &counters,
                                                /*max_queued_messages=*/4096);
  }
  std::atomic<uint64_t> cluster_id{7};
  NodeSecurity security;
  SelfInfo self;
  AddressBook book;
  NodeHost* host = nullptr;
  PeerCounters counters;
  std::unique_ptr<PeerTransport> transport;
};

TEST(PeerTransportTest, MessagesArriveInOrderInBatches) {
  PeerServer server(0);
  Sender sender(server.port());
  constexpr uint64_t kMessages = 3000;
  for (uint64_t i = 1; i <= kMessages; ++i) sender.transport->Send(App(i));
  std::vector<uint64_t> got = server.receiver().AwaitMessages(kMessages);
  ASSERT_EQ(got.size(), kMessages);
  for (uint64_t i = 0; i < kMessages; ++i) ASSERT_EQ(got[i], i + 1) << "out of order at " << i;
  EXPECT_TRUE(AwaitCount(sender.counters.sent, kMessages));
  EXPECT_EQ(sender.counters.sent_by_type[static_cast<size_t>(raft::MessageType::kApp)].load(),
            kMessages);
  EXPECT_EQ(sender.counters.queued.load(), 0);
  EXPECT_EQ(sender.counters.dropped_queue_full.load(), 0u);
  EXPECT_EQ(server.receiver().misaddressed(), 0);
  // Messages sent while a write is in flight go together in the next one.
  EXPECT_LT(server.receiver().batches(), static_cast<int>(kMessages));
}

TEST(PeerTransportTest, ATellOfRemovalTravelsWithoutMessagesAndWithThem) {
  PeerServer server(0);
  Sender sender(server.port());
  sender.transport->TellRemoved(kPeer, 42);
  EXPECT_EQ(server.receiver().AwaitRemovals(1), std::vector<uint64_t>{42});
  EXPECT_TRUE(AwaitCount(sender.counters.removals_told, 1));
  sender.transport->TellRemoved(kPeer, 43);
  sender.transport->Send(App(5));
  EXPECT_EQ(server.receiver().AwaitRemovals(2), (std::vector<uint64_t>{42, 43}));
  EXPECT_EQ(server.receiver().AwaitMessages(1), std::vector<uint64_t>{5});
  sender.transport->TellRemoved(kSelf, 44);  // never to itself
  sender.transport->Send(App(6));
  EXPECT_EQ(server.receiver().AwaitMessages(2), (std::vector<uint64_t>{5, 6}));
  EXPECT_EQ(server.receiver().AwaitRemovals(2).size(), 2u);
}

// A port nothing listens on (bound once, then released).
int FreePort() { return PeerServer(0).port(); }

TEST(PeerTransportTest, APeerThatIsDownCostsDropsAndIsReachedOnceUp) {
  const int port = FreePort();
  Sender sender(port);
  sender.transport->Send(App(1));
  EXPECT_TRUE(AwaitCount(sender.counters.dropped_unreachable, 1))
      << "a message to a peer that is down is dropped (Raft retries)";
  // The link retries with backoff; once the peer is up, messages get through.
  PeerServer server(port);
  ASSERT_EQ(server.port(), port);
  // Bounded: 200 tries, each waiting up to 100 ms for an arrival.
  uint64_t next = 2;
  for (int attempt = 0;
       attempt < 200 && server.receiver().AwaitMessages(1, absl::Milliseconds(100)).empty();
       ++attempt) {
    sender.transport->Send(App(next++));
  }
  EXPECT_FALSE(server.receiver().AwaitMessages(1).empty());
  // Counted once the write's completion reaches the link, which may come after the arrival.
  EXPECT_TRUE(AwaitCount(sender.counters.sent, 1));
}

TEST(PeerTransportTest, ASenderReachesItsPeerAgainAfterThePeerRestarts) {
  auto server = std::make_unique<PeerServer>(0);
  const int port = server->port();
  Sender sender(port);
  sender.transport->Send(App(1));
  ASSERT_EQ(server->receiver().AwaitMessages(1), std::vector<uint64_t>{1});
  server.reset();  // the open stream breaks
  server = std::make_unique<PeerServer>(port);
  ASSERT_EQ(server->port(), port);
  // The first write after the restart fails on the broken stream and is dropped; the link
  // then opens a new one.
  uint64_t next = 2;
  for (int attempt = 0; attempt < 200 && server->receiver().batches() == 0; ++attempt) {
    sender.transport->Send(App(next++));
    server->receiver().AwaitMessages(1, absl::Milliseconds(100));
  }
  EXPECT_FALSE(server->receiver().AwaitMessages(1).empty());
  EXPECT_GE(sender.counters.dropped_unreachable.load(), 1u);
  const uint64_t last = next;
  sender.transport->Send(App(last));
  EXPECT_TRUE(server->receiver().AwaitIndex(last)) << "the new stream carries what follows";
}

TEST(PeerTransportTest, StoppingWithMessagesQueuedAndAStreamOpenReturns) {
  PeerServer server(0);
  Sender sender(server.port());
  for (uint64_t i = 1; i <= 2000; ++i) sender.transport->Send(App(i));
  sender.transport->Stop();
  EXPECT_EQ(sender.counters.queued.load(), 0);
  sender.transport->Send(App(1));  // after Stop: dropped, no link
  EXPECT_EQ(sender.counters.queued.load(), 0);
}

}  // namespace
}  // namespace rb::server
