#include "server/grpc_limits.h"

#include "base/logging.h"
#include "grpcpp/resource_quota.h"

namespace rb::server {

void ApplyGrpcLimits(const GrpcLimits& limits, grpc::ServerBuilder* builder) {
  RB_CHECK(limits.max_receive_bytes > 0 && limits.max_handler_threads > 0,
           "gRPC limits must be set");
  grpc::ResourceQuota quota("raftbadger-server");
  quota.SetMaxThreads(limits.max_handler_threads);
  quota.Resize(static_cast<size_t>(limits.max_memory_bytes));
  builder->SetResourceQuota(quota);
  // A handler thread that finishes while this many others poll exits, and the next request
  // starts a new one. gRPC's default (2) made every request under load create and destroy
  // a thread (a fifth of the server's CPU with 64 clients); idle threads now wait instead.
  builder->SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                               limits.max_handler_threads);
  builder->SetMaxReceiveMessageSize(static_cast<int>(limits.max_receive_bytes));
  builder->AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_streams_per_connection);
  builder->AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                              static_cast<int>(absl::ToInt64Milliseconds(limits.max_idle)));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                              static_cast<int>(absl::ToInt64Milliseconds(limits.keepalive_time)));
  builder->AddChannelArgument(
      GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
      static_cast<int>(absl::ToInt64Milliseconds(limits.keepalive_timeout)));
  // Clients and peers may ping an idle connection (peers' channels keep theirs alive
  // between batches) as often as once a second without being cut off.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // gRPC binds with SO_REUSEPORT unless told not to, and then a second server on this port
  // starts as well and takes a share of the connections. Without it, the second fails.
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

}  // namespace rb::server
