#include "server/security.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/raftbadger.grpc.pb.h"
#include "tests/test_certs.h"

namespace rb::server {
namespace {

namespace v1 = raftbadger::v1;

// Answers Status when the caller passes this node's checks: as a peer when the call
// carries "claim: <name>", as a client otherwise.
class Guarded final : public v1::Cluster::Service {
 public:
  explicit Guarded(const NodeSecurity* security) : security_(security) {}
  grpc::Status Status(grpc::ServerContext* ctx, const v1::StatusRequest*,
                      v1::StatusResponse* resp) override {
    auto claim = ctx->client_metadata().find("claim");
    grpc::Status s = claim == ctx->client_metadata().end()
                         ? security_->AuthorizeClient(*ctx)
                         : security_->AuthorizePeer(
                               *ctx, std::string(claim->second.data(), claim->second.size()));
    if (s.ok()) resp->set_name("served");
    return s;
  }

 private:
  const NodeSecurity* security_;
};

class Server {
 public:
  explicit Server(NodeSecurity security) : security_(std::move(security)), service_(&security_) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", security_.ServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~Server() { server_->Shutdown(); }
  std::string address() const { return absl::StrCat("localhost:", port_); }

 private:
  NodeSecurity security_;
  Guarded service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel, const std::string& token = "",
                  const std::string& claim = "") {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  client::AttachToken(token, &ctx);
  if (!claim.empty()) ctx.AddMetadata("claim", claim);
  v1::StatusResponse resp;
  grpc::Status s = v1::Cluster::NewStub(channel)->Status(&ctx, v1::StatusRequest(), &resp);
  if (s.ok()) {
    EXPECT_EQ(resp.name(), "served");
  }
  return s;
}

std::shared_ptr<grpc::Channel> Dial(const std::string& address, const client::TlsMaterial* tls) {
  return grpc::CreateChannel(address, client::ChannelCredentials(tls));
}

client::TlsMaterial Load(const tests::TestCa& ca, const std::string& name) {
  auto tls = client::LoadTls(client::TlsFiles{ca.ca_file, name.empty() ? "" : ca.cert_file(name),
                                              name.empty() ? "" : ca.key_file(name)});
  EXPECT_TRUE(tls.ok()) << tls.status();
  return tls.ok() ? *tls : client::TlsMaterial{};
}

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string root = std::getenv("TEST_TMPDIR");
    auto ca = tests::MakeTestCa(root + "/ca", "rb-test-ca", {"replica1", "replica2", "client1"});
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = new tests::TestCa(*ca);
    auto rogue = tests::MakeTestCa(root + "/rogue", "rogue-ca", {"replica2"});
    ASSERT_TRUE(rogue.ok()) << rogue.status();
    rogue_ = new tests::TestCa(*rogue);
  }
  static tests::TestCa* ca_;
  static tests::TestCa* rogue_;
};
tests::TestCa* SecurityTest::ca_ = nullptr;
tests::TestCa* SecurityTest::rogue_ = nullptr;

TEST_F(SecurityTest, PlaintextWithoutTokenAdmitsEveryone) {
  Server server{NodeSecurity()};
  EXPECT_TRUE(Call(Dial(server.address(), nullptr)).ok());
  EXPECT_FALSE(NodeSecurity().Warnings().empty());
}

TEST_F(SecurityTest, ATokenIsRequiredWhereOneIsSet) {
  Server server{NodeSecurity(std::nullopt, "s3cret")};
  auto channel = Dial(server.address(), nullptr);
  EXPECT_EQ(Call(channel).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = Call(channel, "s3cre");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(wrong.error_message().find("s3cre"), std::string::npos);
  EXPECT_EQ(Call(channel, "s3cret-and-more").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Call(channel, "s3cret").ok());
}

TEST_F(SecurityTest, WithTlsClientsNeedACertificateFromTheClustersCa) {
  Server server{NodeSecurity(Load(*ca_, "replica1"), "")};
  const client::TlsMaterial with_cert = Load(*ca_, "client1");
  const client::TlsMaterial without_cert = Load(*ca_, "");
  EXPECT_TRUE(Call(Dial(server.address(), &with_cert)).ok());
  EXPECT_EQ(Call(Dial(server.address(), &without_cert)).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // No token is configured, so none admits a client.
  EXPECT_EQ(Call(Dial(server.address(), &without_cert), "anything").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // A certificate from another CA fails the handshake; so does a client that does not
  // trust the server's CA, and one that speaks plaintext.
  client::TlsMaterial rogue = Load(*rogue_, "replica2");
  rogue.ca_pem = with_cert.ca_pem;  // trusts the server, but its own certificate is foreign
  EXPECT_EQ(Call(Dial(server.address(), &rogue)).error_code(), grpc::StatusCode::UNAVAILABLE);
  const client::TlsMaterial distrusting = Load(*rogue_, "replica2");
  EXPECT_EQ(Call(Dial(server.address(), &distrusting)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Call(Dial(server.address(), nullptr)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(NodeSecurity(Load(*ca_, "replica1"), "").Warnings().empty());
}

TEST_F(SecurityTest, WithTlsAndATokenAClientMayUseEither) {
  Server server{NodeSecurity(Load(*ca_, "replica1"), "tok-42")};
  const client::TlsMaterial without_cert = Load(*ca_, "");
  EXPECT_TRUE(Call(Dial(server.address(), &without_cert), "tok-42").ok());
  EXPECT_EQ(Call(Dial(server.address(), &without_cert), "tok-43").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const client::TlsMaterial with_cert = Load(*ca_, "client1");
  EXPECT_TRUE(Call(Dial(server.address(), &with_cert)).ok());
}

TEST_F(SecurityTest, APeersCertificateMustNameTheMemberItClaims) {
  Server server{NodeSecurity(Load(*ca_, "replica1"), "")};
  const client::TlsMaterial replica2 = Load(*ca_, "replica2");
  EXPECT_TRUE(Call(Dial(server.address(), &replica2), "", "replica2").ok());
  EXPECT_EQ(Call(Dial(server.address(), &replica2), "", "replica3").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const client::TlsMaterial without_cert = Load(*ca_, "");
  EXPECT_EQ(Call(Dial(server.address(), &without_cert), "", "replica2").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, PeersAreDialedExpectingTheirOwnName) {
  Server server{NodeSecurity(Load(*ca_, "replica1"), "")};
  const NodeSecurity replica2(Load(*ca_, "replica2"), "");
  EXPECT_TRUE(Call(replica2.PeerChannel(server.address(), "replica1", {}), "", "replica2").ok());
  // The server's certificate names replica1 (and localhost), not replica3.
  EXPECT_EQ(
      Call(replica2.PeerChannel(server.address(), "replica3", {}), "", "replica2").error_code(),
      grpc::StatusCode::UNAVAILABLE);
}

TEST(ConstantTimeEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("Bearer abc", "Bearer abc"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer abc", "Bearer abd"));
  EXPECT_FALSE(ConstantTimeEquals("Bearer ab", "Bearer abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", std::string("abc\0", 4)));
}

}  // namespace
}  // namespace rb::server
