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

// Answers to a flood by status code, and how many of them said `marker`.
struct FloodAnswers {
  std::map<grpc::StatusCode, int> codes;
  int marked = 0;
};

// Starts `calls` calls at once over `connections` connections (start(stub, ctx, i, cq)
// begins call i and returns its reader), and counts their answers by status code.
template <typename Resp, typename Start>
FloodAnswers Flood(const std::string& endpoint, int calls, int connections, absl::Duration deadline,
                   const std::string& marker, Start start) {
  struct Call {
    grpc::ClientContext ctx;
    Resp resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<Resp>> reader;
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
  for (int i = 0; i < calls; ++i) {
    auto call = std::make_unique<Call>();
    call->ctx.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    call->reader = start(stubs[i % connections].get(), &call->ctx, i, &cq);
    call->reader->Finish(&call->resp, &call->status, call.get());
    all.push_back(std::move(call));
  }
  FloodAnswers answers;
  for (int i = 0; i < calls; ++i) {  // bounded: one completion per call
    void* tag = nullptr;
    bool ok = false;
    if (!cq.Next(&tag, &ok)) break;
    const grpc::Status& status = static_cast<Call*>(tag)->status;
    ++answers.codes[status.error_code()];
    if (status.error_message().find(marker) != std::string::npos) ++answers.marked;
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return answers;
}

// `calls` Puts of value_bytes.
FloodAnswers FloodPuts(const std::string& endpoint, int calls, int connections, size_t value_bytes,
                       absl::Duration deadline) {
  const std::string value(value_bytes, 'x');
  return Flood<v1::PutResponse>(
      endpoint, calls, connections, deadline, "writes in flight",
      [&](v1::KV::Stub* stub, grpc::ClientContext* ctx, int i, grpc::CompletionQueue* cq) {
        v1::PutRequest req;
        req.set_key(absl::StrCat("flood-", i));
        req.set_value(value);
        return stub->AsyncPut(ctx, req, cq);
      });
}

std::string Summary(const std::map<grpc::StatusCode, int>& codes, int* answered) {
  std::string summary;
  *answered = 0;
  for (const auto& [code, n] : codes) {
    absl::StrAppend(&summary, static_cast<int>(code), ":", n, " ");
    *answered += n;
  }
  return summary;
}

int CountOf(const std::map<grpc::StatusCode, int>& codes, grpc::StatusCode code) {
  auto it = codes.find(code);
  return it == codes.end() ? 0 : it->second;
}

TEST(OverloadTest, AFloodIsShedAndTheClusterGoesOn) {
  // The node's own bound (MAX_PENDING_REQUESTS) stays at its default: what sheds here is
  // the server's handler-thread limit.
  LocalCluster c(3, {{"MAX_HANDLER_THREADS", "16"}});
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();

  constexpr int kCalls = 2000;
  const std::map<grpc::StatusCode, int> codes =
      FloodPuts(c.endpoint(*leader), kCalls, /*connections=*/16, /*value_bytes=*/64 << 10,
                absl::Seconds(20))
          .codes;
  int answered = 0;
  const std::string summary = Summary(codes, &answered);
  std::printf("answers by status code: %s\n", summary.c_str());
  EXPECT_EQ(answered, kCalls) << summary;
  EXPECT_GT(CountOf(codes, grpc::StatusCode::OK), 0) << summary;
  EXPECT_GT(CountOf(codes, grpc::StatusCode::RESOURCE_EXHAUSTED), 0)
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

// Reads hold no thread either (callback API): MAX_HANDLER_THREADS bounds the reads in
// flight on a node, and the rest are refused at once; every read is answered.
TEST(OverloadTest, AReadFloodIsBoundedByTheHandlerLimit) {
  LocalCluster c(3, {{"MAX_HANDLER_THREADS", "16"}});
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  client::ClientOptions options{c.endpoints()};
  options.total_timeout = absl::Seconds(5);
  client::Client client(options);
  ASSERT_TRUE(client.Put("k", "v").ok());

  constexpr int kCalls = 2000;
  const FloodAnswers answers = Flood<v1::GetResponse>(
      c.endpoint(*leader), kCalls, /*connections=*/16, absl::Seconds(20), "reads in flight",
      [](v1::KV::Stub* stub, grpc::ClientContext* ctx, int /*i*/, grpc::CompletionQueue* cq) {
        v1::GetRequest req;
        req.set_key("k");
        req.set_consistency(v1::LINEARIZABLE);
        return stub->AsyncGet(ctx, req, cq);
      });
  int answered = 0;
  const std::string summary = Summary(answers.codes, &answered);
  std::printf("answers by status code: %s\n", summary.c_str());
  EXPECT_EQ(answered, kCalls) << summary;
  EXPECT_GT(CountOf(answers.codes, grpc::StatusCode::OK), 0) << summary;
  // Refused by the server's bound, not only by the node's (MAX_PENDING_REQUESTS).
  EXPECT_GT(answers.marked, 0) << "no read was refused for the handler limit: " << summary;
  EXPECT_EQ(CountOf(answers.codes, grpc::StatusCode::OK) +
                CountOf(answers.codes, grpc::StatusCode::RESOURCE_EXHAUSTED),
            kCalls)
      << summary;
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(c.Running(i)) << c.name(i) << "\n" << c.Logs();
  auto got = client.Get("k");
  ASSERT_TRUE(got.ok()) << got.status();
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
