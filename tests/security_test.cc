// The real binary with TLS and a token: a 3-node cluster on mutual TLS forms only from
// members whose certificates name them, admits clients with a certificate from its CA or
// the token and no one else, and leaves a planted value and token out of every log,
// error and metric.
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "client/credentials.h"
#include "gtest/gtest.h"
#include "proto/raftbadger.grpc.pb.h"
#include "tests/local_cluster.h"
#include "tests/process.h"
#include "tests/test_certs.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

constexpr char kSecretValue[] = "PLANTED-VALUE-7f3a9c51";
constexpr char kToken[] = "PLANTED-TOKEN-b81d44e0";

client::TlsMaterial Tls(const TestCa& ca, const std::string& name) {
  auto tls = client::LoadTls(client::TlsFiles{ca.ca_file, name.empty() ? "" : ca.cert_file(name),
                                              name.empty() ? "" : ca.key_file(name)});
  EXPECT_TRUE(tls.ok()) << tls.status();
  return tls.ok() ? *tls : client::TlsMaterial{};
}

client::Client MakeClient(const LocalCluster& c, const client::TlsMaterial* tls,
                          const std::string& token) {
  client::ClientOptions options{c.endpoints()};
  options.call_timeout = absl::Seconds(2);
  options.total_timeout = absl::Seconds(4);
  options.credentials = client::ChannelCredentials(tls);
  options.token = token;
  return client::Client(options);
}

TEST(SecurityTest, MutualTlsAdmitsOnlyTheClustersMembersAndClients) {
  const std::string dir = NewTestDir("certs");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << kToken << "\n";
  // The cluster first, for its members' names; the CA file is given to each start.
  LocalCluster c(3, {{"AUTH_TOKEN_FILE", token_file}});
  auto ca = MakeTestCa(dir + "/ca", "rb-cluster-ca", {c.name(1), c.name(2), c.name(3), "client1"});
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto rogue = MakeTestCa(dir + "/rogue", "rogue-ca", {"client1"});
  ASSERT_TRUE(rogue.ok()) << rogue.status();

  std::map<int, int> metrics_ports;
  auto start = [&](int i, const std::string& cert_name) {
    metrics_ports[i] = FreePort();
    return c.Start(i, {{"TLS_CA_FILE", ca->ca_file},
                       {"TLS_CERT_FILE", ca->cert_file(cert_name)},
                       {"TLS_KEY_FILE", ca->key_file(cert_name)},
                       {"METRICS_PORT", std::to_string(metrics_ports[i])}});
  };
  const client::TlsMaterial client1 = Tls(*ca, "client1");
  c.set_client_security(client::ChannelCredentials(&client1), "");
  ASSERT_TRUE(start(1, c.name(1)).ok());
  ASSERT_TRUE(start(2, c.name(2)).ok());
  // Node 3 presents node 1's certificate: a member, but not the one it claims to be.
  ASSERT_TRUE(start(3, c.name(1)).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2}, 2, kFormTimeout).ok()) << c.Logs();
  // The leader dials it expecting a certificate that names node 3, and gives up on it:
  // it stays a learner that never catches up (voters stay 2, above).
  const std::string refused = "cannot reach peer " + c.name(3) + " (";
  EXPECT_TRUE(c.AwaitLog(1, refused, kFormTimeout) || c.AwaitLog(2, refused, kFormTimeout))
      << c.Logs();
  // With its own certificate it catches up and is promoted.
  c.Signal(3, SIGTERM);
  ASSERT_TRUE(c.WaitExit(3, absl::Seconds(20)).has_value());
  ASSERT_TRUE(start(3, c.name(3)).ok());
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(c.Log(i).find("serving without TLS"), std::string::npos) << c.name(i);
  }

  // A client with a certificate from the cluster's CA writes; one with only the token reads.
  client::Client with_cert = MakeClient(c, &client1, "");
  ASSERT_TRUE(with_cert.Put("secret-key", kSecretValue).ok());
  const client::TlsMaterial ca_only = Tls(*ca, "");
  client::Client with_token = MakeClient(c, &ca_only, kToken);
  const int follower = *leader % 3 + 1;
  auto got = with_token.Get("secret-key", v1::LINEARIZABLE, c.endpoint(follower));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value, kSecretValue);
  {
    // A write sent to a follower with the token is forwarded to the leader on the
    // follower's own certificate.
    auto stub = v1::KV::NewStub(
        grpc::CreateChannel(c.endpoint(follower), client::ChannelCredentials(&ca_only)));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    client::AttachToken(kToken, &ctx);
    v1::PutRequest req;
    req.set_key("forwarded");
    req.set_value("v");
    v1::PutResponse resp;
    grpc::Status s = stub->Put(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Everyone else is refused, without the value in the error.
  auto no_credentials = MakeClient(c, &ca_only, "").Get("secret-key");
  EXPECT_EQ(no_credentials.status().code(), absl::StatusCode::kUnauthenticated)
      << no_credentials.status();
  auto wrong_token = MakeClient(c, &ca_only, "PLANTED-TOKEN-b81d44e1").Put("k", "v");
  EXPECT_EQ(wrong_token.status().code(), absl::StatusCode::kUnauthenticated);
  const client::TlsMaterial foreign = [&] {
    client::TlsMaterial t = Tls(*rogue, "client1");
    t.ca_pem = client1.ca_pem;  // trusts the cluster; its own certificate is foreign
    return t;
  }();
  EXPECT_FALSE(MakeClient(c, &foreign, "").Get("secret-key").ok());
  auto plaintext = MakeClient(c, nullptr, kToken).Get("secret-key");
  EXPECT_EQ(plaintext.status().code(), absl::StatusCode::kUnavailable) << plaintext.status();

  // Errors about a value or key do not quote it.
  const std::string big = absl::StrCat(kSecretValue, std::string(2 << 20, 'x'));
  auto too_big = with_cert.Put("k", big);
  ASSERT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().message().find(kSecretValue), std::string::npos);
  auto long_key = with_cert.Put(absl::StrCat(kSecretValue, std::string(5000, 'k')), "v");
  ASSERT_FALSE(long_key.ok());
  EXPECT_EQ(long_key.status().message().find(kSecretValue), std::string::npos);

  // No log line or metric holds the value or the token.
  for (int i = 1; i <= 3; ++i) {
    const std::string metrics = HttpGet(metrics_ports[i], "/metrics");
    EXPECT_EQ(HttpStatus(metrics), 200);
    for (const std::string& text : {c.Log(i), metrics}) {
      EXPECT_EQ(text.find(kSecretValue), std::string::npos) << c.name(i);
      EXPECT_EQ(text.find(kToken), std::string::npos) << c.name(i);
    }
    EXPECT_NE(metrics.find("reason=\"unauthenticated\""), std::string::npos);
  }
}

TEST(SecurityTest, APlaintextClusterWithATokenRefusesClientsWithoutIt) {
  const std::string dir = NewTestDir("token");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << kToken;
  LocalCluster c(3, {{"AUTH_TOKEN_FILE", token_file}});
  c.set_client_security(grpc::InsecureChannelCredentials(), kToken);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  EXPECT_NE(c.Log(1).find("the client token travels in plaintext"), std::string::npos);
  ASSERT_TRUE(MakeClient(c, nullptr, kToken).Put("k", kSecretValue).ok());
  EXPECT_EQ(MakeClient(c, nullptr, "").Put("k", "v").status().code(),
            absl::StatusCode::kUnauthenticated);
  auto read = MakeClient(c, nullptr, kToken).Get("k");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->value, kSecretValue);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(c.Log(i).find(kToken), std::string::npos);
    EXPECT_EQ(c.Log(i).find(kSecretValue), std::string::npos);
  }
}

TEST(SecurityTest, UnreadableTlsFilesStopTheNodeWithAClearMessage) {
  LocalCluster c(1, {{"TLS_CERT_FILE", "/nonexistent/cert.pem"},
                     {"TLS_KEY_FILE", "/nonexistent/key.pem"},
                     {"TLS_CA_FILE", "/nonexistent/ca.pem"}});
  ASSERT_TRUE(c.Start(1).ok());
  auto code = c.WaitExit(1, absl::Seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(c.Log(1).find("/nonexistent/ca.pem"), std::string::npos) << c.Log(1);
}

}  // namespace
}  // namespace rb::tests
