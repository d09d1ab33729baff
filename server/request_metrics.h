// Per-call metrics of the gRPC server, taken by an interceptor so that no handler has to
// remember them: rb_grpc_requests_total{method,code} for every call, and
// rb_grpc_request_duration_seconds{method} for unary calls (a peer's stream lives as long
// as the connection, so its duration says nothing).
#ifndef RAFTBADGER_SERVER_REQUEST_METRICS_H_
#define RAFTBADGER_SERVER_REQUEST_METRICS_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_interceptor.h"
#include "server/metrics.h"

namespace rb::server {

class RequestMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // A method's series, looked up once per method: every call then updates atomics only,
  // never the registry's lock.
  struct MethodSeries {
    Histogram* duration = nullptr;                    // unary methods only
    std::array<std::atomic<Counter*>, 17> by_code{};  // by grpc::StatusCode, filled on use
  };

  explicit RequestMetricsFactory(MetricsRegistry* registry) : registry_(registry) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;
  // The calls counter of method and code.
  Counter& CallsOf(MethodSeries* series, const std::string& method, grpc::StatusCode code);

 private:
  // The series of method, with its duration histogram if unary.
  MethodSeries* SeriesOf(const std::string& method, bool unary);

  MetricsRegistry* registry_;
  absl::Mutex mu_;
  // Methods are the server's own (a fixed set): the map stays small. Nodes never move.
  std::map<std::string, std::unique_ptr<MethodSeries>> series_ ABSL_GUARDED_BY(mu_);
};

// The status code's name as gRPC spells it (OK, NOT_FOUND, ...).
const char* GrpcCodeName(grpc::StatusCode code);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_REQUEST_METRICS_H_
