// grpc_floor: a server of etcd's v3 KV API (the part bench/loadgen drives) that answers
// every Put and Range at once, storing nothing and replicating nothing.
//
//   bazel run -c opt //bench:grpc_floor -- --port=52100
//   bazel-bin/bench/loadgen --api=etcd --endpoints=localhost:52100 --clients=64
//
// It measures the floor under any gRPC key-value server on this machine: what one call
// costs the server and the load generator when the server does no work. On a machine the
// load generator shares with the servers, no system behind gRPC answers faster than this,
// whatever its storage and consensus do (bench/compare_etcd.sh prints it beside the
// comparison). Calls use gRPC's callback API, as RaftBadger's client API does.
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/etcd_kv.grpc.pb.h"

ABSL_FLAG(int, port, 52100, "port to listen on (localhost)");

namespace {

class FloorKv final : public etcdserverpb::KV::CallbackService {
 public:
  grpc::ServerUnaryReactor* Range(grpc::CallbackServerContext* ctx,
                                  const etcdserverpb::RangeRequest* /*req*/,
                                  etcdserverpb::RangeResponse* /*resp*/) override {
    return Answer(ctx);
  }
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* ctx,
                                const etcdserverpb::PutRequest* /*req*/,
                                etcdserverpb::PutResponse* /*resp*/) override {
    return Answer(ctx);
  }

 private:
  static grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* ctx) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string address = absl::StrCat("localhost:", absl::GetFlag(FLAGS_port));
  FloorKv service;
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    std::fprintf(stderr, "grpc_floor: cannot listen on %s\n", address.c_str());
    return 1;
  }
  std::printf("grpc_floor: listening on %s\n", address.c_str());
  std::fflush(stdout);
  server->Wait();  // until killed
  return 0;
}
