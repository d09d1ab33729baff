#include "server/kv_service.h"

#include <sys/stat.h>

#include <atomic>
#include <map>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "node/kv_api.h"
#include "node/state_machine.h"
#include "storage/store.h"

namespace rb::server {
namespace {

namespace kvpb = raftbadger::kvpb;
namespace v1 = raftbadger::v1;

}  // namespace

void FillMembers(const NodeView& v, const AddressBook& book,
                 google::protobuf::RepeatedPtrField<v1::Member>* out) {
  auto add = [&](uint64_t id, bool voter) {
    v1::Member* m = out->Add();
    m->set_raft_id(id);
    m->set_voter(voter);
    if (auto info = book.Find(id)) {
      m->set_name(info->name);
      m->set_address(info->address);
    }
    if (auto it = v.progress.find(id); it != v.progress.end()) {
      m->set_match_index(it->second.match);
      m->set_progress_state(it->second.state);
    }
  };
  for (uint64_t id : v.conf.voters) add(id, true);
  for (uint64_t id : v.conf.learners) add(id, false);
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  // absl's codes are gRPC's, number for number (both follow google.rpc.Code).
  static_assert(static_cast<int>(absl::StatusCode::kUnauthenticated) ==
                static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

namespace {

// Keys in the state machine's reserved range (sessions) sort before this.
const std::string& FirstUserKey() {
  static const auto* key = new std::string("\x00\xff", 2);
  return *key;
}

}  // namespace

KvCore::KvCore(const ServerConfig* config, NodeHost* host, node::SqliteNodeStore* store,
               AddressBook* book, const std::atomic<uint64_t>* cluster_id,
               const NodeSecurity* security)
    : config_(config),
      host_(host),
      store_(store),
      book_(book),
      cluster_id_(cluster_id),
      security_(security),
      timer_([host](std::function<void(node::Node&)> cancel) {
        // As in RunOnLoop: with the queue full, the node frees the entry itself once the
        // write applies or leadership changes (bounded by max_pending_requests).
        host->Post(std::move(cancel));
      }) {}

uint64_t KvCore::NewAttemptId() {
  static absl::Mutex mu;
  static std::mt19937_64* rng = new std::mt19937_64(std::random_device{}());
  absl::MutexLock lock(&mu);
  uint64_t id = 0;
  while (id == 0) id = (*rng)() >> 1;
  return id;
}

absl::Time KvCore::Deadline(const grpc::ServerContextBase* ctx) const {
  const absl::Time fallback = absl::Now() + absl::Milliseconds(config_->request_timeout_ms);
  const absl::Time theirs = absl::FromChrono(ctx->deadline());
  return std::min(theirs, fallback);
}

grpc::Status KvCore::CheckKey(const std::string& key) const {
  absl::Status s = node::ValidateKey(key, kMaxKeyBytes);
  return ToGrpc(s);
}

grpc::Status KvCore::Unavailable(const std::string& message, uint64_t leader,
                                 grpc::ServerContextBase* ctx) const {
  if (leader != 0) {
    if (auto info = book_->Find(leader)) {
      ctx->AddTrailingMetadata(kLeaderNameTrailer, info->name);
      ctx->AddTrailingMetadata(kLeaderAddressTrailer, info->address);
    }
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, message);
}

grpc::Status KvCore::NamingLeader(grpc::Status status, grpc::ServerContextBase* ctx) const {
  if (status.error_code() != grpc::StatusCode::UNAVAILABLE) return status;
  return Unavailable(status.error_message(), host_->view().leader, ctx);
}

namespace {

// On the loop: asks the node for a read barrier at `consistency`, and finishes call
// (LoopCall or AsyncCall) when it passes or fails; the call may cancel it.
template <typename Call>
void AwaitReadBarrier(node::Node& n, node::ReadConsistency consistency,
                      const std::shared_ptr<Call>& call) {
  const uint64_t token =
      n.ReadBarrier(consistency, [call](absl::Status ready) { call->Finish(ToGrpc(ready)); });
  call->SetCancel([token](node::Node& n) { n.CancelRead(token); });
}

}  // namespace

grpc::Status KvCore::RunOnLoop(grpc::ServerContext* ctx,
                               std::function<void(node::Node&, std::shared_ptr<LoopCall>)> fn) {
  auto call = std::make_shared<LoopCall>();
  if (!host_->Post([fn = std::move(fn), call](node::Node& n) { fn(n, call); })) {
    return RefusedByLoop();
  }
  grpc::Status status;
  std::function<void(node::Node&)> cancel;
  if (!call->Await(Deadline(ctx), &status, &cancel)) {
    // Free what the request holds on the node; if the queue is full, the entry is freed
    // when the write applies or leadership changes (bounded by max_pending_requests).
    if (cancel) host_->Post(std::move(cancel));
    return DeadlineExceededStatus();
  }
  return status;
}

void KvCore::RunOnLoopAsync(const grpc::ServerContextBase* ctx,
                            std::function<void(node::Node&, std::shared_ptr<AsyncCall>)> fn,
                            AsyncCall::Reply reply) {
  auto call = std::make_shared<AsyncCall>(std::move(reply));
  // Before posting: the loop may answer at once.
  timer_.Add(call, Deadline(ctx));
  if (!host_->Post([fn = std::move(fn), call](node::Node& n) { fn(n, call); })) {
    call->Finish(RefusedByLoop());
  }
}

grpc::Status KvCore::RefusedByLoop() const {
  if (host_->stopping()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this node is shutting down");
  }
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "this node's request queue is full");
}

namespace {

// Takes one of `limit` slots; false (and nothing taken) when all are taken.
bool TakeSlot(std::atomic<int>* in_flight, int limit) {
  if (in_flight->fetch_add(1, std::memory_order_relaxed) >= limit) {
    in_flight->fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ReleaseSlot(std::atomic<int>* in_flight, const char* what) {
  const int before = in_flight->fetch_sub(1, std::memory_order_relaxed);
  RB_CHECK(before > 0, "a ", what, " ended that had not begun");
}

}  // namespace

bool KvCore::BeginWrite() { return TakeSlot(&writes_in_flight_, config_->max_handler_threads); }
void KvCore::EndWrite() { ReleaseSlot(&writes_in_flight_, "write"); }
bool KvCore::BeginRead() { return TakeSlot(&reads_in_flight_, config_->max_handler_threads); }
void KvCore::EndRead() { ReleaseSlot(&reads_in_flight_, "read"); }

void KvCore::Write(grpc::CallbackServerContext* ctx, kvpb::Command cmd, WriteDone done) {
  if (cmd.client_id() == 0) {
    // No session: at most once for this single attempt. The seq only tells this attempt's
    // answer apart from others' while it waits on the leader.
    cmd.set_seq(NewAttemptId());
  }
  // Written on the loop before it answers; read only with the loop's answer.
  struct Outcome {
    kvpb::CommandResult result;
    uint64_t redirect = 0;
    bool expired = false;
  };
  auto outcome = std::make_shared<Outcome>();
  const bool forwarded = ctx->client_metadata().count(kForwardedHeader) > 0;
  auto on_loop = [cmd, outcome](node::Node& n, std::shared_ptr<AsyncCall> call) {
    if (!n.is_leader() && n.leader() != raft::kNone) {
      outcome->redirect = n.leader();
      call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"));
      return;
    }
    n.Write(cmd, [outcome, call](absl::StatusOr<kvpb::CommandResult> r) {
      if (r.ok()) outcome->result = *std::move(r);
      if (node::IsSessionExpired(r.status())) outcome->expired = true;
      call->Finish(ToGrpc(r.status()));
    });
    call->SetCancel(
        [client = cmd.client_id(), seq = cmd.seq()](node::Node& n) { n.CancelWrite(client, seq); });
  };
  auto reply = [this, ctx, cmd, outcome, forwarded, done = std::move(done)](grpc::Status status) {
    // The deadline's answer comes from the timer, perhaps while the loop still writes the
    // outcome: it reads nothing of it.
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      done(status, kvpb::CommandResult());
      return;
    }
    if (status.ok()) {
      done(status, outcome->result);
      return;
    }
    if (outcome->expired) {
      // Structured, so that a client knows to register again rather than parse the text.
      ctx->AddTrailingMetadata(kErrorTrailer, kSessionExpired);
      done(status, kvpb::CommandResult());
      return;
    }
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && outcome->redirect != 0) {
      if (!forwarded) {
        Forward(ctx, outcome->redirect, cmd, done);
        return;
      }
      done(Unavailable(
               absl::StrCat("not the leader; the leader is ", book_->NameOf(outcome->redirect)),
               outcome->redirect, ctx),
           kvpb::CommandResult());
      return;
    }
    done(NamingLeader(std::move(status), ctx), kvpb::CommandResult());
  };
  RunOnLoopAsync(ctx, std::move(on_loop), std::move(reply));
}

namespace {

// One forwarded write in flight: what its callback needs alive until it runs.
struct ForwardedCall {
  std::unique_ptr<v1::KV::Stub> stub;
  grpc::ClientContext ctx;
  v1::PutRequest put;
  v1::PutResponse put_resp;
  v1::DeleteRequest del;
  v1::DeleteResponse del_resp;
  v1::CompareAndSwapRequest cas;
  v1::CompareAndSwapResponse cas_resp;
  v1::RegisterSessionRequest reg;
  v1::RegisterSessionResponse reg_resp;
};

}  // namespace

void KvCore::Forward(grpc::CallbackServerContext* ctx, uint64_t leader, const kvpb::Command& cmd,
                     WriteDone done) {
  auto info = book_->Find(leader);
  if (!info) {
    done(Unavailable("the leader's address is not known yet; retry", leader, ctx),
         kvpb::CommandResult());
    return;
  }
  auto f = std::make_shared<ForwardedCall>();
  {
    absl::MutexLock lock(&forward_mu_);
    auto& channel = forward_channels_[info->address];
    if (channel == nullptr) {
      // This node is the leader's client here: with TLS its certificate admits it, and
      // with a token it sends its own.
      channel = grpc::CreateChannel(info->address, security_->ChannelCredentials());
    }
    f->stub = v1::KV::NewStub(channel);
  }
  f->ctx.set_deadline(absl::ToChronoTime(Deadline(ctx)));
  f->ctx.AddMetadata(kForwardedHeader, "1");
  security_->AttachToken(&f->ctx);
  v1::Session session;
  session.set_client_id(cmd.client_id());
  session.set_seq(cmd.client_id() == 0 ? 0 : cmd.seq());
  // The leader's answer as this node's: its trailers (the leader, a session's expiry), and
  // the result a local write would have given.
  auto finish = [ctx, f, done](grpc::Status s, kvpb::CommandResult result) {
    for (const auto& [key, value] : f->ctx.GetServerTrailingMetadata()) {
      ctx->AddTrailingMetadata(std::string(key.data(), key.size()),
                               std::string(value.data(), value.size()));
    }
    done(std::move(s), result);
  };
  switch (cmd.op_case()) {
    case kvpb::Command::kPut: {
      f->put.set_key(cmd.put().key());
      f->put.set_value(cmd.put().value());
      f->put.set_require_existing(cmd.put().require_existing());
      if (cmd.client_id() != 0) *f->put.mutable_session() = session;
      const bool require_existing = cmd.put().require_existing();
      f->stub->async()->Put(
          &f->ctx, &f->put, &f->put_resp, [f, finish, require_existing](grpc::Status s) {
            kvpb::CommandResult result;
            result.set_revision(f->put_resp.revision());
            result.set_existed(s.ok());
            if (require_existing && s.error_code() == grpc::StatusCode::NOT_FOUND) {
              s = grpc::Status::OK;  // the leader applied it: key missing
            }
            finish(std::move(s), result);
          });
      return;
    }
    case kvpb::Command::kDelete: {
      f->del.set_key(cmd.delete_().key());
      if (cmd.client_id() != 0) *f->del.mutable_session() = session;
      f->stub->async()->Delete(&f->ctx, &f->del, &f->del_resp, [f, finish](grpc::Status s) {
        kvpb::CommandResult result;
        result.set_existed(f->del_resp.existed());
        result.set_revision(f->del_resp.revision());
        finish(std::move(s), result);
      });
      return;
    }
    case kvpb::Command::kCas: {
      f->cas.set_key(cmd.cas().key());
      if (cmd.cas().expect_absent()) {
        f->cas.set_expect_absent(true);
      } else {
        f->cas.set_expected_value(cmd.cas().expected());
      }
      f->cas.set_value(cmd.cas().value());
      if (cmd.client_id() != 0) *f->cas.mutable_session() = session;
      f->stub->async()->CompareAndSwap(&f->ctx, &f->cas, &f->cas_resp, [f, finish](grpc::Status s) {
        kvpb::CommandResult result;
        result.set_swapped(f->cas_resp.swapped());
        result.set_revision(f->cas_resp.revision());
        if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) s = grpc::Status::OK;
        finish(std::move(s), result);
      });
      return;
    }
    case kvpb::Command::kRegisterSession: {
      f->stub->async()->RegisterSession(&f->ctx, &f->reg, &f->reg_resp,
                                        [f, finish](grpc::Status s) {
                                          kvpb::CommandResult result;
                                          result.set_session_id(f->reg_resp.client_id());
                                          finish(std::move(s), result);
                                        });
      return;
    }
    case kvpb::Command::OP_NOT_SET:
      break;
  }
  done(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "command has no operation"),
       kvpb::CommandResult());
}

void KvCore::Get(grpc::CallbackServerContext* ctx, std::string key, v1::Consistency consistency,
                 GetDone done) {
  if (grpc::Status s = CheckKey(key); !s.ok()) {
    done(s, nullptr);
    return;
  }
  const node::ReadConsistency c = node::ConsistencyOf(consistency);
  auto on_loop = [c](node::Node& n, std::shared_ptr<AsyncCall> call) {
    AwaitReadBarrier(n, c, call);
  };
  auto reply = [this, ctx, key = std::move(key),
                done = std::move(done)](grpc::Status status) mutable {
    if (!status.ok()) {
      done(NamingLeader(std::move(status), ctx), nullptr);
      return;
    }
    // Past the barrier, on the loop: the store is read on the reader's thread (worker.h).
    reader_.Post([this, key = std::move(key), done = std::move(done)] {
      // The key itself sorts first among the keys it prefixes.
      auto rows = store_->Scan(key, 1);
      if (!rows.ok()) {
        done(ToGrpc(rows.status()), nullptr);
      } else if (rows->empty() || (*rows)[0].key != key) {
        done(grpc::Status(grpc::StatusCode::NOT_FOUND, "key not found"), nullptr);
      } else {
        done(grpc::Status::OK, &(*rows)[0]);
      }
    });
  };
  RunOnLoopAsync(ctx, std::move(on_loop), std::move(reply));
}

grpc::Status KvCore::WaitReadable(grpc::ServerContext* ctx, node::ReadConsistency consistency) {
  grpc::Status status = RunOnLoop(
      ctx, [consistency](node::Node& n, auto call) { AwaitReadBarrier(n, consistency, call); });
  return NamingLeader(std::move(status), ctx);
}

grpc::Status KvCore::Range(grpc::ServerContext* ctx, const v1::RangeRequest& req,
                           v1::RangeResponse* out) {
  uint32_t limit = req.limit() == 0 ? kDefaultRangeLimit : req.limit();
  limit = std::min(limit, kMaxRangeLimit);
  std::string start_after = req.page_token();
  if (req.prefix().empty() && start_after < FirstUserKey()) start_after = FirstUserKey();
  grpc::Status status = WaitReadable(ctx, node::ConsistencyOf(req.consistency()));
  if (!status.ok()) return status;
  auto scanned = store_->Scan(req.prefix(), limit + 1, start_after);
  if (!scanned.ok()) return ToGrpc(scanned.status());
  const std::vector<storage::KeyValue>* rows = &*scanned;
  for (size_t i = 0; i < rows->size() && i < limit; ++i) {
    v1::KeyValue* kv = out->add_kvs();
    kv->set_key((*rows)[i].key);
    kv->set_value((*rows)[i].value);
    kv->set_revision((*rows)[i].mod_index);
  }
  if (rows->size() > limit) out->set_next_page_token((*rows)[limit - 1].key);
  return grpc::Status::OK;
}

grpc::Status KvCore::Status(v1::StatusResponse* out) {
  const NodeView v = host_->view();
  auto self = book_->Find(v.id);
  out->set_name(self ? self->name : "");
  out->set_address(self ? self->address : "");
  out->set_raft_id(v.id);
  out->set_role(v.failed ? "failed" : v.role);
  out->set_term(v.term);
  out->set_commit_index(v.commit);
  out->set_applied_index(v.applied);
  out->set_cluster_id(cluster_id_->load());
  if (v.leader != 0) {
    out->set_leader_name(book_->NameOf(v.leader));
    if (auto l = book_->Find(v.leader)) out->set_leader_address(l->address);
  }
  FillMembers(v, *book_, out->mutable_members());
  const std::string db = absl::StrCat(config_->data_dir, "/", storage::kDatabaseFileName);
  struct stat st {};
  if (::stat(db.c_str(), &st) == 0) out->set_db_size_bytes(static_cast<uint64_t>(st.st_size));
  if (::stat((db + "-wal").c_str(), &st) == 0) {
    out->set_wal_size_bytes(static_cast<uint64_t>(st.st_size));
  }
  return grpc::Status::OK;
}

// ---------------------------------------------------------------------------------------
// The callback API's writes.

namespace {

// Starts a write for a callback-API handler and returns its reactor: authorizes, builds the
// command (make_command, after authorization), and finishes the reactor with what
// answer(status, result, resp) makes of the write's outcome.
template <typename Resp, typename MakeCommand, typename Answer>
grpc::ServerUnaryReactor* StartWrite(KvCore* core, grpc::CallbackServerContext* ctx, Resp* resp,
                                     MakeCommand make_command, Answer answer) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (grpc::Status a = core->Authorize(*ctx); !a.ok()) {
    reactor->Finish(a);
    return reactor;
  }
  absl::StatusOr<kvpb::Command> cmd = make_command();
  if (!cmd.ok()) {
    reactor->Finish(ToGrpc(cmd.status()));
    return reactor;
  }
  if (!core->BeginWrite()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "too many writes in flight on this node (MAX_HANDLER_THREADS)"));
    return reactor;
  }
  core->Write(ctx, *std::move(cmd),
              [core, reactor, resp, answer](grpc::Status s, const kvpb::CommandResult& result) {
                grpc::Status answered = answer(std::move(s), result, resp);
                core->EndWrite();
                reactor->Finish(std::move(answered));
              });
  return reactor;
}

// The KV API's answer: the status, and on success the response ResponseFor makes.
template <typename Req>
auto KvAnswer(const Req* req) {
  return [req](grpc::Status s, const kvpb::CommandResult& result, auto* resp) {
    if (!s.ok()) return s;
    return ToGrpc(node::ResponseFor(*req, result, resp));
  };
}

// The old API's answer to SaveEntries and DeleteEntries: success mirrors the status
// (deleting a missing key succeeds, as it did).
template <typename Resp>
grpc::Status BadgerSuccess(grpc::Status s, const kvpb::CommandResult& /*result*/, Resp* resp) {
  resp->set_success(s.ok());
  return s;
}

// Starts a read for a callback-API handler and returns its reactor: authorizes, then
// finishes the reactor with what answer(status, row) makes of the read.
template <typename Answer>
grpc::ServerUnaryReactor* StartGet(KvCore* core, grpc::CallbackServerContext* ctx, std::string key,
                                   v1::Consistency consistency, Answer answer) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (grpc::Status a = core->Authorize(*ctx); !a.ok()) {
    reactor->Finish(a);
    return reactor;
  }
  if (!core->BeginRead()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "too many reads in flight on this node (MAX_HANDLER_THREADS)"));
    return reactor;
  }
  core->Get(ctx, std::move(key), consistency,
            [core, reactor, answer](grpc::Status s, const storage::KeyValue* row) {
              grpc::Status answered = answer(std::move(s), row);
              core->EndRead();
              reactor->Finish(std::move(answered));
            });
  return reactor;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// badgerpb.BadgerService: the old API. Values are the old `secrets`.

grpc::ServerUnaryReactor* BadgerServiceImpl::SaveEntries(grpc::CallbackServerContext* ctx,
                                                         const badgerpb::SaveEntriesRequest* req,
                                                         badgerpb::SaveEntriesResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); },
      BadgerSuccess<badgerpb::SaveEntriesResponse>);
}

grpc::ServerUnaryReactor* BadgerServiceImpl::GetEntries(grpc::CallbackServerContext* ctx,
                                                        const badgerpb::GetEntriesRequest* req,
                                                        badgerpb::GetEntriesResponse* resp) {
  v1::Consistency c = v1::LINEARIZABLE;
  if (core_->config().read_mode == ReadMode::kStale) c = v1::STALE;
  if (core_->config().read_mode == ReadMode::kLease) c = v1::LEASE;
  return StartGet(core_, ctx, req->id(), c,
                  [req, resp](grpc::Status s, const storage::KeyValue* row) {
                    if (!s.ok()) return s;
                    resp->set_id(req->id());
                    resp->set_data(row->value);
                    return s;
                  });
}

grpc::ServerUnaryReactor* BadgerServiceImpl::DeleteEntries(
    grpc::CallbackServerContext* ctx, const badgerpb::DeleteEntriesRequest* req,
    badgerpb::DeleteEntriesResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); },
      BadgerSuccess<badgerpb::DeleteEntriesResponse>);
}

grpc::ServerUnaryReactor* BadgerServiceImpl::UpdateEntries(
    grpc::CallbackServerContext* ctx, const badgerpb::UpdateEntriesRequest* req,
    badgerpb::UpdateEntriesResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); }, KvAnswer(req));
}

// ---------------------------------------------------------------------------------------
// raftbadger.v1.KV.

grpc::ServerUnaryReactor* KvServiceImpl::Put(grpc::CallbackServerContext* ctx,
                                             const v1::PutRequest* req, v1::PutResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); }, KvAnswer(req));
}

grpc::ServerUnaryReactor* KvServiceImpl::Get(grpc::CallbackServerContext* ctx,
                                             const v1::GetRequest* req, v1::GetResponse* resp) {
  return StartGet(core_, ctx, req->key(), req->consistency(),
                  [resp](grpc::Status s, const storage::KeyValue* row) {
                    if (!s.ok()) return s;
                    resp->set_value(row->value);
                    resp->set_revision(row->mod_index);
                    return s;
                  });
}

grpc::ServerUnaryReactor* KvServiceImpl::Delete(grpc::CallbackServerContext* ctx,
                                                const v1::DeleteRequest* req,
                                                v1::DeleteResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); }, KvAnswer(req));
}

grpc::ServerUnaryReactor* KvServiceImpl::CompareAndSwap(grpc::CallbackServerContext* ctx,
                                                        const v1::CompareAndSwapRequest* req,
                                                        v1::CompareAndSwapResponse* resp) {
  return StartWrite(
      core_, ctx, resp, [&] { return node::CommandFor(*req, core_->limits()); }, KvAnswer(req));
}

grpc::Status KvServiceImpl::Range(grpc::ServerContext* ctx, const v1::RangeRequest* req,
                                  v1::RangeResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  if (req->prefix().size() > kMaxKeyBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "prefix longer than a key may be");
  }
  return core_->Range(ctx, *req, resp);
}

grpc::ServerUnaryReactor* KvServiceImpl::RegisterSession(grpc::CallbackServerContext* ctx,
                                                         const v1::RegisterSessionRequest* /*req*/,
                                                         v1::RegisterSessionResponse* resp) {
  // Through the log, like a write: the session exists on every member, and its id (the
  // log index) is unique for the life of the cluster.
  return StartWrite(
      core_, ctx, resp,
      [] { return absl::StatusOr<kvpb::Command>(node::RegisterSessionCommand()); },
      [](grpc::Status s, const kvpb::CommandResult& result, v1::RegisterSessionResponse* r) {
        if (s.ok()) r->set_client_id(result.session_id());
        return s;
      });
}

grpc::Status ClusterServiceImpl::Status(grpc::ServerContext* ctx, const v1::StatusRequest* /*req*/,
                                        v1::StatusResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  return core_->Status(resp);
}

}  // namespace rb::server
