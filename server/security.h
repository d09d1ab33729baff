// Who may talk to this node, and how it proves itself to the others.
//
// With TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE set, the port serves TLS only; it asks
// every caller for a certificate and verifies one that is presented against the CA.
//   - A peer (the RaftPeer service) must present one, and it must name the member the peer
//     claims to be (a subject alternative name, or else the common name, equal to its
//     NODE_ID). This node dials peers expecting their certificate to name them too.
//   - A client must present one signed by the CA, or, where AUTH_TOKEN_FILE is set, send
//     that token (`authorization: Bearer <token>`), compared in constant time.
// Without TLS, peers are not authenticated; with AUTH_TOKEN_FILE, clients must still send
// the token. The server logs a warning for both. Health checks and reflection stay open.
#ifndef RAFTBADGER_SERVER_SECURITY_H_
#define RAFTBADGER_SERVER_SECURITY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/credentials.h"
#include "grpcpp/grpcpp.h"
#include "server/config.h"

namespace rb::server {

class NodeSecurity {
 public:
  // Plaintext, no token: the seed-style local start.
  NodeSecurity() = default;
  NodeSecurity(std::optional<client::TlsMaterial> tls, std::string token);
  // Reads the files the configuration names. Errors name the setting and the file.
  static absl::StatusOr<NodeSecurity> Load(const ServerConfig& config);

  bool tls() const { return tls_.has_value(); }
  const std::string& token() const { return token_; }
  // What an operator should know about this setup (plaintext, a token sent in clear).
  std::vector<std::string> Warnings() const;

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials() const;
  // For dialing other members as a client (forwarded writes, joining).
  std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials() const;
  // For dialing the peer named `peer_name`: with TLS, its certificate must name it,
  // whatever host its address has.
  std::shared_ptr<grpc::Channel> PeerChannel(const std::string& address,
                                             const std::string& peer_name,
                                             grpc::ChannelArguments args) const;
  // Attaches this node's token to a call it makes as a client (a forwarded write).
  void AttachToken(grpc::ClientContext* ctx) const { client::AttachToken(token_, ctx); }

  // OK, or UNAUTHENTICATED with what is missing. Never quotes what the caller sent.
  grpc::Status AuthorizeClient(const grpc::ServerContextBase& ctx) const;
  // OK, or PERMISSION_DENIED when, with TLS, the caller's certificate does not name
  // `claimed_name`.
  grpc::Status AuthorizePeer(const grpc::ServerContext& ctx, absl::string_view claimed_name) const;

 private:
  std::optional<client::TlsMaterial> tls_;
  std::string token_;   // empty: no token accepted or required
  std::string bearer_;  // the header value that carries token_, made once
};

// a == b, in time that depends on their lengths only.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_SECURITY_H_
