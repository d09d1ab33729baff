// Raft traffic over gRPC (raftbadger.v1.RaftPeer), on the same port as the client API.
//
// Outgoing: one Link per peer, with a bounded queue and one long-lived client stream (Send)
// that carries batches of encoded messages through gRPC's callback API. The thread that
// sends (the node's loop, or its store's writer) writes the batch itself when no write is
// in flight; otherwise what it queued leaves in one batch when the write before ends, from
// gRPC's thread. A full queue drops the newest message and counts it (Raft retries). Each
// link also has a thread that opens the stream, again with exponential backoff after one
// broke, so a peer that is down costs the others nothing, and that sends snapshots: a
// MsgSnap travels on its own SendSnapshot stream, the message first, then the snapshot
// file in bounded chunks; the node hears it succeeded only when the receiver has stored
// all of it.
//
// Incoming (PeerService): every batch names its sender (PeerHello), so a node learns how
// to answer peers it was never told about. Malformed messages are dropped and counted;
// messages from another cluster are refused.
#ifndef RAFTBADGER_SERVER_PEER_TRANSPORT_H_
#define RAFTBADGER_SERVER_PEER_TRANSPORT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "node/node.h"
#include "proto/raftbadger.grpc.pb.h"
#include "server/address_book.h"
#include "server/node_host.h"
#include "server/security.h"
#include "storage/store.h"

namespace rb::server {

struct SelfInfo {
  uint64_t id = 0;
  std::string name;
  std::string address;
  std::atomic<uint64_t>* cluster_id = nullptr;  // 0 until known
  const NodeSecurity* security = nullptr;       // how peers are dialed and checked
};

struct PeerCounters {
  // By raft::MessageType (its values are below kMessageTypes).
  static constexpr size_t kMessageTypes = 19;
  std::array<std::atomic<uint64_t>, kMessageTypes> sent_by_type{};
  std::array<std::atomic<uint64_t>, kMessageTypes> received_by_type{};
  std::atomic<int64_t> queued{0};  // messages waiting in the links' queues
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> dropped_queue_full{0};
  std::atomic<uint64_t> dropped_unreachable{0};
  std::atomic<uint64_t> received{0};
  std::atomic<uint64_t> dropped_malformed{0};
  std::atomic<uint64_t> dropped_foreign_cluster{0};
  std::atomic<uint64_t> dropped_misaddressed{0};     // streams refused: meant for another id
  std::atomic<uint64_t> dropped_unauthenticated{0};  // streams refused: certificate
  std::atomic<uint64_t> snapshots_sent{0};
  std::atomic<uint64_t> snapshots_received{0};
  std::atomic<uint64_t> removals_told{0};   // batches telling a peer it was removed
  std::atomic<uint64_t> removals_heard{0};  // batches saying this node was removed
};

// A batch of peer messages holds at most this many bytes of entries, or one message if
// that alone is larger. The server's receive limit must admit a batch (main.cc).
inline constexpr size_t kMaxPeerBatchBytes = 4 << 20;

class PeerTransport : public node::Transport {
 public:
  // `store` is read (snapshot files only) from the links' threads.
  PeerTransport(const SelfInfo* self, AddressBook* book, const storage::Store* store,
                NodeHost** host, PeerCounters* counters, size_t max_queued_messages = 4096);
  ~PeerTransport() override;

  // Any thread; never waits for the peer (the socket write, if one starts, does not block).
  void Send(raft::Message m) override;
  bool ReportsSnapshotStatus() const override { return true; }
  // Carried in the next batch to that peer, or in one of its own (PeerBatch's
  // removed_at_index). Any thread: never blocks.
  void TellRemoved(uint64_t to, uint64_t removed_at_index) override;
  // Stops every link (queued messages are dropped).
  void Stop();

 private:
  class Link;
  Link* LinkFor(uint64_t to);

  const SelfInfo* self_;
  AddressBook* book_;
  const storage::Store* store_;
  NodeHost** host_;
  PeerCounters* counters_;
  const size_t max_queued_;
  absl::Mutex mu_;
  std::map<uint64_t, std::unique_ptr<Link>> links_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// The receiving side: the RaftPeer service.
class PeerService final : public raftbadger::v1::RaftPeer::Service {
 public:
  // on_cluster_id is called (from a gRPC thread) when a node that had none learns one.
  // on_told_removed (from, removed_at_index) is called (from a gRPC thread) when a peer
  // says this node was removed (node::Transport::TellRemoved); unset: ignored.
  PeerService(const SelfInfo* self, AddressBook* book, const storage::Store* store, NodeHost* host,
              PeerCounters* counters, std::function<void(uint64_t)> on_cluster_id,
              std::function<void(uint64_t, uint64_t)> on_told_removed = nullptr);

  grpc::Status Send(grpc::ServerContext* context,
                    grpc::ServerReader<raftbadger::v1::PeerBatch>* reader,
                    raftbadger::v1::PeerAck* ack) override;
  grpc::Status SendSnapshot(grpc::ServerContext* context,
                            grpc::ServerReader<raftbadger::v1::SnapshotPiece>* reader,
                            raftbadger::v1::SnapshotAck* ack) override;

 private:
  // With TLS: the connection's certificate names the member the greeting claims. Not OK:
  // refuse the stream with that status.
  grpc::Status CheckCertificate(const grpc::ServerContext& ctx,
                                const raftbadger::v1::PeerHello& hello);
  // Checks the sender's cluster and learns its address. Not OK: refuse the stream.
  grpc::Status Admit(const raftbadger::v1::PeerHello& hello);
  // Receives the snapshot's file (or finds it complete already) under a name of its own,
  // which it writes into m's descriptor; then the MsgSnap may go to the node.
  grpc::Status ReceiveSnapshotFile(raft::Message* m,
                                   grpc::ServerReader<raftbadger::v1::SnapshotPiece>* reader);

  // Logs a refusal the first time its key is seen; a refused peer retries every second.
  void RefuseOnce(const std::string& key, const std::string& message);
  static constexpr size_t kMaxRefusalsLogged = 1024;

  const SelfInfo* self_;
  AddressBook* book_;
  const storage::Store* store_;
  NodeHost* host_;
  PeerCounters* counters_;
  std::function<void(uint64_t)> on_cluster_id_;
  std::function<void(uint64_t, uint64_t)> on_told_removed_;
  // Snapshot files being received. A leader may send one snapshot twice (a retry, a
  // second probe); two receivers of one file, or a receiver recreating a file the node is
  // installing from, would each damage what the other reads.
  absl::Mutex snapshots_mu_;
  std::set<std::string> receiving_ ABSL_GUARDED_BY(snapshots_mu_);
  absl::Mutex refused_mu_;
  std::set<std::string> refused_ ABSL_GUARDED_BY(refused_mu_);
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_PEER_TRANSPORT_H_
