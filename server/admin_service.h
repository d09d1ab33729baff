// raftbadger.v1.Admin: changing the membership of a running cluster, moving leadership,
// taking a snapshot (see proto/raftbadger.proto for the contract).
//
// A membership change is checked and proposed on the loop, on the leader, and only while
// no other change is pending (etcd's rule: one at a time, so a new configuration always
// overlaps the old one in a quorum). The handler then waits, on the node's published
// view, until the change's entry is applied, and checks that the configuration shows it:
// an entry lost to a leadership change is reported as ABORTED, never as done.
#ifndef RAFTBADGER_SERVER_ADMIN_SERVICE_H_
#define RAFTBADGER_SERVER_ADMIN_SERVICE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "proto/raftbadger.grpc.pb.h"
#include "server/address_book.h"
#include "server/kv_service.h"
#include "server/node_host.h"

namespace rb::server {

class AdminServiceImpl final : public raftbadger::v1::Admin::Service {
 public:
  // snapshot_dir: where the store keeps its snapshot files (Backup streams one).
  AdminServiceImpl(KvCore* core, NodeHost* host, AddressBook* book,
                   const std::atomic<uint64_t>* cluster_id, uint64_t promote_lag_entries,
                   std::string snapshot_dir);

  grpc::Status MemberList(grpc::ServerContext* ctx, const raftbadger::v1::MemberListRequest* req,
                          raftbadger::v1::MemberListResponse* resp) override;
  grpc::Status MemberAdd(grpc::ServerContext* ctx, const raftbadger::v1::MemberAddRequest* req,
                         raftbadger::v1::MemberChangeResponse* resp) override;
  grpc::Status MemberPromote(grpc::ServerContext* ctx,
                             const raftbadger::v1::MemberPromoteRequest* req,
                             raftbadger::v1::MemberChangeResponse* resp) override;
  grpc::Status MemberRemove(grpc::ServerContext* ctx,
                            const raftbadger::v1::MemberRemoveRequest* req,
                            raftbadger::v1::MemberChangeResponse* resp) override;
  grpc::Status TransferLeader(grpc::ServerContext* ctx,
                              const raftbadger::v1::TransferLeaderRequest* req,
                              raftbadger::v1::TransferLeaderResponse* resp) override;
  grpc::Status Snapshot(grpc::ServerContext* ctx, const raftbadger::v1::SnapshotRequest* req,
                        raftbadger::v1::SnapshotResponse* resp) override;
  grpc::Status Compact(grpc::ServerContext* ctx, const raftbadger::v1::CompactRequest* req,
                       raftbadger::v1::CompactResponse* resp) override;
  grpc::Status Backup(grpc::ServerContext* ctx, const raftbadger::v1::BackupRequest* req,
                      grpc::ServerWriter<raftbadger::v1::BackupChunk>* writer) override;

 private:
  // What a change request decided on the loop.
  struct Proposal {
    uint64_t index = 0;       // of the proposed entry; 0: nothing proposed
    bool already = false;     // nothing to change (MemberAdd of a member)
    uint64_t redirect = 0;    // not the leader: this one is
    uint64_t handed_to = 0;   // MemberRemove of the leader: leadership goes to this one
    uint64_t removed_at = 0;  // MemberAdd unless_removed: it was removed at this index
  };
  // Decides on the loop, for a node that leads with no change pending, the change to make
  // (or an error); Propose then proposes it.
  using Planner =
      std::function<absl::StatusOr<raft::ConfChange>(node::Node& n, Proposal* proposal)>;
  grpc::Status Propose(grpc::ServerContext* ctx, const Planner& plan, Proposal* proposal);
  // Proposes a change and waits until it is applied and `shows` holds for the resulting
  // configuration; fills resp.
  grpc::Status Change(grpc::ServerContext* ctx, const Planner& plan,
                      const std::function<bool(const raft::ConfState&)>& shows,
                      raftbadger::v1::MemberChangeResponse* resp);
  absl::StatusOr<uint64_t> IdOf(const std::string& name) const;

  KvCore* core_;
  NodeHost* host_;
  AddressBook* book_;
  const std::atomic<uint64_t>* cluster_id_;
  const uint64_t promote_lag_entries_;
  const std::string snapshot_dir_;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_ADMIN_SERVICE_H_
