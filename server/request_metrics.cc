#include "server/request_metrics.h"

#include <string>

#include "absl/time/clock.h"

namespace rb::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(MetricsRegistry* registry, grpc::experimental::ServerRpcInfo* info)
      : registry_(registry),
        method_(info->method() != nullptr ? info->method() : "unknown"),
        unary_(info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::StatusCode code = methods->GetSendStatus().error_code();
      registry_
          ->GetCounter("rb_grpc_requests_total", "gRPC calls answered, by method and status code.",
                       {{"method", method_}, {"code", GrpcCodeName(code)}})
          .Inc();
      if (unary_) {
        registry_
            ->GetHistogram("rb_grpc_request_duration_seconds",
                           "Time from a unary gRPC call's arrival to its answer.",
                           ExponentialBuckets(0.0001, 2, 18), {{"method", method_}})
            .Observe(absl::ToDoubleSeconds(absl::Now() - start_));
      }
    }
    methods->Proceed();
  }

 private:
  MetricsRegistry* registry_;
  const std::string method_;
  const bool unary_;
  const absl::Time start_;
};

}  // namespace

grpc::experimental::Interceptor* RequestMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new RequestMetricsInterceptor(registry_, info);  // gRPC owns and deletes it
}

const char* GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "OTHER";
  }
}

}  // namespace rb::server
