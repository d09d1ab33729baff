// The client APIs of a real 3-node cluster: every status code the server promises, the
// health service, server reflection (as grpcurl uses it: list, describe, call without
// the .proto), and raftbadger-cli's commands and exit codes.
#include <signal.h>

#include <functional>
#include <future>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/dynamic_message.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "proto/badger.grpc.pb.h"
#include "proto/raftbadger.grpc.pb.h"
#include "tests/grpc_health.grpc.pb.h"
#include "tests/grpc_reflection.grpc.pb.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

constexpr int kMaxValueBytes = 1000;

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new LocalCluster(3, {{"MAX_VALUE_BYTES", std::to_string(kMaxValueBytes)}});
    cluster_->StartAll();
    auto leader = cluster_->AwaitAgreement({1, 2, 3}, 3, absl::Seconds(30));
    ASSERT_TRUE(leader.ok()) << leader.status() << cluster_->Logs();
    leader_ = *leader;
    follower_ = leader_ == 1 ? 2 : 1;
  }
  static void TearDownTestSuite() { delete cluster_; }

  static std::shared_ptr<grpc::Channel> Channel(int i) {
    return grpc::CreateChannel(cluster_->endpoint(i), grpc::InsecureChannelCredentials());
  }
  static void Deadline(grpc::ClientContext* ctx, absl::Duration d = absl::Seconds(5)) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  }
  grpc::Status Put(int node, const std::string& key, const std::string& value,
                   grpc::ClientContext* ctx = nullptr) {
    grpc::ClientContext own;
    if (ctx == nullptr) {
      ctx = &own;
      Deadline(ctx);
    }
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    v1::PutResponse resp;
    return v1::KV::NewStub(Channel(node))->Put(ctx, req, &resp);
  }

  static LocalCluster* cluster_;
  static int leader_, follower_;
};

LocalCluster* ApiTest::cluster_ = nullptr;
int ApiTest::leader_ = 0;
int ApiTest::follower_ = 0;

TEST_F(ApiTest, OldApiOnAFollower) {
  auto old = badgerpb::BadgerService::NewStub(Channel(follower_));
  {  // A write to a follower reaches the leader (the old service failed here).
    grpc::ClientContext ctx;
    Deadline(&ctx);
    badgerpb::SaveEntriesRequest req;
    req.set_id("old-1");
    req.set_secrets("a");
    badgerpb::SaveEntriesResponse resp;
    ASSERT_TRUE(old->SaveEntries(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.success());
  }
  {  // Update of a missing key: NOT_FOUND and nothing written (the old one said success).
    grpc::ClientContext ctx;
    Deadline(&ctx);
    badgerpb::UpdateEntriesRequest req;
    req.set_id("old-missing");
    req.set_secrets("b");
    badgerpb::UpdateEntriesResponse resp;
    EXPECT_EQ(old->UpdateEntries(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    badgerpb::GetEntriesRequest req;
    req.set_id("old-missing");
    badgerpb::GetEntriesResponse resp;
    EXPECT_EQ(old->GetEntries(&ctx, req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {  // Update of an existing key, then the follower reads it at once.
    grpc::ClientContext ctx;
    Deadline(&ctx);
    badgerpb::UpdateEntriesRequest req;
    req.set_id("old-1");
    req.set_secrets("updated");
    badgerpb::UpdateEntriesResponse resp;
    ASSERT_TRUE(old->UpdateEntries(&ctx, req, &resp).ok());
    grpc::ClientContext gctx;
    Deadline(&gctx);
    badgerpb::GetEntriesRequest get;
    get.set_id("old-1");
    badgerpb::GetEntriesResponse got;
    ASSERT_TRUE(old->GetEntries(&gctx, get, &got).ok());
    EXPECT_EQ(got.data(), "updated");
  }
  {  // The old Go client set no deadline: the server's own applies (REQUEST_TIMEOUT_MS).
    grpc::ClientContext ctx;
    badgerpb::GetEntriesRequest req;
    req.set_id("old-1");
    badgerpb::GetEntriesResponse resp;
    ASSERT_TRUE(old->GetEntries(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.data(), "updated");
  }
  {  // Deleting a missing key succeeds, as it did.
    grpc::ClientContext ctx;
    Deadline(&ctx);
    badgerpb::DeleteEntriesRequest req;
    req.set_id("never-there");
    badgerpb::DeleteEntriesResponse resp;
    ASSERT_TRUE(old->DeleteEntries(&ctx, req, &resp).ok());
    EXPECT_TRUE(resp.success());
  }
}

TEST_F(ApiTest, BadRequestsAreRefusedAndWriteNothing) {
  EXPECT_EQ(Put(leader_, "", "v").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Put(leader_, std::string(4097, 'k'), "v").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Put(leader_, "big", std::string(kMaxValueBytes + 1, 'v')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Put(leader_, std::string(1, '\0') + "session/x", "v").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // 10 MiB: refused by the transport before it is read; the server goes on.
  EXPECT_EQ(Put(leader_, "huge", std::string(10 << 20, 'v')).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(Put(leader_, "after-huge", "fine").ok());
  v1::GetRequest get;
  get.set_key("big");
  v1::GetResponse got;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  EXPECT_EQ(v1::KV::NewStub(Channel(leader_))->Get(&ctx, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApiTest, CompareAndSwapMismatchIsFailedPrecondition) {
  ASSERT_TRUE(Put(leader_, "cas", "one").ok());
  auto kv = v1::KV::NewStub(Channel(follower_));
  v1::CompareAndSwapRequest req;
  req.set_key("cas");
  req.set_expected_value("two");
  req.set_value("three");
  v1::CompareAndSwapResponse resp;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  EXPECT_EQ(kv->CompareAndSwap(&ctx, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  req.set_expected_value("one");
  grpc::ClientContext ctx2;
  Deadline(&ctx2);
  ASSERT_TRUE(kv->CompareAndSwap(&ctx2, req, &resp).ok());
  EXPECT_TRUE(resp.swapped());
  EXPECT_GT(resp.revision(), 0u);
}

TEST_F(ApiTest, SessionsAreRegisteredThroughTheLogAndRetriesApplyOnce) {
  auto on_follower = v1::KV::NewStub(Channel(follower_));
  auto on_leader = v1::KV::NewStub(Channel(leader_));
  v1::RegisterSessionResponse first, second;
  {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(on_follower->RegisterSession(&ctx, v1::RegisterSessionRequest(), &first).ok());
    grpc::ClientContext ctx2;
    Deadline(&ctx2);
    ASSERT_TRUE(on_leader->RegisterSession(&ctx2, v1::RegisterSessionRequest(), &second).ok());
  }
  EXPECT_NE(first.client_id(), 0u);
  EXPECT_NE(first.client_id(), second.client_id());
  // A session registered through one member works on every member; a retry of the same
  // (session, seq) is applied once and gets the first answer.
  v1::PutRequest req;
  req.set_key("once");
  req.set_value("first");
  req.mutable_session()->set_client_id(first.client_id());
  req.mutable_session()->set_seq(1);
  v1::PutResponse resp1, resp2;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ASSERT_TRUE(on_follower->Put(&ctx, req, &resp1).ok());
  req.set_value("retry must not win");
  grpc::ClientContext ctx2;
  Deadline(&ctx2);
  ASSERT_TRUE(on_leader->Put(&ctx2, req, &resp2).ok());
  EXPECT_EQ(resp2.revision(), resp1.revision());
  v1::GetRequest get;
  get.set_key("once");
  v1::GetResponse got;
  grpc::ClientContext ctx3;
  Deadline(&ctx3);
  ASSERT_TRUE(on_leader->Get(&ctx3, get, &got).ok());
  EXPECT_EQ(got.value(), "first");
}

TEST_F(ApiTest, UnknownSessionIsFailedPreconditionWithATrailer) {
  v1::PutRequest req;
  req.set_key("no-session");
  req.set_value("v");
  req.mutable_session()->set_client_id(987654321);
  req.mutable_session()->set_seq(1);
  v1::PutResponse resp;
  for (int node : {leader_, follower_}) {
    grpc::ClientContext ctx;
    Deadline(&ctx);
    EXPECT_EQ(v1::KV::NewStub(Channel(node))->Put(&ctx, req, &resp).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
    const auto& trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find("rb-error");
    ASSERT_NE(it, trailers.end()) << "on node " << node;
    EXPECT_EQ(std::string(it->second.data(), it->second.size()), "session-expired");
  }
  v1::GetRequest get;
  get.set_key("no-session");
  v1::GetResponse got;
  grpc::ClientContext ctx;
  Deadline(&ctx);
  EXPECT_EQ(v1::KV::NewStub(Channel(leader_))->Get(&ctx, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ApiTest, LeaseReadsSeeTheLatestWriteOnEveryMember) {
  for (int round = 0; round < 3; ++round) {
    const std::string value = absl::StrCat("v", round);
    ASSERT_TRUE(Put(follower_, "lease", value).ok());
    for (int node : {1, 2, 3}) {
      v1::GetRequest get;
      get.set_key("lease");
      get.set_consistency(v1::LEASE);
      v1::GetResponse got;
      grpc::ClientContext ctx;
      Deadline(&ctx);
      ASSERT_TRUE(v1::KV::NewStub(Channel(node))->Get(&ctx, get, &got).ok()) << node;
      EXPECT_EQ(got.value(), value) << "node " << node;
    }
  }
}

TEST_F(ApiTest, UnavailableNamesTheLeader) {
  // A request already forwarded once is not forwarded again: the follower says who leads.
  grpc::ClientContext ctx;
  Deadline(&ctx);
  ctx.AddMetadata("rb-forwarded", "1");
  EXPECT_EQ(Put(follower_, "k", "v", &ctx).error_code(), grpc::StatusCode::UNAVAILABLE);
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto name = trailers.find("rb-leader-name");
  auto address = trailers.find("rb-leader-address");
  ASSERT_NE(name, trailers.end());
  ASSERT_NE(address, trailers.end());
  EXPECT_EQ(std::string(name->second.data(), name->second.size()), cluster_->name(leader_));
  EXPECT_EQ(std::string(address->second.data(), address->second.size()),
            cluster_->endpoint(leader_));
}

TEST_F(ApiTest, DeadlinePassesWhileTheLeaderCannotCommit) {
  std::vector<int> followers;
  for (int i = 1; i <= 3; ++i) {
    if (i != leader_) followers.push_back(i);
  }
  for (int f : followers) ASSERT_TRUE(cluster_->Pause(f));
  grpc::ClientContext ctx;
  Deadline(&ctx, absl::Milliseconds(500));
  const grpc::Status s = Put(leader_, "stuck", "v", &ctx);
  for (int f : followers) cluster_->Signal(f, SIGCONT);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
  ASSERT_TRUE(cluster_->AwaitAgreement({1, 2, 3}, 3, absl::Seconds(30)).ok());
  leader_ = *cluster_->AwaitAgreement({1, 2, 3}, 3, absl::Seconds(30));
  follower_ = leader_ == 1 ? 2 : 1;
}

// A client without a deadline of its own (the old Go client set none) gets the server's,
// REQUEST_TIMEOUT_MS (300 ms here, well inside the second after which a leader that hears
// from no follower steps down). Writes and point reads are answered through gRPC's
// callback API, so this is the server's deadline timer answering, not a handler thread
// that gave up waiting.
TEST(ApiDeadlineTest, TheServersDeadlineAnswersAWriteAndAReadThatCannotComplete) {
  LocalCluster c(3, {{"REQUEST_TIMEOUT_MS", "300"}});
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, absl::Seconds(30));
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto kv =
      v1::KV::NewStub(grpc::CreateChannel(c.endpoint(*leader), grpc::InsecureChannelCredentials()));
  auto put = [&](const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::PutRequest req;
    req.set_key(key);
    req.set_value("v");
    v1::PutResponse resp;
    return kv->Put(&ctx, req, &resp);
  };
  // A linearizable read needs a quorum's heartbeat answers, which stopped followers never
  // give.
  auto get = [&](const std::string& key) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::GetRequest req;
    req.set_key(key);
    req.set_consistency(v1::LINEARIZABLE);
    v1::GetResponse resp;
    return kv->Get(&ctx, req, &resp);
  };
  ASSERT_TRUE(put("before").ok());
  ASSERT_TRUE(get("before").ok());
  for (auto call : {std::function<grpc::Status()>([&] { return put("stuck"); }),
                    std::function<grpc::Status()>([&] { return get("before"); })}) {
    for (int i = 1; i <= 3; ++i) {
      if (i != *leader) ASSERT_TRUE(c.Pause(i));
    }
    const absl::Time start = absl::Now();
    const grpc::Status s = call();
    const absl::Duration took = absl::Now() - start;
    for (int i = 1; i <= 3; ++i) {
      if (i != *leader) c.Signal(i, SIGCONT);
    }
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << s.error_message();
    EXPECT_NE(s.error_message().find("deadline passed before the cluster answered"),
              std::string::npos)
        << "not the server's answer: " << s.error_message();
    EXPECT_GE(took, absl::Milliseconds(290));
    EXPECT_LT(took, absl::Seconds(30));
    leader = c.AwaitAgreement({1, 2, 3}, 3, absl::Seconds(30));
    ASSERT_TRUE(leader.ok()) << leader.status();
    kv = v1::KV::NewStub(
        grpc::CreateChannel(c.endpoint(*leader), grpc::InsecureChannelCredentials()));
  }
  // Reads go on once the followers are back.
  const grpc::Status after = get("before");
  EXPECT_TRUE(after.ok()) << after.error_message();
}

TEST_F(ApiTest, RangePagesThroughAPrefix) {
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(Put(leader_, absl::StrCat("range/", 100 + i), "v").ok());
  }
  ASSERT_TRUE(Put(leader_, "rangf", "outside").ok());
  auto kv = v1::KV::NewStub(Channel(follower_));
  std::vector<std::string> keys;
  std::string token;
  for (int page = 0; page < 10; ++page) {
    v1::RangeRequest req;
    req.set_prefix("range/");
    req.set_limit(10);
    req.set_page_token(token);
    v1::RangeResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    ASSERT_TRUE(kv->Range(&ctx, req, &resp).ok());
    EXPECT_LE(resp.kvs_size(), 10);
    for (const auto& row : resp.kvs()) keys.push_back(row.key());
    token = resp.next_page_token();
    if (token.empty()) break;
  }
  ASSERT_EQ(keys.size(), 25u);
  EXPECT_EQ(keys.front(), "range/100");
  EXPECT_EQ(keys.back(), "range/124");
}

TEST_F(ApiTest, HealthIsServingOnEveryMember) {
  for (int i = 1; i <= 3; ++i) {
    auto health = grpc::health::v1::Health::NewStub(Channel(i));
    grpc::ClientContext ctx;
    Deadline(&ctx);
    grpc::health::v1::HealthCheckResponse resp;
    ASSERT_TRUE(health->Check(&ctx, {}, &resp).ok()) << i;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << i;
  }
}

TEST(HealthTest, ANodeWaitingToBeAddedIsNotServing) {
  LocalCluster c(2);
  ASSERT_TRUE(c.Start(2).ok());  // not the bootstrap node: it waits, knowing no leader
  absl::Status last = absl::UnavailableError("never answered");
  for (int i = 0; i < 100; ++i) {
    auto health = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(c.endpoint(2), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    grpc::health::v1::HealthCheckResponse resp;
    if (health->Check(&ctx, {}, &resp).ok()) {
      EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
      last = absl::OkStatus();
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));  // polling another process
  }
  EXPECT_TRUE(last.ok()) << c.Log(2);
}

// What grpcurl does: list the services, fetch the descriptor of one, build a request from
// it at run time and call the method: no .proto file on the client side.
TEST_F(ApiTest, ReflectionListsDescribesAndCallsTheServices) {
  namespace refl = grpc::reflection::v1alpha;
  auto stub = refl::ServerReflection::NewStub(Channel(follower_));
  grpc::ClientContext ctx;
  Deadline(&ctx);
  auto stream = stub->ServerReflectionInfo(&ctx);
  refl::ServerReflectionRequest req;
  req.set_list_services("");
  ASSERT_TRUE(stream->Write(req));
  refl::ServerReflectionResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  std::set<std::string> services;
  for (const auto& s : resp.list_services_response().service()) services.insert(s.name());
  for (const char* want : {"badgerpb.BadgerService", "raftbadger.v1.KV", "raftbadger.v1.Cluster",
                           "grpc.health.v1.Health"}) {
    EXPECT_EQ(services.count(want), 1u) << want;
  }
  req.set_file_containing_symbol("badgerpb.BadgerService");
  ASSERT_TRUE(stream->Write(req));
  ASSERT_TRUE(stream->Read(&resp));
  ASSERT_GT(resp.file_descriptor_response().file_descriptor_proto_size(), 0)
      << resp.error_response().error_message();
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());

  google::protobuf::DescriptorPool pool;
  for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    ASSERT_NE(pool.BuildFile(file), nullptr);
  }
  const auto* service = pool.FindServiceByName("badgerpb.BadgerService");
  ASSERT_NE(service, nullptr);
  const auto* method = service->FindMethodByName("SaveEntries");
  ASSERT_NE(method, nullptr);
  google::protobuf::DynamicMessageFactory factory(&pool);
  std::unique_ptr<google::protobuf::Message> request(
      factory.GetPrototype(method->input_type())->New());
  const auto* reflection = request->GetReflection();
  reflection->SetString(request.get(), method->input_type()->FindFieldByName("id"), "via-refl");
  reflection->SetString(request.get(), method->input_type()->FindFieldByName("secrets"), "x");
  grpc::ByteBuffer request_buffer;
  bool own = false;
  const grpc::Status serialized =
      grpc::GenericSerialize<grpc::ProtoBufferWriter, google::protobuf::Message>(
          *request, &request_buffer, &own);
  ASSERT_TRUE(serialized.ok());
  grpc::GenericStub generic(Channel(follower_));
  grpc::ClientContext call;
  Deadline(&call);
  grpc::ByteBuffer response_buffer;
  std::promise<grpc::Status> done;
  generic.UnaryCall(&call, "/badgerpb.BadgerService/SaveEntries", grpc::StubOptions(),
                    &request_buffer, &response_buffer,
                    [&done](grpc::Status s) { done.set_value(s); });
  const grpc::Status s = done.get_future().get();
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::unique_ptr<google::protobuf::Message> response(
      factory.GetPrototype(method->output_type())->New());
  const grpc::Status deserialized =
      grpc::GenericDeserialize<grpc::ProtoBufferReader, google::protobuf::Message>(&response_buffer,
                                                                                   response.get());
  ASSERT_TRUE(deserialized.ok());
  EXPECT_TRUE(response->GetReflection()->GetBool(
      *response, method->output_type()->FindFieldByName("success")));
  client::Client client(client::ClientOptions{cluster_->endpoints()});
  auto got = client.Get("via-refl");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value, "x");
}

TEST_F(ApiTest, CliCommandsAndExitCodes) {
  const std::string endpoints = absl::StrCat("--endpoints=", cluster_->endpoint(1), ",",
                                             cluster_->endpoint(2), ",", cluster_->endpoint(3));
  const std::string dir = NewTestDir("cli");
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), endpoints);
    return RunToCompletion(CliBinary(), args, {{"PATH", "/usr/bin"}}, dir, absl::Seconds(30));
  };
  RunResult r = cli({"demo"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("demo ok: 2 followers agree"), std::string::npos) << r.output;
  r = cli({"put", "cli-key", "cli-value"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // A stale read on a follower sees the write once the follower learns it is committed:
  // with the next append or heartbeat (the server skips the commit broadcast), so within
  // a tick (100 ms) here. Bounded: a follower that never applies it fails the test.
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  do {
    r = cli(
        {"get", "cli-key", "--consistency=stale", "--endpoint=" + cluster_->endpoint(follower_)});
  } while (r.output != "cli-value\n" && absl::Now() < give_up);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "cli-value\n");
  r = cli({"get", "cli-missing"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = cli({"update", "cli-missing", "v"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = cli({"cas", "cli-key", "wrong", "new"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = cli({"cas", "cli-key", "cli-value", "new"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = cli({"list", "cli-"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "cli-key=new\n");
  r = cli({"status"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int i = 1; i <= 3; ++i) EXPECT_NE(r.output.find(cluster_->name(i)), std::string::npos);
  EXPECT_NE(r.output.find("leader"), std::string::npos);
  EXPECT_NE(r.output.find("LAG"), std::string::npos) << r.output;
  // The same for scripts: one JSON array, a member per endpoint, one leader.
  r = cli({"status", "-w", "json"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json rows = nlohmann::json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(rows.is_array()) << r.output;
  ASSERT_EQ(rows.size(), 3u) << r.output;
  int leaders = 0;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i]["endpoint"], cluster_->endpoint(i + 1));
    EXPECT_EQ(rows[i]["name"], cluster_->name(i + 1));
    EXPECT_GT(std::stoull(rows[i]["appliedIndex"].get<std::string>()), 0u) << rows[i];
    EXPECT_GT(std::stoull(rows[i]["dbSizeBytes"].get<std::string>()), 0u) << rows[i];
    if (rows[i]["role"] == "leader") {
      ++leaders;
      // The leader reports how each member is replicated to.
      ASSERT_EQ(rows[i]["members"].size(), 3u) << rows[i];
      for (const auto& m : rows[i]["members"]) EXPECT_EQ(m["progressState"], "replicate") << m;
    }
  }
  EXPECT_EQ(leaders, 1) << r.output;
  r = cli({"status", "-w", "yaml"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = cli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = RunToCompletion(CliBinary(), {"--endpoints=localhost:1", "--timeout=1s", "get", "k"},
                      {{"PATH", "/usr/bin"}}, dir, absl::Seconds(60));
  EXPECT_EQ(r.exit_code, 3) << r.output;
}

TEST_F(ApiTest, AFollowerFarBehindCatchesUpOverThePeerStream) {
  // The server's receive limit follows the value limit (1,000 bytes here), but the leader
  // sends a lagging follower up to 1 MiB of entries per append, many appends per batch.
  // Batches are bounded in bytes and the limit admits one: the follower catches up.
  ASSERT_TRUE(cluster_->Pause(follower_));
  const std::string value(kMaxValueBytes, 'v');
  // 2,000 entries of 1 KB (in parallel, so it is quick): far past one receive limit.
  std::vector<std::future<bool>> writers;
  for (int w = 0; w < 8; ++w) {
    writers.push_back(std::async(std::launch::async, [&, w] {
      for (int i = 0; i < 250; ++i) {
        if (!Put(leader_, absl::StrCat("behind/", w, "/", i), value).ok()) return false;
      }
      return true;
    }));
  }
  for (auto& w : writers) ASSERT_TRUE(w.get());
  cluster_->Signal(follower_, SIGCONT);
  auto agreed = cluster_->AwaitAgreement({1, 2, 3}, 3, absl::Seconds(20));
  ASSERT_TRUE(agreed.ok()) << agreed.status() << "\n" << cluster_->Log(follower_);
}

}  // namespace
}  // namespace rb::tests
