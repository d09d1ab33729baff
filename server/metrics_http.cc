#include "server/metrics_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace rb::server {

// The C callback's way into the class.
struct MetricsHttpAccess {
  static HttpReply Handle(const MetricsHttpServer* s, const std::string& method,
                          const std::string& path) {
    return s->Handle(method, path);
  }
};

namespace {

MHD_Result Answer(void* cls, MHD_Connection* connection, const char* url, const char* method,
                  const char* /*version*/, const char* /*upload_data*/, size_t* upload_data_size,
                  void** /*request_state*/) {
  // A request body (none is expected) is dropped as it arrives.
  *upload_data_size = 0;
  const HttpReply reply =
      MetricsHttpAccess::Handle(static_cast<const MetricsHttpServer*>(cls), method, url);
  MHD_Response* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", reply.content_type.c_str());
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

HttpReply MetricsHttpServer::Handle(const std::string& method, const std::string& path) const {
  if (method != "GET" && method != "HEAD") return HttpReply{405, "text/plain", "GET only\n"};
  auto it = options_.handlers.find(path);
  if (it == options_.handlers.end()) return HttpReply{404, "text/plain", "not found\n"};
  return it->second();
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    MetricsHttpOptions options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(options.port);
  if (getaddrinfo(options.host.empty() ? nullptr : options.host.c_str(), port.c_str(), &hints,
                  &res) != 0 ||
      res == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve \"", options.host, "\""));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, res->ai_addr, res->ai_addrlen);
  const bool ipv6 = res->ai_family == AF_INET6;
  freeaddrinfo(res);

  auto server = std::unique_ptr<MetricsHttpServer>(new MetricsHttpServer(std::move(options)));
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  if (ipv6) flags |= MHD_USE_IPv6;
  server->daemon_ = MHD_start_daemon(
      flags, static_cast<uint16_t>(server->options_.port), nullptr, nullptr, &Answer, server.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&addr), MHD_OPTION_CONNECTION_LIMIT,
      server->options_.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
      server->options_.idle_timeout_seconds, MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", server->options_.host, ":",
                                               server->options_.port, " (in use?)"));
  }
  return server;
}

int MetricsHttpServer::port() const {
  const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  return info != nullptr ? info->port : 0;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

}  // namespace rb::server
