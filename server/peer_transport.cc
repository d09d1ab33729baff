#include "server/peer_transport.h"

#include <deque>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/thread_name.h"
#include "grpcpp/grpcpp.h"
#include "node/snapshot_stream.h"
#include "raft/codec.h"
#include "storage/snapshot.h"
#include "storage/snapshot_file.h"

namespace rb::server {
namespace {

namespace v1 = raftbadger::v1;

constexpr size_t kMaxBatchMessages = 256;
constexpr absl::Duration kMinBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);
constexpr absl::Duration kSnapshotDeadline = absl::Minutes(10);

// About what a message takes on the wire: its entries, and a margin for the rest.
size_t ApproxBytes(const raft::Message& m) {
  size_t bytes = 128 + m.context.size();
  for (const raft::Entry& e : m.entries) bytes += e.SizeBytes();
  return bytes;
}

void FillHello(const SelfInfo& self, uint64_t to, v1::PeerHello* hello) {
  hello->set_from(self.id);
  hello->set_to(to);
  hello->set_name(self.name);
  hello->set_address(self.address);
  hello->set_cluster_id(self.cluster_id->load());
}

std::shared_ptr<grpc::Channel> PeerChannel(const SelfInfo& self, const PeerInfo& peer) {
  grpc::ChannelArguments args;
  // Notice a peer that died without closing its socket (kill -9 of the machine, a cut
  // network) within a few seconds, so the link reconnects.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, 64 << 20);
  return self.security->PeerChannel(peer.address, peer.name, args);
}

}  // namespace

// One peer: its queue, its stream, and a thread that opens the stream and sends
// snapshots. A batch is written by whichever thread sends (the node's loop, or its store's
// writer for a follower's answer) when no write is in flight, else by gRPC's thread as the
// write before it completes. So a message leaves without waking another thread first: on a
// lone write's path that hand-off cost a wake-up on the leader and on each follower.
class PeerTransport::Link {
 public:
  Link(PeerTransport* t, uint64_t to) : t_(t), to_(to), thread_([this] { Run(); }) {}
  ~Link() {
    Stream* release = nullptr;
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (snapshot_context_ != nullptr) snapshot_context_->TryCancel();
      // A stream whose hold is gone may be deleted at any moment; it is ending anyway.
      if (stream_ != nullptr && !hold_released_) {
        stream_->context.TryCancel();
        if (!writing_) release = ReleaseHoldLocked();
      }
    }
    Resume(nullptr, release);
    thread_.join();
    absl::MutexLock lock(&mu_);
    // Bounded: the stream was cancelled, so gRPC ends it promptly.
    auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stream_ == nullptr; };
    mu_.Await(absl::Condition(&ended));
    t_->counters_->queued -= static_cast<int64_t>(queue_.size() + snapshots_.size());
  }

  // Any thread. Writes at once if the stream is up and idle.
  void Enqueue(raft::Message m) {
    Stream* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      std::deque<raft::Message>& q = m.type == raft::MessageType::kSnap ? snapshots_ : queue_;
      if (q.size() >= t_->max_queued_) {
        ++t_->counters_->dropped_queue_full;
        return;
      }
      q.push_back(std::move(m));
      ++t_->counters_->queued;
      start = MaybeStartWriteLocked();
    }
    Resume(start, nullptr);
  }

  // The next batch tells the peer it was removed at that index (one tell pending at most:
  // the newest wins).
  void TellRemoved(uint64_t removed_at_index) {
    Stream* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      tell_removed_at_ = removed_at_index;
      start = MaybeStartWriteLocked();
    }
    Resume(start, nullptr);
  }

 private:
  // One Send call. It holds a hold from its start (writes begin outside its reactions) until
  // the link lets it end; then gRPC calls OnDone, which deletes it.
  class Stream final : public grpc::ClientWriteReactor<v1::PeerBatch> {
   public:
    explicit Stream(Link* link) : link_(link) {}
    void OnWriteDone(bool ok) override { link_->WriteDone(ok); }
    // Deletes the stream before the link hears of it: the link (and its channel) then
    // outlive it. The last channel to go takes gRPC's callback threads with it, which
    // must not happen on one of them (found by peer_transport_test).
    void OnDone(const grpc::Status& status) override {
      Link* const link = link_;
      const grpc::Status copy = status;
      delete this;
      link->StreamDone(copy);
    }

    grpc::ClientContext context;
    v1::PeerAck ack;
    // The batch being written, and what it counts for once written. Its messages are
    // taken under the link's lock and encoded outside it (Resume): a batch of up to
    // kMaxPeerBatchBytes must not hold up the loop's next Send.
    v1::PeerBatch out;
    std::vector<raft::Message> taken;
    std::array<uint32_t, PeerCounters::kMessageTypes> out_by_type{};

   private:
    Link* const link_;
  };

  bool HasBatchLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || tell_removed_at_ != 0;
  }

  // The stream to call Resume with (outside the lock), the next batch taken into it; null
  // if there is no usable idle stream or nothing to send.
  Stream* MaybeStartWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stream_ == nullptr || hold_released_ || writing_ || stopping_ || !HasBatchLocked()) {
      return nullptr;
    }
    Stream* s = stream_;
    s->out.Clear();
    s->taken.clear();
    s->out_by_type.fill(0);
    s->out.set_removed_at_index(std::exchange(tell_removed_at_, 0));
    // Bounded in count and bytes: a batch larger than the receiver's message limit would
    // break the stream every time (found with 64 KiB values).
    size_t bytes = 0;
    while (!queue_.empty() && s->taken.size() < kMaxBatchMessages) {
      const size_t size = ApproxBytes(queue_.front());
      if (!s->taken.empty() && bytes + size > kMaxPeerBatchBytes) break;
      bytes += size;
      ++s->out_by_type[static_cast<size_t>(queue_.front().type) % s->out_by_type.size()];
      s->taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
      --t_->counters_->queued;
    }
    FillHello(*t_->self_, to_, s->out.mutable_hello());
    writing_ = true;
    return s;
  }

  // The next stream opens after the current backoff, which doubles (up to kMaxBackoff).
  void BackOffLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    retry_at_ = absl::Now() + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  }

  // Outside the lock: encodes and starts the write MaybeStartWriteLocked took, and lets
  // the stream ReleaseHoldLocked returned end (either may be null). While writing_ is set,
  // only this caller touches start's batch.
  static void Resume(Stream* start, Stream* release) {
    if (start != nullptr) {
      for (const raft::Message& m : start->taken) start->out.add_messages(raft::EncodeMessage(m));
      start->taken.clear();
      start->StartWrite(&start->out);
    }
    if (release != nullptr) release->RemoveHold();
  }

  // The stream whose hold the caller must remove (outside the lock), once per stream; it
  // takes no more writes.
  Stream* ReleaseHoldLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (stream_ == nullptr || hold_released_) return nullptr;
    hold_released_ = true;
    return stream_;
  }

  // gRPC's thread: the write of stream_->out ended.
  void WriteDone(bool ok) {
    Stream* start = nullptr;
    Stream* release = nullptr;
    bool logged_reach = false;
    {
      absl::MutexLock lock(&mu_);
      RB_CHECK(writing_ && stream_ != nullptr, "a peer stream's write ended that never began");
      writing_ = false;
      Stream* s = stream_;
      if (ok) {
        t_->counters_->sent += s->out.messages_size();
        for (size_t i = 0; i < s->out_by_type.size(); ++i) {
          t_->counters_->sent_by_type[i] += s->out_by_type[i];
        }
        if (s->out.removed_at_index() != 0) ++t_->counters_->removals_told;
        wrote_ = true;
        logged_reach = reachable_ != true;
        reachable_ = true;
        start = MaybeStartWriteLocked();
      } else {
        // What was in hand is lost (Raft retries); the stream ends and the link's thread
        // opens another after a backoff.
        t_->counters_->dropped_unreachable += s->out.messages_size();
      }
      if (!ok || stopping_) release = ReleaseHoldLocked();
    }
    if (logged_reach) RB_LOG(INFO) << "reached peer " << t_->book_->NameOf(to_);
    Resume(start, release);
  }

  // gRPC's thread: the stream ended (its last reaction) and is deleted.
  void StreamDone(const grpc::Status& status) {
    bool log_lost = false;
    bool was_reached = false;
    {
      absl::MutexLock lock(&mu_);
      stream_ = nullptr;
      if (wrote_) backoff_ = kMinBackoff;
      BackOffLocked();
      if (!stopping_ && reachable_ != false) {
        log_lost = true;
        was_reached = reachable_.has_value();
        reachable_ = false;
      }
    }
    if (log_lost) LogUnreachable(was_reached, status);
  }

  // Logs when the peer is lost, and why the first attempt failed (a wrong certificate,
  // say); not every failed retry.
  void LogUnreachable(bool was_reached, const grpc::Status& why) {
    RB_LOG(WARNING) << (was_reached ? "lost contact with peer " : "cannot reach peer ")
                    << t_->book_->NameOf(to_)
                    << (why.ok() ? std::string() : absl::StrCat(" (", why.error_message(), ")"))
                    << "; retrying with backoff";
  }

  // The link's thread: opens the stream when there is something to send and none is open
  // (after a backoff if the last one failed), and sends snapshots, each on its own stream.
  void Run() {
    SetThreadName(absl::StrCat("rb-link-", to_));
    for (;;) {
      std::optional<raft::Message> snapshot;
      {
        absl::MutexLock lock(&mu_);
        auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return stopping_ || !snapshots_.empty() || (stream_ == nullptr && HasBatchLocked());
        };
        mu_.Await(absl::Condition(&work));
        if (stopping_) break;
        if (!snapshots_.empty()) {
          snapshot = std::move(snapshots_.front());
          snapshots_.pop_front();
          --t_->counters_->queued;
        } else if (const absl::Time now = absl::Now(); now < retry_at_) {
          // Backing off: wake early only to stop or to send a snapshot.
          auto other = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
            return stopping_ || !snapshots_.empty();
          };
          mu_.AwaitWithTimeout(absl::Condition(&other), retry_at_ - now);
          continue;
        }
      }
      if (snapshot.has_value()) {
        const bool sent = SendSnapshot(*snapshot);
        NodeHost* host = *t_->host_;
        const uint64_t to = to_;
        if (host != nullptr) {
          host->Post([to, sent](node::Node& n) { n.ReportSnapshot(to, /*failed=*/!sent); });
        }
        continue;
      }
      OpenStream();
    }
  }

  // The link's thread. Opens a stream and starts its first write; if the peer's address
  // is unknown, drops what is queued (Raft retries) and backs off.
  void OpenStream() {
    auto peer = t_->book_->Find(to_);
    if (!peer) {
      // An address arrives with the membership change or a greeting.
      absl::MutexLock lock(&mu_);
      t_->counters_->dropped_unreachable += queue_.size();
      t_->counters_->queued -= static_cast<int64_t>(queue_.size());
      queue_.clear();
      tell_removed_at_ = 0;
      BackOffLocked();
      return;
    }
    if (channel_ == nullptr || peer->address != channel_address_) {
      channel_ = PeerChannel(*t_->self_, *peer);
      channel_address_ = peer->address;
      stub_ = v1::RaftPeer::NewStub(channel_);
    }
    auto* s = new Stream(this);
    stub_->async()->Send(&s->context, &s->ack, s);
    s->AddHold();
    s->StartCall();
    Stream* start = nullptr;
    Stream* release = nullptr;
    {
      absl::MutexLock lock(&mu_);
      stream_ = s;
      hold_released_ = false;
      wrote_ = false;
      if (stopping_) {
        s->context.TryCancel();
        release = ReleaseHoldLocked();
      } else {
        start = MaybeStartWriteLocked();
      }
    }
    Resume(start, release);
  }

  bool SendSnapshot(const raft::Message& m) {
    auto peer = t_->book_->Find(to_);
    if (!peer || m.snapshot == nullptr) return false;
    auto stub = v1::RaftPeer::NewStub(PeerChannel(*t_->self_, *peer));
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kSnapshotDeadline));
    {
      // Stopping the link cancels the transfer rather than waiting for its deadline.
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
      snapshot_context_ = &context;
    }
    struct Unregister {
      Link* link;
      ~Unregister() {
        absl::MutexLock lock(&link->mu_);
        link->snapshot_context_ = nullptr;
      }
    } unregister{this};
    v1::SnapshotAck ack;
    auto writer = stub->SendSnapshot(&context, &ack);
    v1::SnapshotPiece first;
    FillHello(*t_->self_, to_, first.mutable_hello());
    first.set_message(raft::EncodeMessage(m));
    uint64_t bytes = 0;
    absl::Status streamed = absl::UnavailableError("the receiver closed the stream");
    if (writer->Write(first)) {
      streamed = node::StreamSnapshot(
          *t_->store_, *m.snapshot, [&](const raftbadger::storagepb::SnapshotChunk& chunk) {
            v1::SnapshotPiece piece;
            piece.set_chunk(chunk.SerializeAsString());
            bytes += piece.chunk().size();
            return writer->Write(piece) ? absl::OkStatus()
                                        : absl::UnavailableError("the receiver closed the stream");
          });
    }
    if (!streamed.ok()) {
      RB_LOG(WARNING) << "streaming the snapshot to " << peer->name << ": " << streamed;
    }
    bool ok = writer->WritesDone() && streamed.ok();
    const grpc::Status status = writer->Finish();
    ok = ok && status.ok();
    if (ok) {
      ++t_->counters_->snapshots_sent;
      RB_LOG(INFO) << "sent snapshot at index " << m.snapshot->metadata.index << " to "
                   << peer->name << " (" << bytes << " bytes)";
    } else {
      RB_LOG(WARNING) << "sending the snapshot at index " << m.snapshot->metadata.index << " to "
                      << peer->name << " failed: " << status.error_message();
    }
    return ok;
  }

  PeerTransport* const t_;
  const uint64_t to_;
  absl::Mutex mu_;
  std::deque<raft::Message> queue_ ABSL_GUARDED_BY(mu_);      // all but snapshots
  std::deque<raft::Message> snapshots_ ABSL_GUARDED_BY(mu_);  // MsgSnap, for the thread
  uint64_t tell_removed_at_ ABSL_GUARDED_BY(mu_) = 0;         // 0: nothing to tell
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* snapshot_context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The stream: set by the link's thread, cleared by its OnDone.
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;        // stream_->out is in flight
  bool hold_released_ ABSL_GUARDED_BY(mu_) = false;  // stream_ takes no writes, may end
  bool wrote_ ABSL_GUARDED_BY(mu_) = false;          // a write on stream_ succeeded
  absl::Duration backoff_ ABSL_GUARDED_BY(mu_) = kMinBackoff;
  absl::Time retry_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<bool> reachable_ ABSL_GUARDED_BY(mu_);  // as last logged
  // Used only by the link's thread.
  std::shared_ptr<grpc::Channel> channel_;
  std::string channel_address_;
  std::unique_ptr<v1::RaftPeer::Stub> stub_;
  std::thread thread_;  // last: starts once everything above exists
};

PeerTransport::PeerTransport(const SelfInfo* self, AddressBook* book, const storage::Store* store,
                             NodeHost** host, PeerCounters* counters, size_t max_queued_messages)
    : self_(self),
      book_(book),
      store_(store),
      host_(host),
      counters_(counters),
      max_queued_(max_queued_messages) {}

PeerTransport::~PeerTransport() { Stop(); }

void PeerTransport::Stop() {
  std::map<uint64_t, std::unique_ptr<Link>> links;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    links.swap(links_);
  }
  links.clear();  // joins each link's thread
}

PeerTransport::Link* PeerTransport::LinkFor(uint64_t to) {
  absl::MutexLock lock(&mu_);
  if (stopped_) return nullptr;
  auto& link = links_[to];
  if (link == nullptr) link = std::make_unique<Link>(this, to);
  return link.get();
}

void PeerTransport::Send(raft::Message m) {
  if (m.to == self_->id) return;
  Link* link = LinkFor(m.to);
  if (link != nullptr) link->Enqueue(std::move(m));
}

void PeerTransport::TellRemoved(uint64_t to, uint64_t removed_at_index) {
  if (to == self_->id || removed_at_index == 0) return;
  Link* link = LinkFor(to);
  if (link != nullptr) link->TellRemoved(removed_at_index);
}

PeerService::PeerService(const SelfInfo* self, AddressBook* book, const storage::Store* store,
                         NodeHost* host, PeerCounters* counters,
                         std::function<void(uint64_t)> on_cluster_id,
                         std::function<void(uint64_t, uint64_t)> on_told_removed)
    : self_(self),
      book_(book),
      store_(store),
      host_(host),
      counters_(counters),
      on_cluster_id_(std::move(on_cluster_id)),
      on_told_removed_(std::move(on_told_removed)) {}

grpc::Status PeerService::CheckCertificate(const grpc::ServerContext& ctx,
                                           const v1::PeerHello& hello) {
  grpc::Status s = self_->security->AuthorizePeer(ctx, hello.name());
  if (!s.ok()) {
    ++counters_->dropped_unauthenticated;
    // Keyed by what the peer claims, not its connection: it reconnects with a new port.
    RefuseOnce(absl::StrCat("unauthenticated ", hello.name(), " ", hello.address()),
               absl::StrCat("refusing a peer claiming to be ", hello.name(), " at ",
                            hello.address(), ": ", s.error_message()));
  }
  return s;
}

grpc::Status PeerService::Admit(const v1::PeerHello& hello) {
  // Checked first: a fresh node takes the cluster id of the first peer it admits, and a
  // leader still sending to a member that once had this address (a node removed or dead,
  // its port reused) must not make this node join that leader's cluster.
  if (hello.to() != 0 && hello.to() != self_->id) {
    ++counters_->dropped_misaddressed;
    RefuseOnce(absl::StrCat("to ", hello.to(), " ", hello.name()),
               absl::StrCat("refusing messages from ", hello.name(), " at ", hello.address(),
                            ": they are for raft id ", hello.to(), ", not this node (", self_->name,
                            ", raft id ", self_->id,
                            "); its address book may name another node at this address"));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "addressed to another node");
  }
  const uint64_t mine = self_->cluster_id->load();
  if (hello.cluster_id() != 0 && mine != 0 && hello.cluster_id() != mine) {
    ++counters_->dropped_foreign_cluster;
    RefuseOnce(
        absl::StrCat("cluster ", hello.cluster_id(), " ", hello.name()),
        absl::StrCat("refusing messages from ", hello.name(), " at ", hello.address(),
                     ": it belongs to cluster ", hello.cluster_id(), ", this node to ", mine));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "another cluster");
  }
  if (hello.cluster_id() != 0 && mine == 0) on_cluster_id_(hello.cluster_id());
  if (hello.from() == self_->id) {
    RefuseOnce(absl::StrCat("self ", hello.address()),
               absl::StrCat("a peer at ", hello.address(), " claims this node's name ",
                            hello.name(), "; refusing it"));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "claims the receiver's name");
  }
  absl::Status learned = book_->Learn(hello.from(), hello.name(), hello.address());
  if (!learned.ok()) {
    RefuseOnce(absl::StrCat("book ", hello.from(), " ", hello.name()),
               absl::StrCat("refusing messages from ", hello.address(), ": ", learned.message()));
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "the name and id disagree");
  }
  return grpc::Status::OK;
}

void PeerService::RefuseOnce(const std::string& key, const std::string& message) {
  {
    absl::MutexLock lock(&refused_mu_);
    // Bounded: a sender that keeps changing what it claims fills this once, then is only
    // counted.
    if (refused_.size() >= kMaxRefusalsLogged || !refused_.insert(key).second) return;
  }
  RB_LOG(WARNING) << message << " (logged once)";
}

grpc::Status PeerService::Send(grpc::ServerContext* context,
                               grpc::ServerReader<v1::PeerBatch>* reader, v1::PeerAck* /*ack*/) {
  v1::PeerBatch batch;
  // The connection's certificate does not change within the stream: it is checked against
  // the name the peer claims once, not on every batch.
  std::string certified_name;
  // Bounded by the stream: it ends when the peer closes it or the server shuts down.
  while (reader->Read(&batch)) {
    if (batch.hello().name() != certified_name) {
      if (grpc::Status s = CheckCertificate(*context, batch.hello()); !s.ok()) return s;
      certified_name = batch.hello().name();
    }
    if (grpc::Status admitted = Admit(batch.hello()); !admitted.ok()) return admitted;
    if (batch.removed_at_index() != 0) {
      ++counters_->removals_heard;
      if (on_told_removed_) on_told_removed_(batch.hello().from(), batch.removed_at_index());
    }
    for (const std::string& bytes : batch.messages()) {
      auto m = raft::DecodeMessage(bytes);
      if (!m.ok() || m->from != batch.hello().from()) {
        ++counters_->dropped_malformed;
        continue;
      }
      ++counters_->received;
      ++counters_->received_by_type[static_cast<size_t>(m->type) % PeerCounters::kMessageTypes];
      host_->Post([m = *std::move(m)](node::Node& n) mutable { n.Receive(std::move(m)); });
    }
  }
  return grpc::Status::OK;
}

grpc::Status PeerService::SendSnapshot(grpc::ServerContext* context,
                                       grpc::ServerReader<v1::SnapshotPiece>* reader,
                                       v1::SnapshotAck* /*ack*/) {
  v1::SnapshotPiece piece;
  if (!reader->Read(&piece)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no greeting");
  }
  if (grpc::Status s = CheckCertificate(*context, piece.hello()); !s.ok()) return s;
  if (grpc::Status admitted = Admit(piece.hello()); !admitted.ok()) return admitted;
  auto m = raft::DecodeMessage(piece.message());
  if (!m.ok() || m->type != raft::MessageType::kSnap || m->snapshot == nullptr ||
      m->from != piece.hello().from()) {
    ++counters_->dropped_malformed;
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first piece is not a MsgSnap");
  }
  grpc::Status received = ReceiveSnapshotFile(&*m, reader);
  if (!received.ok()) return received;
  RB_LOG(INFO) << "received snapshot at index " << m->snapshot->metadata.index << " from "
               << piece.hello().name();
  host_->Post([m = *std::move(m)](node::Node& n) mutable { n.Receive(std::move(m)); });
  return grpc::Status::OK;
}

grpc::Status PeerService::ReceiveSnapshotFile(raft::Message* m,
                                              grpc::ServerReader<v1::SnapshotPiece>* reader) {
  auto descriptor = storage::DecodeDescriptor(*m->snapshot);
  if (!descriptor.ok()) {
    ++counters_->dropped_malformed;
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(descriptor.status().message()));
  }
  // The sender's name for the file is the one this node's own snapshot at the same index
  // would have ("snap-<index>.db"): receiving over a snapshot this node is building (or
  // the reverse) damaged both (found by fault_test). Received files get a name of their
  // own, which the node then installs from.
  descriptor->set_file_name(absl::StrCat("recv-", descriptor->file_name()));
  auto renamed = std::make_shared<raft::Snapshot>(*m->snapshot);
  renamed->data = descriptor->SerializeAsString();
  m->snapshot = std::move(renamed);
  const std::string name = descriptor->file_name();
  {
    absl::MutexLock lock(&snapshots_mu_);
    if (receiving_.count(name) > 0) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "this snapshot is being received on another stream");
    }
    // Complete already (sent before, perhaps being installed now): never write it again.
    if (storage::OpenCompleteSnapshot(store_->options().vfs, store_->snapshot_path(name),
                                      *descriptor)
            .ok()) {
      v1::SnapshotPiece rest;
      while (reader->Read(&rest)) {
      }  // bounded by the stream; its chunks are not needed
      return grpc::Status::OK;
    }
    receiving_.insert(name);
  }
  auto done = [this, &name](grpc::Status s) {
    absl::MutexLock lock(&snapshots_mu_);
    receiving_.erase(name);
    return s;
  };
  auto receiver = storage::SnapshotReceiver::Begin(*store_, *m->snapshot);
  if (!receiver.ok()) {
    return done(grpc::Status(grpc::StatusCode::INTERNAL, std::string(receiver.status().message())));
  }
  v1::SnapshotPiece piece;
  while (reader->Read(&piece)) {
    raftbadger::storagepb::SnapshotChunk chunk;
    if (!chunk.ParseFromString(piece.chunk())) {
      ++counters_->dropped_malformed;
      return done(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a snapshot chunk does not parse"));
    }
    absl::Status added = (*receiver)->Add(chunk);
    if (!added.ok()) {
      return done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(added.message())));
    }
  }
  absl::Status finished = (*receiver)->Finish();
  if (!finished.ok()) {
    return done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(finished.message())));
  }
  ++counters_->snapshots_received;
  return done(grpc::Status::OK);
}

}  // namespace rb::server
