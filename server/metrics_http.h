// The HTTP endpoint beside the gRPC port: Prometheus scrapes /metrics, orchestrators probe
// /livez and /readyz. Served by GNU libmicrohttpd (Debian's libmicrohttpd-dev): a small,
// long-maintained C server with its own polling thread and hard limits on connections and
// idle time, so that no HTTP parsing is written here.
#ifndef RAFTBADGER_SERVER_METRICS_HTTP_H_
#define RAFTBADGER_SERVER_METRICS_HTTP_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct MHD_Daemon;

namespace rb::server {

struct HttpReply {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct MetricsHttpOptions {
  std::string host;  // address to listen on (a name is resolved; the first address is used)
  int port = 0;      // 0: any free port (see MetricsHttpServer::port)
  // By exact path; other paths get 404, methods other than GET and HEAD 405. Handlers run
  // on the server's thread, one request at a time.
  std::map<std::string, std::function<HttpReply()>> handlers;
  unsigned max_connections = 32;
  unsigned idle_timeout_seconds = 10;
};

class MetricsHttpServer {
 public:
  // Listens and serves until destroyed. An error if the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(MetricsHttpOptions options);
  ~MetricsHttpServer();
  // The port it listens on (the one chosen by the system if options.port was 0).
  int port() const;

 private:
  explicit MetricsHttpServer(MetricsHttpOptions options) : options_(std::move(options)) {}
  HttpReply Handle(const std::string& method, const std::string& path) const;
  friend struct MetricsHttpAccess;

  const MetricsHttpOptions options_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_METRICS_HTTP_H_
