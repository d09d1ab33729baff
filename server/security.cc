#include "server/security.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rb::server {

NodeSecurity::NodeSecurity(std::optional<client::TlsMaterial> tls, std::string token)
    : tls_(std::move(tls)),
      token_(std::move(token)),
      bearer_(token_.empty() ? "" : client::BearerValue(token_)) {}

absl::StatusOr<NodeSecurity> NodeSecurity::Load(const ServerConfig& config) {
  std::optional<client::TlsMaterial> tls;
  const client::TlsFiles files{config.tls_ca_file, config.tls_cert_file, config.tls_key_file};
  if (files.enabled()) {  // all three: ResolveConfig refuses fewer
    auto loaded = client::LoadTls(files);
    if (!loaded.ok()) {
      return absl::Status(loaded.status().code(),
                          absl::StrCat("TLS settings: ", loaded.status().message()));
    }
    tls = *std::move(loaded);
  }
  std::string token;
  if (!config.auth_token_file.empty()) {
    auto read = client::ReadSecretFile(config.auth_token_file);
    if (!read.ok()) {
      return absl::Status(read.status().code(),
                          absl::StrCat("AUTH_TOKEN_FILE: ", read.status().message()));
    }
    token = *std::move(read);
  }
  return NodeSecurity(std::move(tls), std::move(token));
}

std::vector<std::string> NodeSecurity::Warnings() const {
  std::vector<std::string> out;
  if (!tls()) {
    out.push_back(
        "serving without TLS: peers are not authenticated and traffic is not encrypted "
        "(set TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE)");
    if (!token_.empty()) out.push_back("the client token travels in plaintext");
  }
  return out;
}

std::shared_ptr<grpc::ServerCredentials> NodeSecurity::ServerCredentials() const {
  if (!tls()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(
      // Verified when presented; whether one is required is decided per call, so that a
      // client without one gets a clear UNAUTHENTICATED (or may use the token).
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = tls_->ca_pem;
  options.pem_key_cert_pairs.push_back({tls_->key_pem, tls_->cert_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> NodeSecurity::ChannelCredentials() const {
  return client::ChannelCredentials(tls_ ? &*tls_ : nullptr);
}

std::shared_ptr<grpc::Channel> NodeSecurity::PeerChannel(const std::string& address,
                                                         const std::string& peer_name,
                                                         grpc::ChannelArguments args) const {
  if (tls()) args.SetSslTargetNameOverride(peer_name);
  return grpc::CreateCustomChannel(address, ChannelCredentials(), args);
}

namespace {

bool HasVerifiedCertificate(const grpc::ServerContextBase& ctx) {
  auto auth = ctx.auth_context();
  return auth != nullptr && auth->IsPeerAuthenticated();
}

}  // namespace

grpc::Status NodeSecurity::AuthorizeClient(const grpc::ServerContextBase& ctx) const {
  if (!tls() && token_.empty()) return grpc::Status::OK;
  if (tls() && HasVerifiedCertificate(ctx)) return grpc::Status::OK;
  if (!token_.empty()) {
    const auto& metadata = ctx.client_metadata();
    auto [begin, end] = metadata.equal_range(client::kAuthorizationKey);
    if (begin == end) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          tls() ? "send a client certificate signed by the cluster's CA, or "
                                  "`authorization: Bearer <token>`"
                                : "send `authorization: Bearer <token>`");
    }
    for (auto it = begin; it != end; ++it) {
      if (ConstantTimeEquals(absl::string_view(it->second.data(), it->second.size()), bearer_)) {
        return grpc::Status::OK;
      }
    }
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the bearer token is not valid");
  }
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                      "a client certificate signed by the cluster's CA is required");
}

grpc::Status NodeSecurity::AuthorizePeer(const grpc::ServerContext& ctx,
                                         absl::string_view claimed_name) const {
  if (!tls()) return grpc::Status::OK;
  if (!HasVerifiedCertificate(ctx)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "peers must present a certificate signed by the cluster's CA");
  }
  for (const grpc::string_ref& name : ctx.auth_context()->GetPeerIdentity()) {
    if (absl::string_view(name.data(), name.size()) == claimed_name) return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      absl::StrCat("the peer's certificate does not name ", claimed_name));
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  // Every byte of the longer string is looked at whatever the contents, so the time says
  // nothing about how long a matching prefix is.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

}  // namespace rb::server
