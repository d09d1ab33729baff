// The client-facing gRPC services: badgerpb.BadgerService (the old Go service's API,
// unchanged), raftbadger.v1.KV and raftbadger.v1.Cluster.
//
// Every request has a deadline (the caller's, or request_timeout_ms) and is posted to the
// node's loop. Writes and point reads (Get, GetEntries) use gRPC's callback API: the
// handler returns at once and the loop's answer (or the deadline, AsyncCall) finishes the
// call, with no thread waiting for it. A read passes the loop's barrier, then reads the
// store on one reader thread (Worker): the loop must not wait for the store while a write
// holds it. Range, which may read many rows, waits on a handler thread (LoopCall).
// Writes received by a follower are forwarded to the leader over gRPC (once: a forwarded
// request is never forwarded again). Reads are served by the node that receives them at
// the requested consistency. Errors are gRPC status codes; UNAVAILABLE carries the leader,
// when known, in the trailers rb-leader-name and rb-leader-address.
#ifndef RAFTBADGER_SERVER_KV_SERVICE_H_
#define RAFTBADGER_SERVER_KV_SERVICE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "node/kv_api.h"
#include "proto/badger.grpc.pb.h"
#include "proto/kv.pb.h"
#include "proto/raftbadger.grpc.pb.h"
#include "server/address_book.h"
#include "server/async_call.h"
#include "server/config.h"
#include "server/loop_call.h"
#include "server/node_host.h"
#include "server/security.h"
#include "server/worker.h"

namespace rb::server {

inline constexpr char kLeaderNameTrailer[] = "rb-leader-name";
inline constexpr char kLeaderAddressTrailer[] = "rb-leader-address";
inline constexpr char kForwardedHeader[] = "rb-forwarded";
// Trailer naming an error a client acts on: "session-expired" (register a new session;
// FAILED_PRECONDITION, nothing was written).
inline constexpr char kErrorTrailer[] = "rb-error";
inline constexpr char kSessionExpired[] = "session-expired";
inline constexpr size_t kMaxKeyBytes = 4096;
inline constexpr uint32_t kDefaultRangeLimit = 100;
inline constexpr uint32_t kMaxRangeLimit = 1000;

// The gRPC status for an absl one: the same code and message.
grpc::Status ToGrpc(const absl::Status& s);

// The configuration in the view as Member rows: voters, then learners, with names and
// addresses from the book and, on the leader, each one's replication progress.
void FillMembers(const NodeView& v, const AddressBook& book,
                 google::protobuf::RepeatedPtrField<raftbadger::v1::Member>* out);

// The request path shared by all three services.
class KvCore {
 public:
  KvCore(const ServerConfig* config, NodeHost* host, node::SqliteNodeStore* store,
         AddressBook* book, const std::atomic<uint64_t>* cluster_id, const NodeSecurity* security);

  // Every client-facing handler's first step: OK, or UNAUTHENTICATED (security.h).
  grpc::Status Authorize(const grpc::ServerContextBase& ctx) const {
    return security_->AuthorizeClient(ctx);
  }

  // Runs once with a write's status and, if OK, its applied result; on the loop, the
  // deadline timer's thread or a forwarding call's callback. It must not block.
  using WriteDone =
      std::function<void(grpc::Status, const raftbadger::kvpb::CommandResult& result)>;
  // Proposes cmd (on the leader, or forwarded to it) and gives its applied result to done.
  // Returns at once. ctx must stay valid until done has run (the callback API's reactor
  // is finished from done).
  void Write(grpc::CallbackServerContext* ctx, raftbadger::kvpb::Command cmd, WriteDone done);
  // Waits for the reads whose barrier has passed to read the store and answer. Before the
  // store closes; REQUIRES: the node's loop has stopped (nothing starts new ones).
  void FinishReads() { reader_.Drain(); }
  // Callback-API writes hold no thread, so the handler-thread limit does not bound them:
  // this does, at the same number (MAX_HANDLER_THREADS). False (and nothing taken) when
  // that many are in flight already; otherwise EndWrite must follow, once.
  bool BeginWrite();
  void EndWrite();
  // The same bound for callback-API reads.
  bool BeginRead();
  void EndRead();
  // Runs once with a read's status and, if OK, the row read; on the reader thread, the
  // loop, the deadline timer's thread or the caller's. It must not block.
  using GetDone = std::function<void(grpc::Status, const storage::KeyValue* row)>;
  // Reads key at the given consistency and gives the row to done (NOT_FOUND if absent).
  // Returns at once. ctx must stay valid until done has run.
  void Get(grpc::CallbackServerContext* ctx, std::string key,
           raftbadger::v1::Consistency consistency, GetDone done);
  grpc::Status Range(grpc::ServerContext* ctx, const raftbadger::v1::RangeRequest& req,
                     raftbadger::v1::RangeResponse* out);
  grpc::Status Status(raftbadger::v1::StatusResponse* out);

  node::KvLimits limits() const { return {kMaxKeyBytes, config_->max_value_bytes}; }
  grpc::Status CheckKey(const std::string& key) const;
  // A fresh id telling apart a request without a session while it waits on the leader
  // (random, 63 bits).
  uint64_t NewAttemptId();
  const ServerConfig& config() const { return *config_; }
  // The request's deadline: the caller's, or request_timeout_ms from now if sooner.
  absl::Time Deadline(const grpc::ServerContextBase* ctx) const;
  // Runs fn on the loop; fn must see that call->Finish is called once (on the loop), and
  // may say how to cancel. Waits until then or the deadline; at the deadline, posts the
  // cancellation so that the node forgets the request.
  grpc::Status RunOnLoop(grpc::ServerContext* ctx,
                         std::function<void(node::Node&, std::shared_ptr<LoopCall>)> fn);
  // RunOnLoop without waiting: reply runs once with the answer, DEADLINE_EXCEEDED at the
  // deadline (the cancellation is then posted), or at once if the loop refuses the work.
  void RunOnLoopAsync(const grpc::ServerContextBase* ctx,
                      std::function<void(node::Node&, std::shared_ptr<AsyncCall>)> fn,
                      AsyncCall::Reply reply);
  // Waits until this node may serve a read at `consistency` (node::Node::ReadBarrier). The
  // caller then reads the store on its own thread, not the loop's: the read may wait for a
  // write in flight, and sees at least what the barrier promised.
  grpc::Status WaitReadable(grpc::ServerContext* ctx, node::ReadConsistency consistency);
  // UNAVAILABLE with the leader (if known) in the trailers.
  grpc::Status Unavailable(const std::string& message, uint64_t leader,
                           grpc::ServerContextBase* ctx) const;
  // status, with the leader this node knows now in the trailers if it is UNAVAILABLE.
  grpc::Status NamingLeader(grpc::Status status, grpc::ServerContextBase* ctx) const;

 private:
  // Why the loop refused posted work: stopping (UNAVAILABLE) or its queue is full.
  grpc::Status RefusedByLoop() const;
  // Sends cmd to the leader as a client would (marked forwarded) and gives its answer and
  // trailers to done, without waiting.
  void Forward(grpc::CallbackServerContext* ctx, uint64_t leader,
               const raftbadger::kvpb::Command& cmd, WriteDone done);

  const ServerConfig* config_;
  NodeHost* host_;
  // Read off the loop (reader_, Range's handler threads): a read waits while a write holds
  // the store.
  node::SqliteNodeStore* store_;
  AddressBook* book_;
  const std::atomic<uint64_t>* cluster_id_;
  const NodeSecurity* security_;
  // One channel per leader address, for the life of the process.
  absl::Mutex forward_mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> forward_channels_
      ABSL_GUARDED_BY(forward_mu_);
  std::atomic<int> writes_in_flight_{0};
  std::atomic<int> reads_in_flight_{0};
  // Reads the store for Get once the loop has passed the read's barrier. Stops after the
  // timer, before the store.
  Worker reader_{"rb-reader"};
  // Expires the callback API's calls; declared last, so that it stops first.
  DeadlineTimer timer_;
};

// Writes through the callback API, reads synchronous (see the top of this file).
using BadgerServiceBase = badgerpb::BadgerService::WithCallbackMethod_SaveEntries<
    badgerpb::BadgerService::WithCallbackMethod_DeleteEntries<
        badgerpb::BadgerService::WithCallbackMethod_UpdateEntries<
            badgerpb::BadgerService::WithCallbackMethod_GetEntries<
                badgerpb::BadgerService::Service>>>>;

class BadgerServiceImpl final : public BadgerServiceBase {
 public:
  explicit BadgerServiceImpl(KvCore* core) : core_(core) {}
  grpc::ServerUnaryReactor* SaveEntries(grpc::CallbackServerContext* ctx,
                                        const badgerpb::SaveEntriesRequest* req,
                                        badgerpb::SaveEntriesResponse* resp) override;
  grpc::ServerUnaryReactor* GetEntries(grpc::CallbackServerContext* ctx,
                                       const badgerpb::GetEntriesRequest* req,
                                       badgerpb::GetEntriesResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteEntries(grpc::CallbackServerContext* ctx,
                                          const badgerpb::DeleteEntriesRequest* req,
                                          badgerpb::DeleteEntriesResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateEntries(grpc::CallbackServerContext* ctx,
                                          const badgerpb::UpdateEntriesRequest* req,
                                          badgerpb::UpdateEntriesResponse* resp) override;

 private:
  KvCore* core_;
};

using KvServiceBase =
    raftbadger::v1::KV::WithCallbackMethod_Put<raftbadger::v1::KV::WithCallbackMethod_Delete<
        raftbadger::v1::KV::WithCallbackMethod_CompareAndSwap<
            raftbadger::v1::KV::WithCallbackMethod_RegisterSession<
                raftbadger::v1::KV::WithCallbackMethod_Get<raftbadger::v1::KV::Service>>>>>;

class KvServiceImpl final : public KvServiceBase {
 public:
  explicit KvServiceImpl(KvCore* core) : core_(core) {}
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const raftbadger::v1::PutRequest* req,
                                raftbadger::v1::PutResponse* resp) override;
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx,
                                const raftbadger::v1::GetRequest* req,
                                raftbadger::v1::GetResponse* resp) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const raftbadger::v1::DeleteRequest* req,
                                   raftbadger::v1::DeleteResponse* resp) override;
  grpc::ServerUnaryReactor* CompareAndSwap(grpc::CallbackServerContext* ctx,
                                           const raftbadger::v1::CompareAndSwapRequest* req,
                                           raftbadger::v1::CompareAndSwapResponse* resp) override;
  grpc::Status Range(grpc::ServerContext* ctx, const raftbadger::v1::RangeRequest* req,
                     raftbadger::v1::RangeResponse* resp) override;
  grpc::ServerUnaryReactor* RegisterSession(grpc::CallbackServerContext* ctx,
                                            const raftbadger::v1::RegisterSessionRequest* req,
                                            raftbadger::v1::RegisterSessionResponse* resp) override;

 private:
  KvCore* core_;
};

class ClusterServiceImpl final : public raftbadger::v1::Cluster::Service {
 public:
  explicit ClusterServiceImpl(KvCore* core) : core_(core) {}
  grpc::Status Status(grpc::ServerContext* ctx, const raftbadger::v1::StatusRequest* req,
                      raftbadger::v1::StatusResponse* resp) override;

 private:
  KvCore* core_;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_KV_SERVICE_H_
