// Limits of the gRPC server, chosen here rather than left to the library's defaults (which
// let a flood of clients start a thread each and hold connections forever).
//
// - Handler threads: at most max_handler_threads run synchronous requests (reads, admin)
//   at once; a request that finds none free is refused with RESOURCE_EXHAUSTED before it
//   is read, so that a flood is shed instead of queued without bound. Writes use the
//   callback API and hold no thread; KvCore bounds them at the same number. (The node's
//   own bound, MAX_PENDING_REQUESTS, sheds what gets that far.)
// - Memory: gRPC's buffers for this server are bounded by max_memory_bytes.
// - Streams per connection: bounded (a client cannot open thousands of calls on one
//   connection); peers use two long-lived streams each.
// - Idle and half-open connections: a connection with no call for max_idle is closed;
//   the server pings a silent client every keepalive_time and closes the connection if
//   no answer comes within keepalive_timeout (a peer that vanished without a FIN).
// - Message size: see main.cc (one limit for clients and peers, set with the rest).
// - The port: this server's alone; a second server on it fails to start (gRPC would
//   otherwise share it through SO_REUSEPORT).
#ifndef RAFTBADGER_SERVER_GRPC_LIMITS_H_
#define RAFTBADGER_SERVER_GRPC_LIMITS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace rb::server {

struct GrpcLimits {
  int max_handler_threads = 256;
  int64_t max_memory_bytes = int64_t{512} << 20;
  int max_streams_per_connection = 256;
  absl::Duration max_idle = absl::Minutes(10);
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  uint64_t max_receive_bytes = 0;  // REQUIRES: > 0
};

// Applies the limits to a server under construction.
void ApplyGrpcLimits(const GrpcLimits& limits, grpc::ServerBuilder* builder);

}  // namespace rb::server

#endif  // RAFTBADGER_SERVER_GRPC_LIMITS_H_
