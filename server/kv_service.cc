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
      security_(security) {}

uint64_t KvCore::NewAttemptId() {
  static absl::Mutex mu;
  static std::mt19937_64* rng = new std::mt19937_64(std::random_device{}());
  absl::MutexLock lock(&mu);
  uint64_t id = 0;
  while (id == 0) id = (*rng)() >> 1;
  return id;
}

absl::Time KvCore::Deadline(grpc::ServerContext* ctx) const {
  const absl::Time fallback = absl::Now() + absl::Milliseconds(config_->request_timeout_ms);
  const absl::Time theirs = absl::FromChrono(ctx->deadline());
  return std::min(theirs, fallback);
}

grpc::Status KvCore::CheckKey(const std::string& key) const {
  absl::Status s = node::ValidateKey(key, kMaxKeyBytes);
  return ToGrpc(s);
}

grpc::Status KvCore::Unavailable(const std::string& message, uint64_t leader,
                                 grpc::ServerContext* ctx) const {
  if (leader != 0) {
    if (auto info = book_->Find(leader)) {
      ctx->AddTrailingMetadata(kLeaderNameTrailer, info->name);
      ctx->AddTrailingMetadata(kLeaderAddressTrailer, info->address);
    }
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, message);
}

grpc::Status KvCore::RunOnLoop(grpc::ServerContext* ctx,
                               std::function<void(node::Node&, std::shared_ptr<LoopCall>)> fn) {
  auto call = std::make_shared<LoopCall>();
  if (!host_->Post([fn = std::move(fn), call](node::Node& n) { fn(n, call); })) {
    if (host_->stopping()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "this node is shutting down");
    }
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "this node's request queue is full");
  }
  grpc::Status status;
  std::function<void(node::Node&)> cancel;
  if (!call->Await(Deadline(ctx), &status, &cancel)) {
    // Free what the request holds on the node; if the queue is full, the entry is freed
    // when the write applies or leadership changes (bounded by max_pending_requests).
    if (cancel) host_->Post(std::move(cancel));
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        "the request's deadline passed before the cluster answered; a write "
                        "may still be applied");
  }
  return status;
}

grpc::Status KvCore::Write(grpc::ServerContext* ctx, kvpb::Command cmd,
                           kvpb::CommandResult* result) {
  if (cmd.client_id() == 0) {
    // No session: at most once for this single attempt. The seq only tells this attempt's
    // answer apart from others' while it waits on the leader.
    cmd.set_seq(NewAttemptId());
  }
  auto out = std::make_shared<kvpb::CommandResult>();
  auto redirect = std::make_shared<uint64_t>(0);
  auto expired = std::make_shared<std::atomic<bool>>(false);
  grpc::Status status = RunOnLoop(ctx, [cmd, out, redirect, expired](node::Node& n, auto call) {
    if (!n.is_leader() && n.leader() != raft::kNone) {
      *redirect = n.leader();
      call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"));
      return;
    }
    n.Write(cmd, [out, call, expired](absl::StatusOr<kvpb::CommandResult> r) {
      if (r.ok()) *out = *r;
      if (node::IsSessionExpired(r.status())) *expired = true;
      call->Finish(ToGrpc(r.status()));
    });
    call->SetCancel(
        [client = cmd.client_id(), seq = cmd.seq()](node::Node& n) { n.CancelWrite(client, seq); });
  });
  if (status.ok()) {
    *result = *out;
    return status;
  }
  if (*expired) {
    // Structured, so that a client knows to register again rather than parse the text.
    ctx->AddTrailingMetadata(kErrorTrailer, kSessionExpired);
    return status;
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && *redirect != 0) {
    const bool forwarded = ctx->client_metadata().count(kForwardedHeader) > 0;
    if (!forwarded) return Forward(ctx, *redirect, cmd, result);
    return Unavailable(absl::StrCat("not the leader; the leader is ", book_->NameOf(*redirect)),
                       *redirect, ctx);
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable(status.error_message(), host_->view().leader, ctx);
  }
  return status;
}

grpc::Status KvCore::Forward(grpc::ServerContext* ctx, uint64_t leader, const kvpb::Command& cmd,
                             kvpb::CommandResult* result) {
  auto info = book_->Find(leader);
  if (!info) return Unavailable("the leader's address is not known yet; retry", leader, ctx);
  std::unique_ptr<v1::KV::Stub> stub;
  {
    absl::MutexLock lock(&forward_mu_);
    auto& channel = forward_channels_[info->address];
    if (channel == nullptr) {
      // This node is the leader's client here: with TLS its certificate admits it, and
      // with a token it sends its own.
      channel = grpc::CreateChannel(info->address, security_->ChannelCredentials());
    }
    stub = v1::KV::NewStub(channel);
  }
  grpc::ClientContext fctx;
  fctx.set_deadline(absl::ToChronoTime(Deadline(ctx)));
  fctx.AddMetadata(kForwardedHeader, "1");
  security_->AttachToken(&fctx);
  v1::Session session;
  session.set_client_id(cmd.client_id());
  session.set_seq(cmd.client_id() == 0 ? 0 : cmd.seq());
  grpc::Status s;
  switch (cmd.op_case()) {
    case kvpb::Command::kPut: {
      v1::PutRequest req;
      req.set_key(cmd.put().key());
      req.set_value(cmd.put().value());
      req.set_require_existing(cmd.put().require_existing());
      if (cmd.client_id() != 0) *req.mutable_session() = session;
      v1::PutResponse resp;
      s = stub->Put(&fctx, req, &resp);
      result->set_revision(resp.revision());
      result->set_existed(s.ok());
      if (cmd.put().require_existing() && s.error_code() == grpc::StatusCode::NOT_FOUND) {
        return grpc::Status::OK;  // the leader applied it: the key was missing
      }
      break;
    }
    case kvpb::Command::kDelete: {
      v1::DeleteRequest req;
      req.set_key(cmd.delete_().key());
      if (cmd.client_id() != 0) *req.mutable_session() = session;
      v1::DeleteResponse resp;
      s = stub->Delete(&fctx, req, &resp);
      result->set_existed(resp.existed());
      result->set_revision(resp.revision());
      break;
    }
    case kvpb::Command::kCas: {
      v1::CompareAndSwapRequest req;
      req.set_key(cmd.cas().key());
      if (cmd.cas().expect_absent()) {
        req.set_expect_absent(true);
      } else {
        req.set_expected_value(cmd.cas().expected());
      }
      req.set_value(cmd.cas().value());
      if (cmd.client_id() != 0) *req.mutable_session() = session;
      v1::CompareAndSwapResponse resp;
      s = stub->CompareAndSwap(&fctx, req, &resp);
      result->set_swapped(resp.swapped());
      result->set_revision(resp.revision());
      if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) return grpc::Status::OK;
      break;
    }
    case kvpb::Command::kRegisterSession: {
      v1::RegisterSessionResponse resp;
      s = stub->RegisterSession(&fctx, v1::RegisterSessionRequest(), &resp);
      result->set_session_id(resp.client_id());
      break;
    }
    case kvpb::Command::OP_NOT_SET:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "command has no operation");
  }
  for (const auto& [key, value] : fctx.GetServerTrailingMetadata()) {
    ctx->AddTrailingMetadata(std::string(key.data(), key.size()),
                             std::string(value.data(), value.size()));
  }
  return s;
}

grpc::Status KvCore::Get(grpc::ServerContext* ctx, const std::string& key,
                         v1::Consistency consistency, v1::GetResponse* out) {
  if (grpc::Status s = CheckKey(key); !s.ok()) return s;
  grpc::Status status = WaitReadable(ctx, node::ConsistencyOf(consistency));
  if (!status.ok()) return status;
  // The key itself sorts first among the keys it prefixes.
  auto rows = store_->Scan(key, 1);
  if (!rows.ok()) return ToGrpc(rows.status());
  if (rows->empty() || (*rows)[0].key != key) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "key not found");
  }
  out->set_value((*rows)[0].value);
  out->set_revision((*rows)[0].mod_index);
  return grpc::Status::OK;
}

grpc::Status KvCore::WaitReadable(grpc::ServerContext* ctx, node::ReadConsistency consistency) {
  grpc::Status status = RunOnLoop(ctx, [consistency](node::Node& n, auto call) {
    const uint64_t token =
        n.ReadBarrier(consistency, [call](absl::Status ready) { call->Finish(ToGrpc(ready)); });
    call->SetCancel([token](node::Node& n) { n.CancelRead(token); });
  });
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable(status.error_message(), host_->view().leader, ctx);
  }
  return status;
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
// badgerpb.BadgerService: the old API. Values are the old `secrets`.

grpc::Status BadgerServiceImpl::SaveEntries(grpc::ServerContext* ctx,
                                            const badgerpb::SaveEntriesRequest* req,
                                            badgerpb::SaveEntriesResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  resp->set_success(s.ok());
  return s;
}

grpc::Status BadgerServiceImpl::GetEntries(grpc::ServerContext* ctx,
                                           const badgerpb::GetEntriesRequest* req,
                                           badgerpb::GetEntriesResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  v1::Consistency c = v1::LINEARIZABLE;
  if (core_->config().read_mode == ReadMode::kStale) c = v1::STALE;
  if (core_->config().read_mode == ReadMode::kLease) c = v1::LEASE;
  v1::GetResponse got;
  grpc::Status s = core_->Get(ctx, req->id(), c, &got);
  if (!s.ok()) return s;
  resp->set_id(req->id());
  resp->set_data(got.value());
  return s;
}

grpc::Status BadgerServiceImpl::DeleteEntries(grpc::ServerContext* ctx,
                                              const badgerpb::DeleteEntriesRequest* req,
                                              badgerpb::DeleteEntriesResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  resp->set_success(s.ok());  // deleting a missing key succeeds, as it did
  return s;
}

grpc::Status BadgerServiceImpl::UpdateEntries(grpc::ServerContext* ctx,
                                              const badgerpb::UpdateEntriesRequest* req,
                                              badgerpb::UpdateEntriesResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  if (!s.ok()) return s;
  return ToGrpc(node::ResponseFor(*req, result, resp));
}

// ---------------------------------------------------------------------------------------
// raftbadger.v1.KV.

grpc::Status KvServiceImpl::Put(grpc::ServerContext* ctx, const v1::PutRequest* req,
                                v1::PutResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  if (!s.ok()) return s;
  return ToGrpc(node::ResponseFor(*req, result, resp));
}

grpc::Status KvServiceImpl::Get(grpc::ServerContext* ctx, const v1::GetRequest* req,
                                v1::GetResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  return core_->Get(ctx, req->key(), req->consistency(), resp);
}

grpc::Status KvServiceImpl::Delete(grpc::ServerContext* ctx, const v1::DeleteRequest* req,
                                   v1::DeleteResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  if (!s.ok()) return s;
  return ToGrpc(node::ResponseFor(*req, result, resp));
}

grpc::Status KvServiceImpl::CompareAndSwap(grpc::ServerContext* ctx,
                                           const v1::CompareAndSwapRequest* req,
                                           v1::CompareAndSwapResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto cmd = node::CommandFor(*req, core_->limits());
  if (!cmd.ok()) return ToGrpc(cmd.status());
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, *std::move(cmd), &result);
  if (!s.ok()) return s;
  return ToGrpc(node::ResponseFor(*req, result, resp));
}

grpc::Status KvServiceImpl::Range(grpc::ServerContext* ctx, const v1::RangeRequest* req,
                                  v1::RangeResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  if (req->prefix().size() > kMaxKeyBytes) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "prefix longer than a key may be");
  }
  return core_->Range(ctx, *req, resp);
}

grpc::Status KvServiceImpl::RegisterSession(grpc::ServerContext* ctx,
                                            const v1::RegisterSessionRequest* /*req*/,
                                            v1::RegisterSessionResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  // Through the log, like a write: the session exists on every member, and its id (the
  // log index) is unique for the life of the cluster.
  kvpb::CommandResult result;
  grpc::Status s = core_->Write(ctx, node::RegisterSessionCommand(), &result);
  if (s.ok()) resp->set_client_id(result.session_id());
  return s;
}

grpc::Status ClusterServiceImpl::Status(grpc::ServerContext* ctx, const v1::StatusRequest* /*req*/,
                                        v1::StatusResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  return core_->Status(resp);
}

}  // namespace rb::server
