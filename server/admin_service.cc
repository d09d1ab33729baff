#include "server/admin_service.h"

#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "node/member_directory.h"
#include "server/bootstrap.h"
#include "server/config.h"
#include "server/identity.h"
#include "storage/snapshot_file.h"
#include "xxhash.h"

namespace rb::server {
namespace {

namespace v1 = raftbadger::v1;

bool InConf(const raft::ConfState& cs, uint64_t id) {
  for (const auto* ids : {&cs.voters, &cs.learners, &cs.voters_outgoing, &cs.learners_next}) {
    for (uint64_t x : *ids) {
      if (x == id) return true;
    }
  }
  return false;
}

bool IsVoter(const raft::ConfState& cs, uint64_t id) {
  for (uint64_t x : cs.voters) {
    if (x == id) return true;
  }
  return false;
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(KvCore* core, NodeHost* host, AddressBook* book,
                                   const std::atomic<uint64_t>* cluster_id,
                                   uint64_t promote_lag_entries, std::string snapshot_dir)
    : core_(core),
      host_(host),
      book_(book),
      cluster_id_(cluster_id),
      promote_lag_entries_(promote_lag_entries),
      snapshot_dir_(std::move(snapshot_dir)) {}

absl::StatusOr<uint64_t> AdminServiceImpl::IdOf(const std::string& name) const {
  if (!ValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is not a node name (1 to 64 letters, digits, - _ .)"));
  }
  const uint64_t id = RaftIdForName(name);
  if (auto known = book_->Find(id); known && known->name != name) {
    return absl::AlreadyExistsError(absl::StrCat("node names ", known->name, " and ", name,
                                                 " map to one Raft id; choose another name"));
  }
  return id;
}

grpc::Status AdminServiceImpl::MemberList(grpc::ServerContext* ctx, const v1::MemberListRequest*,
                                          v1::MemberListResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  const NodeView v = host_->view();
  FillMembers(v, *book_, resp->mutable_members());
  if (v.leader != 0) resp->set_leader_name(book_->NameOf(v.leader));
  resp->set_cluster_id(cluster_id_->load());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Propose(grpc::ServerContext* ctx, const Planner& plan,
                                       Proposal* proposal) {
  auto decided = std::make_shared<Proposal>();
  grpc::Status status = core_->RunOnLoop(ctx, [plan, decided](node::Node& n, auto call) {
    if (!n.is_leader()) {
      decided->redirect = n.leader();
      call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"));
      return;
    }
    const raft::Raft& r = n.raw().raft();
    const uint64_t applied = r.log().applied();
    if (r.pending_conf_index() > applied) {
      call->Finish(
          grpc::Status(grpc::StatusCode::ABORTED,
                       absl::StrCat("another membership change (index ", r.pending_conf_index(),
                                    ") is not applied yet; retry once it is")));
      return;
    }
    absl::StatusOr<raft::ConfChange> cc = plan(n, decided.get());
    if (!cc.ok()) {
      call->Finish(ToGrpc(cc.status()));
      return;
    }
    if (decided->already || decided->handed_to != 0 || decided->removed_at != 0) {
      call->Finish(grpc::Status::OK);
      return;
    }
    if (absl::Status s = n.ProposeConfChange(*cc); !s.ok()) {
      call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                absl::StrCat("the leader refused the change: ", s.message())));
      return;
    }
    // The core records the index of the change it appended; a change it turned into an
    // empty entry (one was pending after all) leaves the index where it was.
    if (r.pending_conf_index() <= applied) {
      call->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                                "another membership change is pending; retry once it is applied"));
      return;
    }
    decided->index = r.pending_conf_index();
    call->Finish(grpc::Status::OK);
  });
  // Past the deadline the loop may still be filling `decided` (its copy keeps it alive):
  // read it only once the call finished, or was never posted.
  if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) *proposal = *decided;
  return status;
}

grpc::Status AdminServiceImpl::Change(grpc::ServerContext* ctx, const Planner& plan,
                                      const std::function<bool(const raft::ConfState&)>& shows,
                                      v1::MemberChangeResponse* resp) {
  Proposal p;
  grpc::Status status = Propose(ctx, plan, &p);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && p.redirect != 0) {
    return core_->Unavailable(
        absl::StrCat("not the leader; the leader is ", book_->NameOf(p.redirect)), p.redirect, ctx);
  }
  if (!status.ok()) return status;
  const absl::Time deadline = core_->Deadline(ctx);
  NodeView v;
  if (p.handed_to != 0) {
    // Removing the leader: once another leads, the client retries the removal there.
    host_->AwaitView([](const NodeView& w) { return w.leader != 0 && w.leader != w.id; }, deadline,
                     &v);
    const uint64_t leader = v.leader != v.id ? v.leader : p.handed_to;
    return core_->Unavailable(absl::StrCat("this node led; leadership was handed to ",
                                           book_->NameOf(leader), ": retry the removal there"),
                              leader, ctx);
  }
  if (!p.already && p.removed_at == 0) {
    const uint64_t self = host_->view().id;
    const bool done = host_->AwaitView(
        [&](const NodeView& w) { return shows(w.conf) || w.leader != self || w.failed; }, deadline,
        &v);
    if (!done) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat("the change (log index ", p.index,
                                       ") is not applied yet; it may still be: see member list"));
    }
    if (!shows(v.conf)) {
      return core_->Unavailable(
          absl::StrCat("leadership changed before the change (log index ", p.index,
                       ") was applied; it may or may not be: retry, or see member list"),
          v.leader, ctx);
    }
  } else {
    v = host_->view();
  }
  FillMembers(v, *book_, resp->mutable_members());
  resp->set_index(p.index);
  resp->set_already_member(p.already);
  resp->set_removed_at_index(p.removed_at);
  resp->set_cluster_id(cluster_id_->load());
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::MemberAdd(grpc::ServerContext* ctx, const v1::MemberAddRequest* req,
                                         v1::MemberChangeResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  absl::StatusOr<uint64_t> id = IdOf(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  if (absl::Status s = ValidateAddress(req->address()); !s.ok()) {
    return ToGrpc(absl::InvalidArgumentError(absl::StrCat("address: ", s.message())));
  }
  const std::string name = req->name();
  const std::string address = req->address();
  Planner plan = [this, id = *id, name, address, unless_removed = req->unless_removed()](
                     node::Node& n, Proposal* p) -> absl::StatusOr<raft::ConfChange> {
    if (n.raw().raft().tracker().progress.count(id) > 0) {
      auto known = book_->Find(id);
      if (known && known->address != address) {
        return absl::FailedPreconditionError(
            absl::StrCat(name, " is a member already, at ", known->address,
                         "; remove it first to move it to ", address));
      }
      p->already = true;
      return raft::ConfChange{};
    }
    if (unless_removed) {
      // Read as of the applied index, which holds every membership change: Propose plans
      // only once none is pending.
      absl::StatusOr<uint64_t> removed = node::RemovedAt(host_->store(), id);
      if (!removed.ok()) return removed.status();
      if (*removed > 0) {
        p->removed_at = *removed;
        return raft::ConfChange{};
      }
    }
    // Known before the entry is applied, so that the leader reaches the learner at once.
    if (absl::Status s = book_->Learn(id, name, address); !s.ok()) return s;
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, id});
    cc.context = MemberContext(name, address);
    RB_LOG(INFO) << "member add: " << name << " (" << address << ") as a learner";
    return cc;
  };
  return Change(
      ctx, plan, [id = *id](const raft::ConfState& cs) { return InConf(cs, id); }, resp);
}

grpc::Status AdminServiceImpl::MemberPromote(grpc::ServerContext* ctx,
                                             const v1::MemberPromoteRequest* req,
                                             v1::MemberChangeResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  absl::StatusOr<uint64_t> id = IdOf(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  Planner plan = [this, id = *id, name = req->name()](
                     node::Node& n, Proposal* p) -> absl::StatusOr<raft::ConfChange> {
    const raft::Raft& r = n.raw().raft();
    auto it = r.tracker().progress.find(id);
    if (it == r.tracker().progress.end()) {
      return absl::NotFoundError(absl::StrCat(name, " is not a member"));
    }
    if (!it->second.is_learner) {
      p->already = true;
      return raft::ConfChange{};
    }
    if (!CaughtUp(it->second, r.log().committed(), promote_lag_entries_)) {
      return absl::FailedPreconditionError(absl::StrCat(
          name, " has not caught up: it has index ", it->second.match, ", the commit index is ",
          r.log().committed(), " (the limit is ", promote_lag_entries_,
          " entries, and it must have answered lately); wait and retry"));
    }
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kAddNode, id});
    RB_LOG(INFO) << "member promote: " << name;
    return cc;
  };
  return Change(
      ctx, plan, [id = *id](const raft::ConfState& cs) { return IsVoter(cs, id); }, resp);
}

grpc::Status AdminServiceImpl::MemberRemove(grpc::ServerContext* ctx,
                                            const v1::MemberRemoveRequest* req,
                                            v1::MemberChangeResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  absl::StatusOr<uint64_t> id = IdOf(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  Planner plan = [this, id = *id, name = req->name()](
                     node::Node& n, Proposal* p) -> absl::StatusOr<raft::ConfChange> {
    const raft::Raft& r = n.raw().raft();
    const raft::ProgressMap& progress = r.tracker().progress;
    auto it = progress.find(id);
    if (it == progress.end()) return absl::NotFoundError(absl::StrCat(name, " is not a member"));
    if (id == n.id()) {
      // The leader steps aside first: a leader that applies its own removal would leave
      // the cluster without one until an election timeout.
      uint64_t best = 0;
      uint64_t best_match = 0;
      for (const auto& [other, pr] : progress) {
        if (other == id || pr.is_learner || !pr.recent_active) continue;
        if (best == 0 || pr.match > best_match) {
          best = other;
          best_match = pr.match;
        }
      }
      if (best == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(name,
                         " is the leader and no other voter is reachable to take over; "
                         "add or repair one first"));
      }
      RB_LOG(INFO) << "member remove: " << name << " leads; handing leadership to "
                   << book_->NameOf(best) << " first";
      n.TransferLeader(best);
      p->handed_to = best;
      return raft::ConfChange{};
    }
    raft::ConfChange cc;
    cc.changes.push_back({raft::ConfChangeType::kRemoveNode, id});
    if (auto info = book_->Find(id)) cc.context = MemberContext(info->name, info->address);
    RB_LOG(INFO) << "member remove: " << name;
    return cc;
  };
  return Change(
      ctx, plan, [id = *id](const raft::ConfState& cs) { return !InConf(cs, id); }, resp);
}

grpc::Status AdminServiceImpl::TransferLeader(grpc::ServerContext* ctx,
                                              const v1::TransferLeaderRequest* req,
                                              v1::TransferLeaderResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  absl::StatusOr<uint64_t> id = IdOf(req->name());
  if (!id.ok()) return ToGrpc(id.status());
  auto redirect = std::make_shared<uint64_t>(0);
  grpc::Status status =
      core_->RunOnLoop(ctx, [id = *id, name = req->name(), redirect](node::Node& n, auto call) {
        if (!n.is_leader()) {
          *redirect = n.leader();
          call->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "not the leader"));
          return;
        }
        if (!IsVoter(n.raw().raft().tracker().GetConfState(), id)) {
          call->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                    absl::StrCat(name, " is not a voter: only a voter can lead")));
          return;
        }
        if (id != n.id()) {
          RB_LOG(INFO) << "transferring leadership to " << name;
          n.TransferLeader(id);
        }
        call->Finish(grpc::Status::OK);
      });
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && *redirect != 0) {
    return core_->Unavailable(
        absl::StrCat("not the leader; the leader is ", book_->NameOf(*redirect)), *redirect, ctx);
  }
  if (!status.ok()) return status;
  NodeView v;
  if (!host_->AwaitView([id = *id](const NodeView& w) { return w.leader == id; },
                        core_->Deadline(ctx), &v)) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                        absl::StrCat(req->name(),
                                     " did not take over before the deadline (the "
                                     "leader is ",
                                     book_->NameOf(v.leader), ")"));
  }
  resp->set_leader_name(req->name());
  resp->set_term(v.term);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Snapshot(grpc::ServerContext* ctx, const v1::SnapshotRequest*,
                                        v1::SnapshotResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  auto applied = std::make_shared<uint64_t>(0);
  grpc::Status status = core_->RunOnLoop(ctx, [applied](node::Node& n, auto call) {
    *applied = n.raw().raft().log().applied();
    call->Finish(ToGrpc(n.SnapshotIfBehind()));
  });
  if (!status.ok()) return status;
  resp->set_applied_index(*applied);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Compact(grpc::ServerContext* ctx, const v1::CompactRequest*,
                                       v1::CompactResponse* resp) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  // On this handler's thread, not the loop's: the checkpoint waits for a write in flight.
  auto sizes = host_->store().CheckpointWal();
  if (!sizes.ok()) return ToGrpc(sizes.status());
  resp->set_wal_bytes_before(sizes->first);
  resp->set_wal_bytes_after(sizes->second);
  return grpc::Status::OK;
}

grpc::Status AdminServiceImpl::Backup(grpc::ServerContext* ctx, const v1::BackupRequest*,
                                      grpc::ServerWriter<v1::BackupChunk>* writer) {
  if (grpc::Status a = core_->Authorize(*ctx); !a.ok()) return a;
  // Every write acknowledged before the backup began: the member first catches up as a
  // linearizable read does (a follower learns commits with the next append or heartbeat,
  // up to a tick after the leader answered them).
  if (grpc::Status s = core_->WaitReadable(ctx, node::ReadConsistency::kLinearizable); !s.ok()) {
    return s;
  }
  // A snapshot at least as new as what this member has applied now.
  auto applied = std::make_shared<uint64_t>(0);
  grpc::Status status = core_->RunOnLoop(ctx, [applied](node::Node& n, auto call) {
    *applied = n.raw().raft().log().applied();
    if (*applied == 0) {
      call->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                "this member has applied nothing yet"));
      return;
    }
    call->Finish(ToGrpc(n.SnapshotIfBehind()));
  });
  if (!status.ok()) return status;
  NodeView v;
  const bool taken = host_->AwaitView(
      [a = *applied](const NodeView& w) { return w.snapshot_index >= a || w.failed; },
      core_->Deadline(ctx), &v);
  if (!taken || v.failed) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "no snapshot could be taken; retry");
  }
  auto snapshot = host_->store().LatestSnapshot();
  if (!snapshot.ok()) return ToGrpc(snapshot.status());
  auto descriptor = storage::DecodeDescriptor(**snapshot);
  if (!descriptor.ok()) return ToGrpc(descriptor.status());
  // Opened once: a newer snapshot may delete the file, but not what this stream reads.
  std::ifstream in(absl::StrCat(snapshot_dir_, "/", descriptor->file_name()), std::ios::binary);
  if (!in.good()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "the snapshot was replaced by a newer one before it was read; retry");
  }
  in.seekg(0, std::ios::end);
  const uint64_t size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  v1::BackupChunk first;
  v1::BackupHeader* h = first.mutable_header();
  if (auto self = book_->Find(v.id)) h->set_member(self->name);
  h->set_index((*snapshot)->metadata.index);
  h->set_term((*snapshot)->metadata.term);
  h->set_snapshot_descriptor((*snapshot)->data);
  h->set_file_bytes(size);
  h->set_cluster_id(cluster_id_->load());
  if (!writer->Write(first)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  XXH3_state_t* hash = XXH3_createState();
  XXH3_64bits_reset(hash);
  constexpr size_t kChunkBytes = 1 << 20;
  std::string buffer(kChunkBytes, '\0');
  uint64_t sent = 0;
  bool ok = true;
  while (ok && sent < size) {  // bounded by the file's size
    in.read(buffer.data(),
            static_cast<std::streamsize>(std::min<uint64_t>(kChunkBytes, size - sent)));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    XXH3_64bits_update(hash, buffer.data(), n);
    v1::BackupChunk chunk;
    chunk.set_data(buffer.data(), n);
    ok = writer->Write(chunk);
    sent += n;
  }
  const uint64_t digest = XXH3_64bits_digest(hash);
  XXH3_freeState(hash);
  if (!ok) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
  if (sent != size) return grpc::Status(grpc::StatusCode::INTERNAL, "the snapshot file shrank");
  v1::BackupChunk last;
  last.set_last(true);
  last.set_xxh3(digest);
  writer->Write(last);
  RB_LOG(INFO) << "backup at index " << (*snapshot)->metadata.index << " sent (" << size
               << " bytes)";
  return grpc::Status::OK;
}

}  // namespace rb::server
