#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/badger.pb.h"
#include "proto/raftbadger.pb.h"
#include "sim/cluster.h"

namespace rb::sim::internal {

SimNode* Simulation::PickNode(Client* c, bool read) {
  // Writes go to the leader the client last heard of; reads, like the old service's client,
  // as often to any node (followers serve them too, and a deposed leader may think it can).
  auto it = nodes_.find(c->preferred);
  if (it != nodes_.end() && it->second.node != nullptr &&
      (read ? read_mode_rng_.Chance(1, 2) : rng_.Chance(9, 10))) {
    return &it->second;
  }
  std::vector<SimNode*> up;
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr) up.push_back(&n);
  }
  if (up.empty()) return nullptr;
  return up[rng_.Uniform(up.size())];
}

void Simulation::ReadSpell() {
  if (now_ >= options_.fault_phase_us) return;
  read_spell_until_us_ =
      now_ + spell_rng_.Range(2 * kElectionTicks * kTickUs, 20 * kElectionTicks * kTickUs);
  const uint64_t until = read_spell_until_us_;
  Trace(33, 0, until, 0, [&] { return absl::StrCat("clients only read until ", until, "us"); });
  Schedule(spell_rng_.Range(scenario_.read_spell_interval_us / 2,
                            scenario_.read_spell_interval_us * 3 / 2) +
               (until - now_),
           [this] { ReadSpell(); });
}

std::string Simulation::ClientValue(uint64_t id, uint64_t seq) const {
  std::string value = absl::StrCat("c", id, "-", seq);
  if (scenario_.large_values && seq % 3 == 0) {
    // 600 to 4,199 bytes: past storage::kMaxInlineValueBytes (512), and sizes that differ,
    // so that a key's value moves between the store's tables and changes size in them.
    value.append(600 + (id * 7919 + seq * 131) % 3600, static_cast<char>('a' + seq % 26));
  }
  return value;
}

void Simulation::ClientNext(Client* c) {
  if (now_ + kOpTimeoutUs > end_us_) return;  // no new operations that cannot finish
  // Now and then a client goes away and a new one comes: its session is left to expire.
  // (Not in a read-only spell: registering is a write.)
  if (c->session != 0 && rng_.Chance(1, 50) && !in_read_spell()) c->session = 0;
  if (c->session == 0) {
    ClientRegister(c);
    return;
  }
  Operation op;
  op.client = c->id;
  op.key = absl::StrCat("k", rng_.Uniform(kKeys));
  op.call_us = now_;
  const uint64_t kind = rng_.Uniform(10);
  op.kind = kind < 3   ? OpKind::kGet
            : kind < 6 ? OpKind::kPut
            : kind < 8 ? OpKind::kCas
            : kind < 9 ? OpKind::kDelete
                       : OpKind::kUpdate;
  // Some writes use the old service's API, as its existing clients do: no session.
  // (Its DeleteEntries says nothing of whether the key existed, which the history records.)
  op.old_api =
      (op.kind == OpKind::kPut || op.kind == OpKind::kUpdate) && read_mode_rng_.Chance(1, 4);
  op.value = ClientValue(c->id, ++c->seq);
  switch (op.kind) {
    case OpKind::kCas:
      // Expect a value some client may have written, or absence.
      if (!rng_.Chance(1, 4)) {
        const uint64_t id = 1000 + rng_.Uniform(clients_.size());
        op.expected = ClientValue(id, 1 + rng_.Uniform(std::max<uint64_t>(c->seq, 1)));
      }
      break;
    case OpKind::kGet: {
      const uint64_t mode = read_mode_rng_.Uniform(10);
      op.read_mode = mode < 5   ? ReadMode::kLinearizable
                     : mode < 8 ? ReadMode::kLease
                                : ReadMode::kStale;
      break;
    }
    default:
      break;
  }
  if (in_read_spell() && op.kind != OpKind::kGet) {
    // The draws above are made anyway, so a spell moves no other draw of the workload.
    const uint64_t mode = spell_rng_.Uniform(10);
    op = Operation{};
    op.client = c->id;
    op.key = absl::StrCat("k", spell_rng_.Uniform(kKeys));
    op.call_us = now_;
    op.kind = OpKind::kGet;
    op.read_mode = mode < 3   ? ReadMode::kLinearizable
                   : mode < 8 ? ReadMode::kLease
                              : ReadMode::kStale;
  }
  c->op = static_cast<int>(result_.history.size());
  c->sent = false;
  result_.history.push_back(std::move(op));
  const uint64_t attempt = ++c->attempt;
  const int op_index = c->op;
  Schedule(kOpTimeoutUs, [this, c, attempt, op_index] {
    if (c->op != op_index) return;
    ++result_.ops_timed_out;
    if (healed_ && result_.history[op_index].call_us > healed_at_ + kLivenessBoundUs) {
      Fail("liveness",
           absl::StrCat("client ", c->id, "'s request timed out after the cluster was healed"));
    }
    Trace(10, c->id, attempt, 0, [&] { return absl::StrCat("client ", c->id, " times out"); });
    EndOperation(c);  // outcome unknown: the history keeps the call, no return
  });
  ClientAttempt(c);
}

void Simulation::ClientAttempt(Client* c) {
  if (c->op < 0) return;
  const uint64_t attempt = ++c->attempt;
  SimNode* n = PickNode(c, result_.history[c->op].kind == OpKind::kGet);
  if (n == nullptr) {
    Schedule(50'000, [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  // An attempt that hears nothing (the node crashed or is stopped, the request was lost)
  // is retried.
  Schedule(kAttemptTimeoutUs, [this, c, attempt] {
    // No answer: the node it hoped led may be down or stopped; look elsewhere.
    if (attempt == c->attempt && c->op >= 0) c->preferred = 0;
    ClientRetry(c, attempt);
  });
  if (n->paused(now_)) {
    // The request waits in the stopped process's socket: it is read on resume, perhaps
    // before the news that arrived meanwhile (a stale leader's lease read).
    const uint64_t id = n->id;
    Schedule(n->paused_until - now_ + ResumeJitterUs(*n, c->id),
             [this, c, attempt, id] { ClientSend(c, attempt, id); });
    return;
  }
  ClientSend(c, attempt, n->id);
}

void Simulation::ClientSend(Client* c, uint64_t attempt, uint64_t id) {
  if (attempt != c->attempt || c->op < 0) return;
  SimNode* n = &NodeById(id);
  if (n->node == nullptr || n->paused(now_)) return;  // the attempt timeout retries
  Operation& op = result_.history[c->op];
  Trace(11, c->id, n->id, static_cast<uint64_t>(op.kind), [&] {
    return absl::StrCat("client ", c->id, " sends ", OpKindName(op.kind), " ", op.key, " (seq ",
                        c->seq, ") to node ", n->id);
  });
  auto [method, request] = EncodeRequest(*c, op);
  const int op_index = c->op;
  c->sent = true;
  ServeKv(n->id, method, std::move(request), /*forwarded=*/false,
          [this, c, attempt, op_index, id = n->id](KvReply reply) {
            if (attempt != c->attempt || c->op != op_index) return;  // a stale attempt
            absl::Status status = reply.status;
            Operation& op = result_.history[op_index];
            // What the call's status and response say happened.
            std::optional<std::string> read;
            bool flag = false;
            if (op.kind == OpKind::kGet && status.code() == absl::StatusCode::kNotFound) {
              status = absl::OkStatus();  // read: absent
            } else if (op.kind == OpKind::kUpdate && status.code() == absl::StatusCode::kNotFound) {
              status = absl::OkStatus();  // the key was missing: nothing written
              flag = false;
            } else if (op.kind == OpKind::kCas && !node::IsSessionExpired(status) &&
                       status.code() == absl::StatusCode::kFailedPrecondition) {
              // The comparison failed, if the response says where (an answer, not an error).
              raftbadger::v1::CompareAndSwapResponse resp;
              if (resp.ParseFromString(reply.response) && resp.revision() > 0 && !resp.swapped()) {
                status = absl::OkStatus();
              }
            } else if (status.ok()) {
              status = DecodeResponse(op, reply.response, &read, &flag);
            }
            ClientDone(c, attempt, status, [&](Operation* o) {
              o->read = std::move(read);
              o->flag = flag;
              if (o->kind != OpKind::kGet || o->read_mode != ReadMode::kStale) return;
              // Never older than what this node showed this client before.
              uint64_t& seen = c->stale_index_seen[id];
              if (reply.served_at_index < seen) {
                Fail("stale reads",
                     absl::StrCat("client ", c->id, "'s stale read of ", o->key, " on node ", id,
                                  " was served at applied index ", reply.served_at_index,
                                  ", older than the ", seen, " it read there before"));
              }
              seen = std::max(seen, reply.served_at_index);
              if (model_lost_) {
                ++result_.stale_reads_unchecked;
                return;
              }
              stale_reads_.emplace(reply.served_at_index, StaleRead{op_index, id});
              CheckStaleReads();
            });
          });
  if (n->node == nullptr) return;
  if (!n->node->is_leader()) c->preferred = n->node->leader();  // the hint, or none
}

std::pair<KvMethod, std::string> Simulation::EncodeRequest(const Client& c,
                                                           const Operation& op) const {
  namespace v1 = raftbadger::v1;
  // The seq of the operation: c.seq counts every operation of the client.
  const uint64_t seq = c.seq;
  auto session = [&](v1::Session* s) {
    s->set_client_id(c.session);
    s->set_seq(seq);
  };
  switch (op.kind) {
    case OpKind::kGet: {
      v1::GetRequest req;
      req.set_key(op.key);
      req.set_consistency(op.read_mode == ReadMode::kStale   ? v1::STALE
                          : op.read_mode == ReadMode::kLease ? v1::LEASE
                                                             : v1::LINEARIZABLE);
      return {KvMethod::kGet, req.SerializeAsString()};
    }
    case OpKind::kPut:
    case OpKind::kUpdate: {
      if (op.old_api && op.kind == OpKind::kPut) {
        badgerpb::SaveEntriesRequest req;
        req.set_id(op.key);
        req.set_secrets(op.value);
        return {KvMethod::kSaveEntries, req.SerializeAsString()};
      }
      if (op.old_api) {
        badgerpb::UpdateEntriesRequest req;
        req.set_id(op.key);
        req.set_secrets(op.value);
        return {KvMethod::kUpdateEntries, req.SerializeAsString()};
      }
      v1::PutRequest req;
      req.set_key(op.key);
      req.set_value(op.value);
      req.set_require_existing(op.kind == OpKind::kUpdate);
      session(req.mutable_session());
      return {KvMethod::kPut, req.SerializeAsString()};
    }
    case OpKind::kDelete: {
      v1::DeleteRequest req;
      req.set_key(op.key);
      session(req.mutable_session());
      return {KvMethod::kDelete, req.SerializeAsString()};
    }
    case OpKind::kCas: {
      v1::CompareAndSwapRequest req;
      req.set_key(op.key);
      if (op.expected) {
        req.set_expected_value(*op.expected);
      } else {
        req.set_expect_absent(true);
      }
      req.set_value(op.value);
      session(req.mutable_session());
      return {KvMethod::kCas, req.SerializeAsString()};
    }
  }
  RB_CHECK(false, "unknown operation kind");
  return {};
}

absl::Status Simulation::DecodeResponse(const Operation& op, const std::string& bytes,
                                        std::optional<std::string>* read, bool* flag) {
  namespace v1 = raftbadger::v1;
  bool parsed = false;
  if (op.old_api) {  // badgerpb: SaveEntries or UpdateEntries
    badgerpb::SaveEntriesResponse save;
    badgerpb::UpdateEntriesResponse update;
    parsed = op.kind == OpKind::kPut ? save.ParseFromString(bytes) && save.success()
                                     : update.ParseFromString(bytes) && update.success();
    *flag = op.kind == OpKind::kUpdate;  // OK: the key existed and was written
    return parsed ? absl::OkStatus() : absl::InternalError("the response does not parse");
  }
  switch (op.kind) {
    case OpKind::kGet: {
      v1::GetResponse resp;
      parsed = resp.ParseFromString(bytes);
      *read = resp.value();
      break;
    }
    case OpKind::kPut:
    case OpKind::kUpdate: {
      v1::PutResponse resp;
      parsed = resp.ParseFromString(bytes);
      *flag = op.kind == OpKind::kUpdate;  // OK: the key existed and was written
      break;
    }
    case OpKind::kDelete: {
      v1::DeleteResponse resp;
      parsed = resp.ParseFromString(bytes);
      *flag = resp.existed();
      break;
    }
    case OpKind::kCas: {
      v1::CompareAndSwapResponse resp;
      parsed = resp.ParseFromString(bytes);
      *flag = resp.swapped();
      break;
    }
  }
  return parsed ? absl::OkStatus() : absl::InternalError("the response does not parse");
}

void Simulation::ClientRegister(Client* c) {
  const uint64_t attempt = ++c->attempt;
  auto retry = [this, c, attempt] {
    if (attempt == c->attempt && c->op < 0 && c->session == 0) ClientNext(c);
  };
  SimNode* n = PickNode(c, /*read=*/false);
  if (n == nullptr || n->paused(now_)) {
    Schedule(50'000, retry);
    return;
  }
  Schedule(kAttemptTimeoutUs, retry);
  Trace(16, c->id, n->id, 0,
        [&] { return absl::StrCat("client ", c->id, " registers a session on node ", n->id); });
  ServeKv(
      n->id, KvMethod::kRegisterSession,
      raftbadger::v1::RegisterSessionRequest().SerializeAsString(),
      /*forwarded=*/false, [this, c, attempt](KvReply reply) {
        if (attempt != c->attempt || c->op >= 0 || c->session != 0) return;
        ++c->attempt;
        raftbadger::v1::RegisterSessionResponse resp;
        if (!reply.status.ok() || !resp.ParseFromString(reply.response) || resp.client_id() == 0) {
          Schedule(rng_.Range(5'000, 50'000), [this, c] { ClientNext(c); });
          return;
        }
        c->session = resp.client_id();
        ++result_.sessions_registered;
        Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
      });
  if (n->node != nullptr && !n->node->is_leader()) c->preferred = n->node->leader();
}

void Simulation::ClientDone(Client* c, uint64_t attempt, const absl::Status& status,
                            const std::function<void(Operation*)>& record) {
  if (attempt != c->attempt || c->op < 0) return;  // a stale attempt
  if (node::IsSessionExpired(status)) {
    // An earlier attempt may have been applied before the session expired: the outcome is
    // unknown, as after a timeout. The client starts over with a new session.
    ++result_.sessions_expired;
    Trace(12, c->id, c->seq, 1,
          [&] { return absl::StrCat("client ", c->id, "'s session expired"); });
    c->op = -1;
    c->session = 0;
    ++c->attempt;
    Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
    return;
  }
  if (!status.ok() && result_.history[c->op].old_api) {
    EndOperation(c);  // outcome unknown: without a session, a retry could apply it twice
    return;
  }
  if (!status.ok()) {
    // Retry the same command (same seq): sessions make a repeat harmless.
    Schedule(rng_.Range(5'000, 50'000), [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Operation& op = result_.history[c->op];
  record(&op);
  op.completed = true;
  op.return_us = now_;
  ++result_.ops_completed;
  Trace(12, c->id, c->seq, 0, [&] {
    return absl::StrCat("client ", c->id, " done: ", OpKindName(op.kind), " ", op.key);
  });
  EndOperation(c);
}

void Simulation::EndOperation(Client* c) {
  c->op = -1;
  ++c->attempt;
  Schedule(rng_.Range(0, 20'000) + options_.client_think_us, [this, c] { ClientNext(c); });
}

void Simulation::ClientRetry(Client* c, uint64_t attempt) {
  if (attempt != c->attempt || c->op < 0) return;
  if (c->sent && result_.history[c->op].old_api) {
    EndOperation(c);  // outcome unknown: at most once, one attempt only
    return;
  }
  ClientAttempt(c);  // PickNode still prefers the last leader hint, when that node is up
}

}  // namespace rb::sim::internal
