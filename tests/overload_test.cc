// A flood beyond capacity on real processes: thousands of concurrent writes with large
// values at the leader. What cannot be served is shed at once (RESOURCE_EXHAUSTED, or
// UNAVAILABLE); nothing crashes; the leader's memory stays bounded; afterwards the
// cluster serves a write within an ordinary deadline.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/raftbadger.grpc.pb.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

// Resident memory of a process, in KiB (0 if unknown).
uint64_t RssKib(pid_t pid) {
  const std::string status = ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/status"));
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    uint64_t kib = 0;
    std::string digits;
    for (char ch : line) {
      if (ch >= '0' && ch <= '9') digits += ch;
    }
    return absl::SimpleAtoi(digits, &kib) ? kib : 0;
  }
  return 0;
}

// Starts `calls` Puts of value_bytes at once over `connections` connections, and counts
// their answers by status code.
std::map<grpc::StatusCode, int> Flood(const std::string& endpoint, int calls, int connections,
                                      size_t value_bytes, absl::Duration deadline) {
  struct Call {
    grpc::ClientContext ctx;
    v1::PutResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::PutResponse>> reader;
  };
  std::vector<std::unique_ptr<v1::KV::Stub>> stubs;
  for (int i = 0; i < connections; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own
    args.SetInt("rb.flood.connection", i);
    stubs.push_back(v1::KV::NewStub(
        grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args)));
  }
  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Call>> all;
  const std::string value(value_bytes, 'x');
  for (int i = 0; i < calls; ++i) {
    auto call = std::make_unique<Call>();
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::PutRequest req;
    req.set_key(absl::StrCat("flood-", i));
    req.set_value(value);
    call->reader = stubs[i % connections]->AsyncPut(&call->ctx, req, &cq);
    call->reader->Finish(&call->resp, &call->status, call.get());
    all.push_back(std::move(call));
  }
  std::map<grpc::StatusCode, int> codes;
  for (int i = 0; i < calls; ++i) {  // bounded: one completion per call
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    ++codes[static_cast<Call*>(tag)->status.error_code()];
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return codes;
}

TEST(OverloadTest, AFloodIsShedAndTheClusterGoesOn) {
  // The node's own bound (MAX_PENDING_REQUESTS) stays at its default: what sheds here is
  // the server's handler-thread limit.
  LocalCluster c(3, {{"MAX_HANDLER_THREADS", "16"}});
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();

  constexpr int kCalls = 2000;
  const std::map<grpc::StatusCode, int> codes = Flood(
      c.endpoint(*leader), kCalls, /*connections=*/16, /*value_bytes=*/64 << 10, absl::Seconds(20));
  std::string summary;
  int answered = 0;
  for (const auto& [code, n] : codes) {
    absl::StrAppend(&summary, static_cast<int>(code), ":", n, " ");
    answered += n;
  }
  std::printf("answers by status code: %s\n", summary.c_str());
  EXPECT_EQ(answered, kCalls) << summary;
  EXPECT_GT(codes.count(grpc::StatusCode::OK) ? codes.at(grpc::StatusCode::OK) : 0, 0) << summary;
  EXPECT_GT(codes.count(grpc::StatusCode::RESOURCE_EXHAUSTED)
                ? codes.at(grpc::StatusCode::RESOURCE_EXHAUSTED)
                : 0,
            0)
      << "nothing was shed: " << summary;
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                code == grpc::StatusCode::UNAVAILABLE)
        << "code " << static_cast<int>(code) << " x" << n << ": " << summary;
  }

  // Nothing crashed, and the leader holds a bounded amount of memory (2000 x 64 KiB
  // would be 125 MiB if it had taken them all in).
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(c.Running(i)) << c.name(i) << "\n" << c.Logs();
  const uint64_t rss_kib = RssKib(c.Pid(*leader));
  EXPECT_GT(rss_kib, 0u);
  EXPECT_LT(rss_kib, 400u << 10) << "leader RSS " << rss_kib << " KiB";

  // It serves an ordinary write with an ordinary deadline afterwards.
  client::ClientOptions options{c.endpoints()};
  options.total_timeout = absl::Seconds(5);
  client::Client client(options);
  ASSERT_TRUE(client.Put("after-flood", "ok").ok());
}

// A connection that carries no call for MAX_CONNECTION_IDLE_MS is closed by the server
// (it sends GOAWAY): the client's channel leaves READY without any call failing.
TEST(OverloadTest, IdleConnectionsAreClosed) {
  LocalCluster c(1, {{"MAX_CONNECTION_IDLE_MS", "1000"}});
  c.StartAll();
  ASSERT_TRUE(c.AwaitAgreement({1}, 1, kFormTimeout).ok()) << c.Logs();
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(c.endpoint(1), grpc::InsecureChannelCredentials(), args);
  ASSERT_TRUE(channel->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  auto stub = v1::Cluster::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::StatusResponse resp;
  ASSERT_TRUE(stub->Status(&ctx, v1::StatusRequest(), &resp).ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // Awaits the state change (a second or so of idleness), bounded.
  const bool changed = channel->WaitForStateChange(
      GRPC_CHANNEL_READY, absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  EXPECT_TRUE(changed) << "the idle connection was not closed within 10 s";
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
}

}  // namespace
}  // namespace rb::tests
