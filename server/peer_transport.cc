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

// One peer: its queue, thread and stream.
class PeerTransport::Link {
 public:
  Link(PeerTransport* t, uint64_t to) : t_(t), to_(to), thread_([this] { Run(); }) {}
  ~Link() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (context_ != nullptr) context_->TryCancel();
    }
    thread_.join();
    absl::MutexLock lock(&mu_);
    t_->counters_->queued -= static_cast<int64_t>(queue_.size());
  }

  void Enqueue(raft::Message m) {
    absl::MutexLock lock(&mu_);
    if (queue_.size() >= t_->max_queued_) {
      ++t_->counters_->dropped_queue_full;
      return;
    }
    queue_.push_back(std::move(m));
    ++t_->counters_->queued;
  }

  // The next batch tells the peer it was removed at that index (one tell pending at most:
  // the newest wins).
  void TellRemoved(uint64_t removed_at_index) {
    absl::MutexLock lock(&mu_);
    tell_removed_at_ = removed_at_index;
  }

 private:
  void Run() {
    SetThreadName(absl::StrCat("rb-link-", to_));
    absl::Duration backoff = kMinBackoff;
    std::vector<raft::Message> batch;
    uint64_t tell_removed_at = 0;  // taken from tell_removed_at_ with each batch
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return !queue_.empty() || tell_removed_at_ != 0 || stopping_;
        };
        mu_.Await(absl::Condition(&ready));
        if (stopping_) break;
        tell_removed_at = std::exchange(tell_removed_at_, 0);
        // Bounded in count and bytes: a batch larger than the receiver's message limit
        // would break the stream every time (found with 64 KiB values).
        size_t bytes = 0;
        while (!queue_.empty() && batch.size() < kMaxBatchMessages) {
          const size_t size = ApproxBytes(queue_.front());
          if (!batch.empty() && bytes + size > kMaxPeerBatchBytes) break;
          bytes += size;
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
          --t_->counters_->queued;
        }
      }
      if (SendBatch(&batch, tell_removed_at)) {
        backoff = kMinBackoff;
        continue;
      }
      // Unreachable: what was in hand is lost (Raft retries); wait before trying again,
      // waking early only to stop.
      absl::MutexLock lock(&mu_);
      auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
      if (stopping_) break;
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    CloseStream();
  }

  // Sends the batch (snapshots on their own streams), and tells the peer it was removed if
  // removed_at_index is set. False if the peer is unreachable.
  bool SendBatch(std::vector<raft::Message>* batch, uint64_t removed_at_index) {
    v1::PeerBatch out;
    out.set_removed_at_index(removed_at_index);
    std::vector<raft::Message> snapshots;
    std::array<uint32_t, PeerCounters::kMessageTypes> by_type{};
    for (raft::Message& m : *batch) {
      if (m.type == raft::MessageType::kSnap) {
        snapshots.push_back(std::move(m));
      } else {
        ++by_type[static_cast<size_t>(m.type) % by_type.size()];
        out.add_messages(raft::EncodeMessage(m));
      }
    }
    batch->clear();
    bool ok = true;
    if (out.messages_size() > 0 || removed_at_index != 0) {
      const int n = out.messages_size();
      ok = WriteBatch(&out);
      if (ok && removed_at_index != 0) ++t_->counters_->removals_told;
      if (ok) {
        t_->counters_->sent += n;
        for (size_t t = 0; t < by_type.size(); ++t) t_->counters_->sent_by_type[t] += by_type[t];
      } else {
        t_->counters_->dropped_unreachable += n;
      }
    }
    for (raft::Message& m : snapshots) {
      const bool sent = SendSnapshot(m);
      ok = ok && sent;
      NodeHost* host = *t_->host_;
      const uint64_t to = to_;
      if (host != nullptr) {
        host->Post([to, sent](node::Node& n) { n.ReportSnapshot(to, /*failed=*/!sent); });
      }
    }
    return ok;
  }

  bool WriteBatch(v1::PeerBatch* out) {
    if (writer_ == nullptr && !OpenStream()) return Reachable(false);
    FillHello(*t_->self_, to_, out->mutable_hello());
    if (writer_->Write(*out)) return Reachable(true);
    return Reachable(false, CloseStream());
  }

  // Logs when the peer is lost or found again, and why the first attempt failed (a wrong
  // certificate, say); not every failed retry.
  bool Reachable(bool now, const grpc::Status& why = grpc::Status::OK) {
    if (reachable_.has_value() && now == *reachable_) return now;
    const std::string name = t_->book_->NameOf(to_);
    if (now) {
      RB_LOG(INFO) << "reached peer " << name;
    } else {
      RB_LOG(WARNING) << (reachable_.has_value() ? "lost contact with peer " : "cannot reach peer ")
                      << name
                      << (why.ok() ? std::string() : absl::StrCat(" (", why.error_message(), ")"))
                      << "; retrying with backoff";
    }
    reachable_ = now;
    return now;
  }

  bool OpenStream() {
    auto peer = t_->book_->Find(to_);
    if (!peer) return false;  // an address arrives with the membership change or a greeting
    if (channel_ == nullptr || peer->address != channel_address_) {
      channel_ = PeerChannel(*t_->self_, *peer);
      channel_address_ = peer->address;
      stub_ = v1::RaftPeer::NewStub(channel_);
    }
    auto context = std::make_unique<grpc::ClientContext>();
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return false;
      context_ = context.get();
    }
    writer_ = stub_->Send(context.get(), &ack_);
    stream_context_ = std::move(context);
    return writer_ != nullptr;
  }

  // Returns how the stream ended.
  grpc::Status CloseStream() {
    grpc::Status status;
    if (writer_ != nullptr) {
      writer_->WritesDone();
      status = writer_->Finish();
      writer_.reset();
    }
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
    stream_context_.reset();
    return status;
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
      context_ = &context;
    }
    struct Unregister {
      Link* link;
      ~Unregister() {
        absl::MutexLock lock(&link->mu_);
        link->context_ = nullptr;
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
  std::deque<raft::Message> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t tell_removed_at_ ABSL_GUARDED_BY(mu_) = 0;  // 0: nothing to tell
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The stream, used only by the link's thread.
  std::shared_ptr<grpc::Channel> channel_;
  std::string channel_address_;
  std::unique_ptr<v1::RaftPeer::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> stream_context_;
  std::unique_ptr<grpc::ClientWriter<v1::PeerBatch>> writer_;
  v1::PeerAck ack_;
  std::optional<bool> reachable_;  // as last logged; the link's thread only
  std::thread thread_;             // last: starts once everything above exists
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
