#include "server/join.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "base/thread_name.h"
#include "client/client.h"

namespace rb::server {
namespace {

// Codes worth another try: the cluster has no leader yet, another change is pending, or
// the request did not get through.
bool Retryable(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kAborted ||
         code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kResourceExhausted;
}

}  // namespace

Joiner::Joiner(JoinRequest request, std::function<void(absl::StatusOr<uint64_t>)> done)
    : request_(std::move(request)), done_(std::move(done)), thread_([this] { Run(); }) {}

Joiner::~Joiner() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Joiner::Run() {
  SetThreadName("rb-join");
  client::ClientOptions options;
  options.endpoints = request_.endpoints;
  options.call_timeout = absl::Seconds(5);
  options.total_timeout = absl::Seconds(15);
  options.credentials = request_.security->ChannelCredentials();
  options.token = request_.security->token();
  client::Client client(options);
  absl::Duration pause = absl::Milliseconds(500);
  for (;;) {
    RB_LOG(INFO) << "asking " << absl::StrJoin(request_.endpoints, ",") << " to add "
                 << request_.name << " (" << request_.address << ")";
    auto added = client.MemberAdd(request_.name, request_.address);
    if (added.ok()) {
      RB_LOG(INFO) << (added->already_member() ? "already a member" : "added as a learner")
                   << " of cluster " << added->cluster_id();
      done_(added->cluster_id());
      return;
    }
    if (!Retryable(added.status().code())) {
      done_(added.status());
      return;
    }
    RB_LOG(WARNING) << "joining: " << added.status() << "; retrying in " << pause;
    absl::MutexLock lock(&mu_);
    auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stop), pause)) return;
    pause = std::min(pause * 2, absl::Seconds(5));
  }
}

std::function<absl::StatusOr<uint64_t>(const PeerSpec& peer, uint64_t leader)> SeedPeerAsker(
    const AddressBook* book, const NodeSecurity* security) {
  // The channel to the last leader asked, kept while it leads.
  struct Link {
    std::string address;
    std::unique_ptr<raftbadger::v1::Admin::Stub> stub;
  };
  auto link = std::make_shared<Link>();
  return [book, security, link](const PeerSpec& peer, uint64_t leader) -> absl::StatusOr<uint64_t> {
    const std::optional<PeerInfo> where = book->Find(leader);
    if (!where) return absl::UnavailableError("the leader's address is not known yet");
    if (link->stub == nullptr || link->address != where->address) {
      link->address = where->address;
      link->stub = raftbadger::v1::Admin::NewStub(
          grpc::CreateChannel(where->address, security->ChannelCredentials()));
    }
    raftbadger::v1::MemberAddRequest req;
    req.set_name(peer.name);
    req.set_address(peer.address);
    req.set_unless_removed(true);
    raftbadger::v1::MemberChangeResponse resp;
    grpc::ClientContext ctx;
    // Short: the keeper asks again next period, and stopping the node waits for the call.
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    security->AttachToken(&ctx);
    const grpc::Status s = link->stub->MemberAdd(&ctx, req, &resp);
    if (!s.ok()) return client::FromGrpc(s);
    return resp.removed_at_index();
  };
}

}  // namespace rb::server
