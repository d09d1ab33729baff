// The RaftBadger client library: what raftbadger-cli, the tests and the load generator use.
//
// Given any members' addresses it finds the leader, sends writes there (following the
// leader named in an UNAVAILABLE answer's trailers), retries a write with the same session
// sequence number so that it is applied at most once however often it is sent, and gives
// every call a deadline. Reads go to the leader by default, or to a named endpoint.
// One Client is used by one thread at a time.
#ifndef RAFTBADGER_CLIENT_CLIENT_H_
#define RAFTBADGER_CLIENT_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "client/credentials.h"
#include "grpcpp/grpcpp.h"
#include "proto/raftbadger.grpc.pb.h"

namespace rb::client {

struct ClientOptions {
  std::vector<std::string> endpoints;                // host:port of any members
  absl::Duration call_timeout = absl::Seconds(5);    // per attempt
  absl::Duration total_timeout = absl::Seconds(20);  // per operation, retries included
  // How to dial members (see credentials.h); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string token;  // bearer token sent on every call; empty: none
};

struct ReadResult {
  std::string value;
  uint64_t revision = 0;
};

struct CasResult {
  bool swapped = false;
  uint64_t revision = 0;
};

// gRPC status to absl::Status (same code and message).
absl::Status FromGrpc(const grpc::Status& s);

class Client {
 public:
  explicit Client(ClientOptions options);

  // Writes; each returns the revision (log index) it was applied at.
  absl::StatusOr<uint64_t> Put(const std::string& key, const std::string& value);
  // NotFound if the key is missing (nothing written).
  absl::StatusOr<uint64_t> Update(const std::string& key, const std::string& value);
  // Whether the key existed.
  absl::StatusOr<bool> Delete(const std::string& key);
  // expected: the value required, or nullopt for "absent".
  absl::StatusOr<CasResult> CompareAndSwap(const std::string& key,
                                           const std::optional<std::string>& expected,
                                           const std::string& value);
  // Reads. endpoint: ask that member (empty: the leader). NotFound if absent.
  absl::StatusOr<ReadResult> Get(
      const std::string& key,
      raftbadger::v1::Consistency consistency = raftbadger::v1::LINEARIZABLE,
      const std::string& endpoint = "");
  absl::StatusOr<std::vector<raftbadger::v1::KeyValue>> List(const std::string& prefix,
                                                             uint32_t limit);
  // Every endpoint's status, in the order given (an error for one that does not answer).
  std::vector<absl::StatusOr<raftbadger::v1::StatusResponse>> StatusAll();
  // The leader's address, asking each endpoint until one knows.
  absl::StatusOr<std::string> FindLeader();

  // Operating the cluster (raftbadger.v1.Admin). Changes go to the leader, following the
  // leader a member names and retrying while the answer is UNAVAILABLE or ABORTED (another
  // change pending) until the total timeout. A retried change is harmless: adding a member
  // or promoting a voter again changes nothing.
  // unless_removed: add it only if it was never removed from the cluster (or was added
  // again since); otherwise nothing changes and the answer's removed_at_index says when.
  absl::StatusOr<raftbadger::v1::MemberChangeResponse> MemberAdd(const std::string& name,
                                                                 const std::string& address,
                                                                 bool unless_removed = false);
  absl::StatusOr<raftbadger::v1::MemberChangeResponse> MemberPromote(const std::string& name);
  absl::StatusOr<raftbadger::v1::MemberChangeResponse> MemberRemove(const std::string& name);
  // The membership as the leader sees it (with each member's progress).
  absl::StatusOr<raftbadger::v1::MemberListResponse> MemberList();
  absl::StatusOr<raftbadger::v1::TransferLeaderResponse> TransferLeader(const std::string& name);
  // Streams a backup from the member at endpoint (empty: the leader) into out_path
  // (replaced), checking its length and XXH3; returns its header. The file's contents are
  // verified separately (server/restore.h's VerifyBackup, as raftbadger-cli does).
  absl::StatusOr<raftbadger::v1::BackupHeader> Backup(const std::string& endpoint,
                                                      const std::string& out_path);
  // Checkpoints and truncates the WAL of the member at endpoint (empty: the leader).
  absl::StatusOr<raftbadger::v1::CompactResponse> Compact(const std::string& endpoint = "");
  // Snapshots the member at endpoint (empty: the leader).
  absl::StatusOr<raftbadger::v1::SnapshotResponse> Snapshot(const std::string& endpoint = "");

 private:
  using WriteFn = std::function<grpc::Status(raftbadger::v1::KV::Stub*, grpc::ClientContext*,
                                             const raftbadger::v1::Session&)>;
  // Runs one write with this client's session and a fresh seq, retrying (same seq) at the
  // leader until it answers or the total timeout passes.
  absl::Status Write(const WriteFn& fn);
  using AdminFn = std::function<grpc::Status(raftbadger::v1::Admin::Stub*, grpc::ClientContext*)>;
  // Runs fn at the leader until it answers something other than UNAVAILABLE or ABORTED,
  // or the total timeout passes.
  absl::Status AtLeader(const AdminFn& fn);
  // One AtLeader call of a Stub method.
  template <typename Request, typename Response>
  absl::StatusOr<Response> AdminChange(const Request& req,
                                       grpc::Status (raftbadger::v1::Admin::Stub::*call)(
                                           grpc::ClientContext*, const Request&, Response*));
  template <typename Request, typename Response>
  absl::StatusOr<Response> AdminAt(const std::string& endpoint, const Request& req,
                                   grpc::Status (raftbadger::v1::Admin::Stub::*call)(
                                       grpc::ClientContext*, const Request&, Response*));
  raftbadger::v1::Admin::Stub* AdminStub(const std::string& address);
  absl::Status EnsureSession();
  // Where attempt number `attempt` goes: the known leader, else one an endpoint names,
  // else the endpoints in turn.
  std::string Target(int attempt);
  // After a retryable answer from target: follow the leader it named (else look for one
  // again), and wait *backoff, doubling it up to 500 ms.
  void FollowLeader(const grpc::ClientContext& ctx, const std::string& target,
                    absl::Duration* backoff);
  absl::StatusOr<uint64_t> PutWith(const std::string& key, const std::string& value,
                                   bool require_existing);
  std::shared_ptr<grpc::Channel> Channel(const std::string& address);  // one per address
  raftbadger::v1::KV::Stub* Kv(const std::string& address);
  raftbadger::v1::Cluster::Stub* ClusterStub(const std::string& address);
  // Sets the per-attempt deadline and attaches the token.
  void PrepareCall(grpc::ClientContext* ctx) const;

  const ClientOptions options_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
  std::map<std::string, std::unique_ptr<raftbadger::v1::KV::Stub>> kv_;
  std::map<std::string, std::unique_ptr<raftbadger::v1::Cluster::Stub>> cluster_;
  std::map<std::string, std::unique_ptr<raftbadger::v1::Admin::Stub>> admin_;
  std::string leader_;  // last known leader address
  uint64_t client_id_ = 0;
  uint64_t seq_ = 0;
};

}  // namespace rb::client

#endif  // RAFTBADGER_CLIENT_CLIENT_H_
