#include "client/credentials.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rb::client {
namespace {

// Certificates and keys are small; anything larger is not one.
constexpr size_t kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, " ", path, ": cannot be read"));
  std::string bytes;
  bytes.resize(kMaxPemBytes + 1);
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": larger than 1 MiB"));
  }
  return bytes;
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what,
                                    absl::string_view marker) {
  auto pem = ReadSmallFile(path, what);
  if (!pem.ok()) return pem.status();
  if (!absl::StrContains(*pem, "-----BEGIN ") || !absl::StrContains(*pem, marker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, ": not a PEM file holding a ", marker, " block"));
  }
  return pem;
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTls(const TlsFiles& files) {
  if (files.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs the CA certificate file that signed the cluster's certificates");
  }
  if (files.cert_file.empty() != files.key_file.empty()) {
    return absl::InvalidArgumentError("a TLS certificate file and its key file go together");
  }
  TlsMaterial out;
  auto ca = ReadPem(files.ca_file, "CA certificate file", "CERTIFICATE-----");
  if (!ca.ok()) return ca.status();
  out.ca_pem = *std::move(ca);
  if (!files.cert_file.empty()) {
    auto cert = ReadPem(files.cert_file, "certificate file", "CERTIFICATE-----");
    if (!cert.ok()) return cert.status();
    auto key = ReadPem(files.key_file, "key file", "PRIVATE KEY-----");
    if (!key.ok()) return key.status();
    out.cert_pem = *std::move(cert);
    out.key_pem = *std::move(key);
  }
  return out;
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsMaterial* tls) {
  if (tls == nullptr) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = tls->ca_pem;
  options.pem_cert_chain = tls->cert_pem;
  options.pem_private_key = tls->key_pem;
  return grpc::SslCredentials(options);
}

absl::StatusOr<std::string> ReadSecretFile(const std::string& path) {
  auto bytes = ReadSmallFile(path, "token file");
  if (!bytes.ok()) return bytes.status();
  std::string token(absl::StripAsciiWhitespace(*bytes));
  if (token.empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  for (char c : token) {
    // It travels as an HTTP/2 header value.
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("token file ", path, ": the token must be printable ASCII without spaces"));
    }
  }
  return token;
}

std::string BearerValue(absl::string_view token) { return absl::StrCat("Bearer ", token); }

void AttachToken(const std::string& token, grpc::ClientContext* ctx) {
  if (!token.empty()) ctx->AddMetadata(kAuthorizationKey, BearerValue(token));
}

}  // namespace rb::client
