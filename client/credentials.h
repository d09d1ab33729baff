// How a process proves itself to RaftBadger and checks whom it talks to: TLS files (a CA
// to verify servers with, and optionally a certificate and key of its own for mutual TLS)
// and a bearer token. Shared by the client library, the CLI and the server (whose peer
// links and forwarded writes are clients of other members).
#ifndef RAFTBADGER_CLIENT_CREDENTIALS_H_
#define RAFTBADGER_CLIENT_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

namespace rb::client {

// PEM files. All empty: plaintext. A CA alone: TLS that verifies the server only. A CA,
// certificate and key: mutual TLS.
struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// The PEM contents of TlsFiles, read and checked.
struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;  // empty: no client certificate
  std::string key_pem;
};

// Reads and checks the files: a CA is required once any is given, and a certificate comes
// with its key. Errors name the file and what is wrong with it.
absl::StatusOr<TlsMaterial> LoadTls(const TlsFiles& files);

// Credentials for dialing members: TLS from `tls` when it is set, plaintext otherwise.
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsMaterial* tls);

// Reads a secret (a bearer token) from a file: surrounding whitespace is dropped; an empty
// file is an error. The error never holds the file's contents.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

// The metadata key and value that carry a bearer token on a call.
inline constexpr char kAuthorizationKey[] = "authorization";
std::string BearerValue(absl::string_view token);

// Attaches `token` to one call (nothing when it is empty). Metadata rather than gRPC call
// credentials: those are refused on plaintext channels, and the token is also meant for
// deployments without TLS (the server warns about those).
void AttachToken(const std::string& token, grpc::ClientContext* ctx);

}  // namespace rb::client

#endif  // RAFTBADGER_CLIENT_CREDENTIALS_H_
