#include "server/request_metrics.h"

#include <string>

#include "absl/time/clock.h"

namespace rb::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(RequestMetricsFactory* factory,
                            RequestMetricsFactory::MethodSeries* series, std::string method,
                            bool unary)
      : factory_(factory),
        series_(series),
        method_(std::move(method)),
        unary_(unary),
        start_(absl::Now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::StatusCode code = methods->GetSendStatus().error_code();
      factory_->CallsOf(series_, method_, code).Inc();
      if (unary_) series_->duration->Observe(absl::ToDoubleSeconds(absl::Now() - start_));
    }
    methods->Proceed();
  }

 private:
  RequestMetricsFactory* factory_;
  RequestMetricsFactory::MethodSeries* series_;
  const std::string method_;
  const bool unary_;
  const absl::Time start_;
};

}  // namespace

RequestMetricsFactory::MethodSeries* RequestMetricsFactory::SeriesOf(const std::string& method,
                                                                     bool unary) {
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = series_.find(method);
    if (it != series_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  auto& slot = series_[method];
  if (slot == nullptr) {
    slot = std::make_unique<MethodSeries>();
  }
  if (unary && slot->duration == nullptr) {
    slot->duration = &registry_->GetHistogram(
        "rb_grpc_request_duration_seconds", "Time from a unary gRPC call's arrival to its answer.",
        ExponentialBuckets(0.0001, 2, 18), {{"method", method}});
  }
  return slot.get();
}

Counter& RequestMetricsFactory::CallsOf(MethodSeries* series, const std::string& method,
                                        grpc::StatusCode code) {
  const size_t i = static_cast<size_t>(code);
  if (i >= series->by_code.size()) {
    return registry_->GetCounter("rb_grpc_requests_total",
                                 "gRPC calls answered, by method and status code.",
                                 {{"method", method}, {"code", GrpcCodeName(code)}});
  }
  Counter* counter = series->by_code[i].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // The registry returns the same series to every thread that asks: a race here only
    // stores the same pointer twice.
    counter = &registry_->GetCounter("rb_grpc_requests_total",
                                     "gRPC calls answered, by method and status code.",
                                     {{"method", method}, {"code", GrpcCodeName(code)}});
    series->by_code[i].store(counter, std::memory_order_release);
  }
  return *counter;
}

grpc::experimental::Interceptor* RequestMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const std::string method = info->method() != nullptr ? info->method() : "unknown";
  const bool unary = info->type() == grpc::experimental::ServerRpcInfo::Type::UNARY;
  // gRPC owns the interceptor and deletes it when the call ends.
  return new RequestMetricsInterceptor(this, SeriesOf(method, unary), method, unary);
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
