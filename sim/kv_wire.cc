// The simulator's members as clients meet them: encoded raftbadger.v1.KV requests in,
// encoded responses out, through node/kv_api (what server/kv_service does with a request),
// with a follower forwarding writes to its leader across the simulated network, once.
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "node/kv_api.h"
#include "sim/cluster.h"

namespace rb::sim::internal {

namespace v1 = raftbadger::v1;

namespace {

// Parses `bytes` as a T, or says why not.
template <typename T>
absl::Status Decode(const std::string& bytes, T* out) {
  if (out->ParseFromString(bytes)) return absl::OkStatus();
  return absl::InvalidArgumentError("the request does not parse");
}

using Respond = std::function<absl::Status(const kvpb::CommandResult&, std::string*)>;

// A write request the server maps with node::CommandFor and answers with node::ResponseFor:
// its command (or why there is none), and how to encode the answer to it.
template <typename Request, typename Response>
absl::StatusOr<kvpb::Command> DecodeWrite(const std::string& bytes, const node::KvLimits& limits,
                                          Respond* respond) {
  auto req = std::make_shared<Request>();
  RETURN_IF_ERROR(Decode(bytes, req.get()));
  *respond = [req](const kvpb::CommandResult& r, std::string* out) {
    Response resp;
    absl::Status s = node::ResponseFor(*req, r, &resp);
    *out = resp.SerializeAsString();
    return s;
  };
  return node::CommandFor(*req, limits);
}

}  // namespace

void Simulation::SendAcross(uint64_t from, uint64_t to, std::function<void()> fn) {
  const std::optional<uint64_t> delay = LinkDelayUs(from, to);
  if (!delay) return;
  Schedule(*delay,
           [this, from, to, fn = std::move(fn)]() mutable { Arrive(from, to, std::move(fn)); });
}

void Simulation::Arrive(uint64_t from, uint64_t to, std::function<void()> fn) {
  SimNode& n = NodeById(to);
  if (n.node == nullptr) return;  // down: lost
  if (n.paused(now_)) {
    Schedule(n.paused_until - now_ + ResumeJitterUs(n, from),
             [this, from, to, fn = std::move(fn)]() mutable { Arrive(from, to, std::move(fn)); });
    return;
  }
  fn();
}

void Simulation::OpenClientBatch(SimNode& n) {
  if (scenario_.client_batch_us == 0 || n.client_batch_open) return;
  n.client_batch_open = true;
  n.node->BeginBatch();
  Schedule(scenario_.client_batch_us,
           [this, id = n.id, incarnation = n.incarnation] { CloseClientBatch(id, incarnation); });
}

void Simulation::CloseClientBatch(uint64_t id, uint64_t incarnation) {
  SimNode& n = NodeById(id);
  // A crash ended the batch with the process.
  if (n.incarnation != incarnation || n.node == nullptr || !n.client_batch_open) return;
  if (n.paused(now_)) {  // a stopped process ends its round once it runs again
    Schedule(n.paused_until - now_, [this, id, incarnation] { CloseClientBatch(id, incarnation); });
    return;
  }
  n.client_batch_open = false;
  n.node->EndBatch();
}

void Simulation::ServeKv(uint64_t id, KvMethod method, std::string request, bool forwarded,
                         KvReplyFn reply) {
  SimNode& n = NodeById(id);
  if (n.node == nullptr) return;  // no answer: the client's attempt times out
  const node::KvLimits limits;
  if (method == KvMethod::kGet) {
    v1::GetRequest req;
    absl::Status valid = Decode(request, &req);
    if (valid.ok()) valid = node::ValidateGet(req, limits);
    if (!valid.ok()) {
      reply(KvReply{valid});
      return;
    }
    const uint64_t lease_reads = n.node->counters().lease_reads;
    OpenClientBatch(n);
    n.node->Read(req.key(), node::ConsistencyOf(req.consistency()),
                 [this, id, reply](absl::StatusOr<std::optional<std::string>> r) {
                   KvReply out;
                   out.served_at_index = NodeById(id).store()->applied_index();
                   if (!r.ok()) {
                     out.status = r.status();
                   } else if (!r->has_value()) {
                     out.status = absl::NotFoundError("key not found");
                   } else {
                     v1::GetResponse resp;
                     resp.set_value(**r);
                     out.response = resp.SerializeAsString();
                   }
                   reply(std::move(out));
                 });
    if (n.node != nullptr) result_.lease_reads += n.node->counters().lease_reads - lease_reads;
    return;
  }
  // A write: decoded and checked as the server does, then proposed (or forwarded).
  absl::StatusOr<kvpb::Command> cmd = absl::InvalidArgumentError("unknown method");
  Respond respond;
  switch (method) {
    case KvMethod::kPut:
      cmd = DecodeWrite<v1::PutRequest, v1::PutResponse>(request, limits, &respond);
      break;
    case KvMethod::kDelete:
      cmd = DecodeWrite<v1::DeleteRequest, v1::DeleteResponse>(request, limits, &respond);
      break;
    case KvMethod::kCas:
      cmd = DecodeWrite<v1::CompareAndSwapRequest, v1::CompareAndSwapResponse>(request, limits,
                                                                               &respond);
      break;
    case KvMethod::kUpdateEntries:
      cmd = DecodeWrite<badgerpb::UpdateEntriesRequest, badgerpb::UpdateEntriesResponse>(
          request, limits, &respond);
      break;
    case KvMethod::kSaveEntries: {
      badgerpb::SaveEntriesRequest req;
      const absl::Status decoded = Decode(request, &req);
      cmd = decoded.ok() ? node::CommandFor(req, limits) : decoded;
      respond = [](const kvpb::CommandResult&, std::string* out) {
        badgerpb::SaveEntriesResponse resp;
        resp.set_success(true);
        *out = resp.SerializeAsString();
        return absl::OkStatus();
      };
      break;
    }
    case KvMethod::kRegisterSession: {
      v1::RegisterSessionRequest req;
      const absl::Status decoded = Decode(request, &req);
      cmd = decoded.ok() ? absl::StatusOr<kvpb::Command>(node::RegisterSessionCommand()) : decoded;
      respond = [](const kvpb::CommandResult& r, std::string* out) {
        v1::RegisterSessionResponse resp;
        resp.set_client_id(r.session_id());
        *out = resp.SerializeAsString();
        return absl::OkStatus();
      };
      break;
    }
    case KvMethod::kGet:
      break;
  }
  if (!cmd.ok()) {
    reply(KvReply{cmd.status()});
    return;
  }
  // Without a session, a unique seq tells this attempt's answer apart while it waits.
  if (cmd->client_id() == 0) cmd->set_seq(++sessionless_seq_);
  const uint64_t leader = n.node->leader();
  if (!n.node->is_leader() && leader != raft::kNone && !forwarded) {
    // Forwarded once, as the server forwards (the leader does not forward again).
    ++result_.forwarded_writes;
    SendAcross(id, leader,
               [this, id, leader, method, request = std::move(request), reply]() mutable {
                 ServeKv(leader, method, std::move(request), /*forwarded=*/true,
                         [this, id, leader, reply](KvReply answer) {
                           SendAcross(leader, id, [reply, answer = std::move(answer)]() mutable {
                             reply(std::move(answer));
                           });
                         });
               });
    return;
  }
  OpenClientBatch(n);
  n.node->Write(*std::move(cmd), [reply, respond](absl::StatusOr<kvpb::CommandResult> r) {
    KvReply out;
    out.status = r.ok() ? respond(*r, &out.response) : r.status();
    reply(std::move(out));
  });
}

}  // namespace rb::sim::internal
