#include "client/client.h"

#include <fstream>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "xxhash.h"

namespace rb::client {
namespace {

namespace v1 = raftbadger::v1;

bool Retryable(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::ABORTED;
}

std::string Trailer(const grpc::ClientContext& ctx, const char* name) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(name);
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

Client::Client(ClientOptions options) : options_(std::move(options)) {}

void Client::PrepareCall(grpc::ClientContext* ctx) const {
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  AttachToken(options_.token, ctx);
}

std::shared_ptr<grpc::Channel> Client::Channel(const std::string& address) {
  auto& channel = channels_[address];
  if (channel == nullptr) {
    channel = grpc::CreateChannel(address, options_.credentials != nullptr
                                               ? options_.credentials
                                               : grpc::InsecureChannelCredentials());
  }
  return channel;
}

v1::KV::Stub* Client::Kv(const std::string& address) {
  auto& stub = kv_[address];
  if (stub == nullptr) stub = v1::KV::NewStub(Channel(address));
  return stub.get();
}

v1::Cluster::Stub* Client::ClusterStub(const std::string& address) {
  auto& stub = cluster_[address];
  if (stub == nullptr) stub = v1::Cluster::NewStub(Channel(address));
  return stub.get();
}

std::vector<absl::StatusOr<v1::StatusResponse>> Client::StatusAll() {
  std::vector<absl::StatusOr<v1::StatusResponse>> out;
  for (const std::string& e : options_.endpoints) {
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    v1::StatusResponse resp;
    grpc::Status s = ClusterStub(e)->Status(&ctx, v1::StatusRequest(), &resp);
    if (s.ok()) {
      out.push_back(std::move(resp));
    } else {
      out.push_back(FromGrpc(s));
    }
  }
  return out;
}

absl::StatusOr<std::string> Client::FindLeader() {
  const absl::Time give_up = absl::Now() + options_.total_timeout;
  // Bounded by the total timeout; each round asks every endpoint once.
  while (absl::Now() < give_up) {
    for (const auto& status : StatusAll()) {
      if (status.ok() && !status->leader_address().empty()) {
        leader_ = status->leader_address();
        return leader_;
      }
      // Retrying will not change the credentials: say so now.
      if (absl::IsUnauthenticated(status.status()) || absl::IsPermissionDenied(status.status())) {
        return status.status();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // an election takes time
  }
  return absl::UnavailableError("no endpoint knows a leader");
}

absl::Status Client::EnsureSession() {
  if (client_id_ != 0) return absl::OkStatus();
  absl::Status last = absl::UnavailableError("no endpoint answered");
  for (const std::string& e : options_.endpoints) {
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    v1::RegisterSessionResponse resp;
    grpc::Status s = Kv(e)->RegisterSession(&ctx, v1::RegisterSessionRequest(), &resp);
    if (s.ok()) {
      client_id_ = resp.client_id();
      return absl::OkStatus();
    }
    last = FromGrpc(s);
  }
  return last;
}

std::string Client::Target(int attempt) {
  if (!leader_.empty()) return leader_;
  auto leader = FindLeader();
  return leader.ok() ? *leader : options_.endpoints[attempt % options_.endpoints.size()];
}

void Client::FollowLeader(const grpc::ClientContext& ctx, const std::string& target,
                          absl::Duration* backoff) {
  const std::string named = Trailer(ctx, "rb-leader-address");
  leader_ = named != target ? named : "";
  std::this_thread::sleep_for(absl::ToChronoMilliseconds(*backoff));
  *backoff = std::min(*backoff * 2, absl::Milliseconds(500));
}

absl::Status Client::Write(const WriteFn& fn) {
  if (absl::Status s = EnsureSession(); !s.ok()) return s;
  v1::Session session;
  session.set_client_id(client_id_);
  session.set_seq(++seq_);
  const absl::Time give_up = absl::Now() + options_.total_timeout;
  absl::Duration backoff = absl::Milliseconds(20);
  grpc::Status last;
  bool sent = false;  // an attempt may have reached the leader under this session
  for (int attempt = 0; absl::Now() < give_up; ++attempt) {
    const std::string target = Target(attempt);
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    last = fn(Kv(target), &ctx, session);
    if (Trailer(ctx, "rb-error") == "session-expired") {
      // The cluster forgot this session (idle too long, or too many sessions). A new one
      // is safe only if no earlier attempt could have been applied under the old one.
      client_id_ = 0;
      seq_ = 0;
      if (sent) {
        return absl::AbortedError(
            "the session expired while the write was being retried: it may or may not have "
            "been applied");
      }
      if (absl::Status s = EnsureSession(); !s.ok()) return s;
      session.set_client_id(client_id_);
      session.set_seq(++seq_);
      continue;
    }
    sent = true;
    if (last.ok() || !Retryable(last.error_code())) return FromGrpc(last);
    FollowLeader(ctx, target, &backoff);
  }
  return FromGrpc(last);
}

v1::Admin::Stub* Client::AdminStub(const std::string& address) {
  auto& stub = admin_[address];
  if (stub == nullptr) stub = v1::Admin::NewStub(Channel(address));
  return stub.get();
}

absl::Status Client::AtLeader(const AdminFn& fn) {
  const absl::Time give_up = absl::Now() + options_.total_timeout;
  absl::Duration backoff = absl::Milliseconds(50);
  grpc::Status last(grpc::StatusCode::UNAVAILABLE, "no endpoint answered");
  for (int attempt = 0; absl::Now() < give_up; ++attempt) {
    const std::string target = Target(attempt);
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    last = fn(AdminStub(target), &ctx);
    const grpc::StatusCode code = last.error_code();
    if (last.ok() || (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::ABORTED)) {
      return FromGrpc(last);
    }
    FollowLeader(ctx, target, &backoff);
  }
  return FromGrpc(last);
}

template <typename Request, typename Response>
absl::StatusOr<Response> Client::AdminChange(
    const Request& req,
    grpc::Status (v1::Admin::Stub::*call)(grpc::ClientContext*, const Request&, Response*)) {
  Response resp;
  absl::Status s = AtLeader([&](v1::Admin::Stub* stub, grpc::ClientContext* ctx) {
    return (stub->*call)(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<v1::MemberChangeResponse> Client::MemberAdd(const std::string& name,
                                                           const std::string& address,
                                                           bool unless_removed) {
  v1::MemberAddRequest req;
  req.set_name(name);
  req.set_address(address);
  req.set_unless_removed(unless_removed);
  return AdminChange(req, &v1::Admin::Stub::MemberAdd);
}

absl::StatusOr<v1::MemberChangeResponse> Client::MemberPromote(const std::string& name) {
  v1::MemberPromoteRequest req;
  req.set_name(name);
  return AdminChange(req, &v1::Admin::Stub::MemberPromote);
}

absl::StatusOr<v1::MemberChangeResponse> Client::MemberRemove(const std::string& name) {
  v1::MemberRemoveRequest req;
  req.set_name(name);
  return AdminChange(req, &v1::Admin::Stub::MemberRemove);
}

absl::StatusOr<v1::MemberListResponse> Client::MemberList() {
  return AdminAt("", v1::MemberListRequest(), &v1::Admin::Stub::MemberList);
}

absl::StatusOr<v1::TransferLeaderResponse> Client::TransferLeader(const std::string& name) {
  v1::TransferLeaderRequest req;
  req.set_name(name);
  auto moved = AdminChange(req, &v1::Admin::Stub::TransferLeader);
  if (moved.ok()) leader_.clear();  // it moved
  return moved;
}

absl::StatusOr<v1::BackupHeader> Client::Backup(const std::string& endpoint,
                                                const std::string& out_path) {
  std::string target = endpoint;
  if (target.empty()) {
    auto leader = FindLeader();
    if (!leader.ok()) return leader.status();
    target = *leader;
  }
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out.good()) return absl::InvalidArgumentError(absl::StrCat("cannot write ", out_path));
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.total_timeout));
  AttachToken(options_.token, &ctx);
  auto reader = AdminStub(target)->Backup(&ctx, v1::BackupRequest());
  v1::BackupChunk chunk;
  v1::BackupHeader header;
  XXH3_state_t* hash = XXH3_createState();
  XXH3_64bits_reset(hash);
  uint64_t received = 0;
  bool first = true, last = false;
  uint64_t expected_hash = 0;
  while (reader->Read(&chunk)) {  // bounded by the stream (and its deadline)
    if (first) {
      header = chunk.header();
      first = false;
    }
    XXH3_64bits_update(hash, chunk.data().data(), chunk.data().size());
    out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
    received += chunk.data().size();
    if (chunk.last()) {
      last = true;
      expected_hash = chunk.xxh3();
    }
  }
  const uint64_t digest = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpc(s);
  out.flush();
  if (!out.good()) return absl::InternalError(absl::StrCat("writing ", out_path, " failed"));
  if (!last || received != header.file_bytes() || digest != expected_hash) {
    return absl::DataLossError(absl::StrCat("the backup arrived damaged or cut short (", received,
                                            " of ", header.file_bytes(), " bytes)"));
  }
  return header;
}

// One unary call to the member at endpoint (empty: the leader), without retries.
template <typename Request, typename Response>
absl::StatusOr<Response> Client::AdminAt(const std::string& endpoint, const Request& req,
                                         grpc::Status (v1::Admin::Stub::*call)(grpc::ClientContext*,
                                                                               const Request&,
                                                                               Response*)) {
  std::string target = endpoint;
  if (target.empty()) {
    auto leader = FindLeader();
    if (!leader.ok()) return leader.status();
    target = *leader;
  }
  grpc::ClientContext ctx;
  PrepareCall(&ctx);
  Response resp;
  grpc::Status s = (AdminStub(target)->*call)(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s);
  return resp;
}

absl::StatusOr<v1::SnapshotResponse> Client::Snapshot(const std::string& endpoint) {
  return AdminAt(endpoint, v1::SnapshotRequest(), &v1::Admin::Stub::Snapshot);
}

absl::StatusOr<v1::CompactResponse> Client::Compact(const std::string& endpoint) {
  return AdminAt(endpoint, v1::CompactRequest(), &v1::Admin::Stub::Compact);
}

absl::StatusOr<uint64_t> Client::Put(const std::string& key, const std::string& value) {
  return PutWith(key, value, /*require_existing=*/false);
}

absl::StatusOr<uint64_t> Client::Update(const std::string& key, const std::string& value) {
  return PutWith(key, value, /*require_existing=*/true);
}

absl::StatusOr<uint64_t> Client::PutWith(const std::string& key, const std::string& value,
                                         bool require_existing) {
  v1::PutResponse resp;
  absl::Status s =
      Write([&](v1::KV::Stub* stub, grpc::ClientContext* ctx, const v1::Session& session) {
        v1::PutRequest req;
        req.set_key(key);
        req.set_value(value);
        req.set_require_existing(require_existing);
        *req.mutable_session() = session;
        return stub->Put(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  return resp.revision();
}

absl::StatusOr<bool> Client::Delete(const std::string& key) {
  v1::DeleteResponse resp;
  absl::Status s =
      Write([&](v1::KV::Stub* stub, grpc::ClientContext* ctx, const v1::Session& session) {
        v1::DeleteRequest req;
        req.set_key(key);
        *req.mutable_session() = session;
        return stub->Delete(ctx, req, &resp);
      });
  if (!s.ok()) return s;
  return resp.existed();
}

absl::StatusOr<CasResult> Client::CompareAndSwap(const std::string& key,
                                                 const std::optional<std::string>& expected,
                                                 const std::string& value) {
  v1::CompareAndSwapResponse resp;
  absl::Status s =
      Write([&](v1::KV::Stub* stub, grpc::ClientContext* ctx, const v1::Session& session) {
        v1::CompareAndSwapRequest req;
        req.set_key(key);
        if (expected) {
          req.set_expected_value(*expected);
        } else {
          req.set_expect_absent(true);
        }
        req.set_value(value);
        *req.mutable_session() = session;
        return stub->CompareAndSwap(ctx, req, &resp);
      });
  if (!s.ok() && !absl::IsFailedPrecondition(s)) return s;
  return CasResult{resp.swapped(), resp.revision()};
}

absl::StatusOr<ReadResult> Client::Get(const std::string& key, v1::Consistency consistency,
                                       const std::string& endpoint) {
  const absl::Time give_up = absl::Now() + options_.total_timeout;
  grpc::Status last;
  // Bounded by the total timeout.
  while (absl::Now() < give_up) {
    std::string target = endpoint;
    if (target.empty()) {
      auto leader = leader_.empty() ? FindLeader() : absl::StatusOr<std::string>(leader_);
      if (!leader.ok()) return leader.status();
      target = *leader;
    }
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    v1::GetRequest req;
    req.set_key(key);
    req.set_consistency(consistency);
    v1::GetResponse resp;
    last = Kv(target)->Get(&ctx, req, &resp);
    if (last.ok()) return ReadResult{resp.value(), resp.revision()};
    if (!Retryable(last.error_code())) break;
    if (endpoint.empty()) leader_.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return FromGrpc(last);
}

absl::StatusOr<std::vector<v1::KeyValue>> Client::List(const std::string& prefix, uint32_t limit) {
  std::vector<v1::KeyValue> out;
  std::string token;
  // Bounded: each page moves the token forward, and we stop at `limit` rows.
  for (int page = 0; page < 1'000'000; ++page) {
    auto leader = leader_.empty() ? FindLeader() : absl::StatusOr<std::string>(leader_);
    if (!leader.ok()) return leader.status();
    grpc::ClientContext ctx;
    PrepareCall(&ctx);
    v1::RangeRequest req;
    req.set_prefix(prefix);
    req.set_limit(std::min<uint32_t>(limit - out.size(), 1000));
    req.set_page_token(token);
    v1::RangeResponse resp;
    grpc::Status s = Kv(*leader)->Range(&ctx, req, &resp);
    if (!s.ok()) return FromGrpc(s);
    for (auto& kv : *resp.mutable_kvs()) out.push_back(std::move(kv));
    token = resp.next_page_token();
    if (token.empty() || out.size() >= limit) break;
  }
  return out;
}

}  // namespace rb::client
