// The simulator's members as clients meet them: encoded raftbadger.v1.KV requests in,
// encoded responses out, through node/kv_api (what server/kv_service does with a request),
// with a follower forwarding writes to its leader across the simulated network, once.
#include <utility>

#include "absl/strings/str_cat.h"
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

}  // namespace

void Simulation::SendAcross(uint64_t from, uint64_t to, std::function<void()> fn) {
  if (links_.cut(from, to) || rng_.Chance(scenario_.drop_per_mille, 1000)) return;
  uint64_t delay = rng_.Range(scenario_.min_delay_us, scenario_.max_delay_us);
  const uint64_t clogged_until = links_.clogged_until(from, to);
  if (clogged_until > now_) delay += clogged_until - now_;
  Schedule(delay,
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
  std::function<absl::Status(const kvpb::CommandResult&, std::string*)> respond;
  switch (method) {
    case KvMethod::kPut: {
      auto req = std::make_shared<v1::PutRequest>();
      const absl::Status decoded = Decode(request, req.get());
      cmd = decoded.ok() ? node::CommandFor(*req, limits) : decoded;
      respond = [req](const kvpb::CommandResult& r, std::string* out) {
        v1::PutResponse resp;
        absl::Status s = node::ResponseFor(*req, r, &resp);
        *out = resp.SerializeAsString();
        return s;
      };
      break;
    }
    case KvMethod::kDelete: {
      auto req = std::make_shared<v1::DeleteRequest>();
      const absl::Status decoded = Decode(request, req.get());
      cmd = decoded.ok() ? node::CommandFor(*req, limits) : decoded;
      respond = [req](const kvpb::CommandResult& r, std::string* out) {
        v1::DeleteResponse resp;
        absl::Status s = node::ResponseFor(*req, r, &resp);
        *out = resp.SerializeAsString();
        return s;
      };
      break;
    }
    case KvMethod::kCas: {
      auto req = std::make_shared<v1::CompareAndSwapRequest>();
      const absl::Status decoded = Decode(request, req.get());
      cmd = decoded.ok() ? node::CommandFor(*req, limits) : decoded;
      respond = [req](const kvpb::CommandResult& r, std::string* out) {
        v1::CompareAndSwapResponse resp;
        absl::Status s = node::ResponseFor(*req, r, &resp);
        *out = resp.SerializeAsString();
        return s;
      };
      break;
    }
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
    case KvMethod::kUpdateEntries: {
      auto req = std::make_shared<badgerpb::UpdateEntriesRequest>();
      const absl::Status decoded = Decode(request, req.get());
      cmd = decoded.ok() ? node::CommandFor(*req, limits) : decoded;
      respond = [req](const kvpb::CommandResult& r, std::string* out) {
        badgerpb::UpdateEntriesResponse resp;
        absl::Status s = node::ResponseFor(*req, r, &resp);
        *out = resp.SerializeAsString();
        return s;
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
  n.node->Write(*std::move(cmd), [reply, respond](absl::StatusOr<kvpb::CommandResult> r) {
    KvReply out;
    out.status = r.ok() ? respond(*r, &out.response) : r.status();
    reply(std::move(out));
  });
}

}  // namespace rb::sim::internal
