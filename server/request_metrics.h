// Per-call metrics of the gRPC server, taken by an interceptor so that no handler has to
// remember them: rb_grpc_requests_total{method,code} for every call, and
// rb_grpc_request_duration_seconds{method} for unary calls (a peer's stream lives as long
// as the connection, so its duration says nothing).
#ifndef RAFTBADGER_SERVER_REQUEST_METRICS_H_
#define RAFTBADGER_SERVER_REQUEST_METRICS_H_

#include "grpcpp/support/server_interceptor.h"
#include "server/metrics.h"

namespace rb::server {

class RequestMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestMetricsFactory(MetricsRegistry* registry) : registry_(registry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  MetricsRegistry* registry_;
};

// The status code's name as gRPC spells it (OK, NOT_FOUND, ...).
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_REQUEST_METRICS_H_
