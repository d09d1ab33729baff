// /metrics, /livez and /readyz of a running 3-node cluster under a little load: the
// counters move as they must on every node, one node says it leads, and a node that knows
// no leader is not ready.
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/badger.grpc.pb.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

// Series name (with labels) -> value, from a scrape's body.
std::map<std::string, double> Parse(const std::string& body) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &v)) {
      ADD_FAILURE() << "not a sample line: " << line;
      continue;
    }
    out[std::string(line.substr(0, space))] = v;
  }
  return out;
}

std::map<std::string, double> Scrape(int port) {
  const std::string response = HttpGet(port, "/metrics");
  EXPECT_EQ(HttpStatus(response), 200) << response;
  return Parse(HttpBody(response));
}

TEST(MetricsTest, CountersMoveOnEveryNodeAndOneLeads) {
  LocalCluster c(3);
  std::vector<int> metrics_ports;
  for (int i = 1; i <= 3; ++i) {
    metrics_ports.push_back(FreePort());
    ASSERT_TRUE(c.Start(i, {{"METRICS_PORT", std::to_string(metrics_ports.back())}}).ok());
  }
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status();

  std::vector<std::map<std::string, double>> before;
  for (int port : metrics_ports) before.push_back(Scrape(port));
  client::Client client(client::ClientOptions{c.endpoints()});
  constexpr int kWrites = 20;
  for (int i = 0; i < kWrites; ++i) ASSERT_TRUE(client.Put(absl::StrCat("k", i), "v").ok());
  ASSERT_TRUE(client.Get("k0").ok());
  // The old API's writes have no session: the leader answers them once committed, and a
  // read that follows still sees each.
  constexpr int kOldWrites = 5;
  auto old = badgerpb::BadgerService::NewStub(
      grpc::CreateChannel(c.endpoint(*leader), grpc::InsecureChannelCredentials()));
  for (int i = 0; i < kOldWrites; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    badgerpb::SaveEntriesRequest req;
    req.set_id(absl::StrCat("old", i));
    req.set_secrets(absl::StrCat("secret", i));
    badgerpb::SaveEntriesResponse resp;
    const grpc::Status s = old->SaveEntries(&ctx, req, &resp);
    ASSERT_TRUE(s.ok() && resp.success()) << s.error_message();
    absl::StatusOr<client::ReadResult> read = client.Get(absl::StrCat("old", i));
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->value, absl::StrCat("secret", i));
  }
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok());

  int leaders = 0;
  for (int i = 0; i < 3; ++i) {
    std::map<std::string, double> after = Scrape(metrics_ports[i]);
    auto delta = [&](const std::string& series) { return after[series] - before[i][series]; };
    SCOPED_TRACE(c.name(i + 1));
    // Every node applies every write.
    EXPECT_GE(delta("rb_entries_applied_total"), kWrites);
    EXPECT_EQ(after["rb_applied_index"], after["rb_commit_index"]);
    EXPECT_GT(after["rb_db_size_bytes"], 0);
    EXPECT_EQ(after["rb_term"], before[i]["rb_term"]);
    EXPECT_GE(after["rb_disk_write_duration_seconds_count"], kWrites);
    EXPECT_EQ(after["rb_is_serving"], 1);
    if (after["rb_is_leader"] == 1) {
      ++leaders;
      EXPECT_EQ(i + 1, *leader);
      // + the session
      EXPECT_EQ(delta("rb_proposals_committed_total"), kWrites + 1 + kOldWrites);
      EXPECT_EQ(delta("rb_proposals_answered_at_commit_total"), kOldWrites);
      EXPECT_EQ(delta("rb_proposals_failed_total"), 0);
      EXPECT_GE(delta("rb_peer_messages_sent_total{type=\"app\"}"), kWrites);
      EXPECT_GE(after["rb_ready_entries_count"], 1);
      EXPECT_EQ(delta("rb_grpc_requests_total{method=\"/raftbadger.v1.KV/Put\",code=\"OK\"}"),
                kWrites);
      EXPECT_GE(after["rb_elections_won_total"], 1);
    } else {
      EXPECT_GE(delta("rb_peer_messages_received_total{type=\"app\"}"), kWrites);
    }
    EXPECT_EQ(HttpStatus(HttpGet(metrics_ports[i], "/livez")), 200);
    EXPECT_EQ(HttpStatus(HttpGet(metrics_ports[i], "/readyz")), 200);
  }
  EXPECT_EQ(leaders, 1);

  // A node that is not a member knows no leader: alive, not ready.
  const int spare = c.AddSpare();
  const int spare_metrics = FreePort();
  ASSERT_TRUE(c.Start(spare, {{"METRICS_PORT", std::to_string(spare_metrics)}}).ok());
  std::string live;
  for (int attempt = 0; attempt < 200 && HttpStatus(live) != 200; ++attempt) {
    live = HttpGet(spare_metrics, "/livez");  // until the process listens
    if (HttpStatus(live) != 200) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(HttpStatus(live), 200) << c.Log(spare);
  const std::string ready = HttpGet(spare_metrics, "/readyz");
  EXPECT_EQ(HttpStatus(ready), 503);
  EXPECT_NE(HttpBody(ready).find("no leader"), std::string::npos) << ready;
}

}  // namespace
}  // namespace rb::tests
