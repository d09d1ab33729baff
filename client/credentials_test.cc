#include "client/credentials.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace rb::client {
namespace {

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const char* dir = std::getenv("TEST_TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

const char kCert[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
const char kKey[] = "-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";

TEST(LoadTlsTest, ReadsACaCertificateAndKey) {
  TlsFiles files{WriteTemp("ca.pem", kCert), WriteTemp("c.pem", kCert), WriteTemp("k.pem", kKey)};
  auto tls = LoadTls(files);
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->ca_pem, kCert);
  EXPECT_EQ(tls->cert_pem, kCert);
  EXPECT_EQ(tls->key_pem, kKey);
}

TEST(LoadTlsTest, ACaAloneVerifiesServersOnly) {
  auto tls = LoadTls(TlsFiles{WriteTemp("ca2.pem", kCert), "", ""});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->cert_pem.empty());
}

TEST(LoadTlsTest, RefusesIncompleteOrWrongFiles) {
  const std::string cert = WriteTemp("c3.pem", kCert);
  const std::string key = WriteTemp("k3.pem", kKey);
  EXPECT_EQ(LoadTls(TlsFiles{"", cert, key}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTls(TlsFiles{cert, cert, ""}).status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = LoadTls(TlsFiles{"/nonexistent/ca.pem", "", ""});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  // A key where the certificate belongs, and the reverse.
  auto swapped = LoadTls(TlsFiles{cert, key, cert});
  EXPECT_EQ(swapped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(swapped.status().message().find("certificate file"), std::string::npos);
  auto garbage = LoadTls(TlsFiles{WriteTemp("junk.pem", "hello"), "", ""});
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReadSecretFileTest, DropsSurroundingWhitespace) {
  auto token = ReadSecretFile(WriteTemp("t1", "  s3cret-Token\n"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cret-Token");
}

TEST(ReadSecretFileTest, RefusesEmptyAndUnprintableTokensWithoutQuotingThem) {
  EXPECT_FALSE(ReadSecretFile(WriteTemp("t2", " \n")).ok());
  auto spaced = ReadSecretFile(WriteTemp("t3", "abc def-planted"));
  ASSERT_FALSE(spaced.ok());
  EXPECT_EQ(spaced.status().message().find("planted"), std::string::npos);
  EXPECT_FALSE(ReadSecretFile("/nonexistent/token").ok());
}

TEST(BearerValueTest, IsTheAuthorizationHeaderValue) {
  EXPECT_EQ(BearerValue("abc"), "Bearer abc");
}

}  // namespace
}  // namespace rb::client
