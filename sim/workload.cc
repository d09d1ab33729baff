#include <utility>

#include "absl/strings/str_cat.h"
#include "sim/cluster.h"

namespace rb::sim::internal {

SimNode* Simulation::PickNode(Client* c) {
  auto it = nodes_.find(c->preferred);
  if (it != nodes_.end() && it->second.node != nullptr && rng_.Chance(9, 10)) return &it->second;
  std::vector<SimNode*> up;
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr) up.push_back(&n);
  }
  if (up.empty()) return nullptr;
  return up[rng_.Uniform(up.size())];
}

void Simulation::ClientNext(Client* c) {
  if (now_ + kOpTimeoutUs > end_us_) return;  // no new operations that cannot finish
  Operation op;
  op.client = c->id;
  op.key = absl::StrCat("k", rng_.Uniform(kKeys));
  op.call_us = now_;
  const uint64_t kind = rng_.Uniform(10);
  op.kind = kind < 3   ? OpKind::kGet
            : kind < 6 ? OpKind::kPut
            : kind < 8 ? OpKind::kCas
                       : OpKind::kDelete;
  c->command.Clear();
  c->command.set_client_id(c->id);
  c->command.set_seq(++c->seq);
  op.value = absl::StrCat("c", c->id, "-", c->seq);
  switch (op.kind) {
    case OpKind::kPut:
      c->command.mutable_put()->set_key(op.key);
      c->command.mutable_put()->set_value(op.value);
      break;
    case OpKind::kDelete:
      c->command.mutable_delete_()->set_key(op.key);
      break;
    case OpKind::kCas: {
      // Expect a value some client may have written, or absence.
      if (!rng_.Chance(1, 4)) {
        op.expected = absl::StrCat("c", 1 + rng_.Uniform(clients_.size()), "-",
                                   1 + rng_.Uniform(std::max<uint64_t>(c->seq, 1)));
      }
      auto* cas = c->command.mutable_cas();
      cas->set_key(op.key);
      cas->set_expect_absent(!op.expected.has_value());
      if (op.expected) cas->set_expected(*op.expected);
      cas->set_value(op.value);
      break;
    }
    case OpKind::kGet:
      break;
  }
  c->op = static_cast<int>(result_.history.size());
  result_.history.push_back(std::move(op));
  const uint64_t attempt = ++c->attempt;
  const int op_index = c->op;
  Schedule(kOpTimeoutUs, [this, c, attempt, op_index] {
    if (c->op != op_index) return;
    ++result_.ops_timed_out;
    if (healed_ && result_.history[op_index].call_us > healed_at_ + kLivenessBoundUs) {
      Fail(absl::StrCat("client ", c->id, "'s request timed out after the cluster was healed"));
    }
    Trace(10, c->id, attempt, 0, [&] { return absl::StrCat("client ", c->id, " times out"); });
    c->op = -1;
    ++c->attempt;
    Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
  });
  ClientAttempt(c);
}

void Simulation::ClientAttempt(Client* c) {
  if (c->op < 0) return;
  const uint64_t attempt = ++c->attempt;
  SimNode* n = PickNode(c);
  if (n == nullptr) {
    Schedule(50'000, [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Operation& op = result_.history[c->op];
  if (n->paused(now_)) {
    // The request sits unread; the attempt timeout retries elsewhere.
    Schedule(kAttemptTimeoutUs, [this, c, attempt] { ClientRetry(c, attempt); });
    return;
  }
  Trace(11, c->id, n->id, static_cast<uint64_t>(op.kind), [&] {
    return absl::StrCat("client ", c->id, " sends ", OpKindName(op.kind), " ", op.key, " (seq ",
                        c->seq, ") to node ", n->id);
  });
  // An attempt that hears nothing (the node crashed, the request was lost) is retried.
  Schedule(kAttemptTimeoutUs, [this, c, attempt] { ClientRetry(c, attempt); });
  if (op.kind == OpKind::kGet) {
    n->node->Read(op.key, node::ReadConsistency::kLinearizable,
                  [this, c, attempt](absl::StatusOr<std::optional<std::string>> r) {
                    ClientDone(c, attempt, r.status(), [&](Operation* o) {
                      if (r.ok()) o->read = *r;
                    });
                  });
  } else {
    n->node->Write(c->command, [this, c, attempt](absl::StatusOr<kvpb::CommandResult> r) {
      ClientDone(c, attempt, r.status(), [&](Operation* o) {
        if (!r.ok()) return;
        o->flag = o->kind == OpKind::kCas ? r->swapped() : r->existed();
      });
    });
  }
  if (!n->node->is_leader()) c->preferred = n->node->leader();  // the hint, or none
}

void Simulation::ClientDone(Client* c, uint64_t attempt, const absl::Status& status,
                            const std::function<void(Operation*)>& record) {
  if (attempt != c->attempt || c->op < 0) return;  // a stale attempt
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
  c->op = -1;
  ++c->attempt;
  Schedule(rng_.Range(0, 20'000), [this, c] { ClientNext(c); });
}

void Simulation::ClientRetry(Client* c, uint64_t attempt) {
  if (attempt != c->attempt || c->op < 0) return;
  ClientAttempt(c);  // PickNode still prefers the last leader hint, when that node is up
}

}  // namespace rb::sim::internal
