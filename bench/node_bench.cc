// One node, the path a write takes on a leader: node::Node over SqliteNodeStore on the
// real disk (fsync on), a lone voter so that only the node's own costs count.
//
//   bazel run -c opt //bench:node_bench
//
// BM_NodeWrites/N: N clients' writes (256-byte values, each under a session) arrive in one
// round of the server's loop, as Node::BeginBatch/EndBatch bracket it, and are applied and
// answered. Reported per write; the counters say how many writes each fsync carried
// (writes_per_fsync: the WAL's fsyncs, one per Ready that writes entries; a Ready that only
// applies skips its own, storage::Store::wal_syncs). /1 is a lone client.
// Files go under $RB_BENCH_DIR (default /var/tmp).
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "node/node.h"
#include "node/null_transport.h"
#include "node/sqlite_node_store.h"

namespace rb::node {
namespace {

namespace kvpb = raftbadger::kvpb;

void BM_NodeWrites(benchmark::State& state) {
  const int clients = static_cast<int>(state.range(0));
  const char* base = std::getenv("RB_BENCH_DIR");
  const std::string dir = absl::StrCat(base != nullptr ? base : "/var/tmp",
                                       "/raftbadger-bench-node-", getpid(), "-", clients);
  storage::StoreOptions store_options;
  store_options.dir = dir;
  raft::ConfState cs;
  cs.voters = {1};
  auto store = SqliteNodeStore::Open(store_options, cs);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return;
  }
  NullTransport transport;
  NodeOptions options;
  options.raft.id = 1;
  options.snapshot_every_entries = 100'000;  // as a server would: the log stays bounded
  options.snapshot_keep_entries = 1000;
  auto node = Node::Create(options, store->get(), &transport);
  if (!node.ok()) {
    state.SkipWithError(std::string(node.status().message()).c_str());
    return;
  }
  (*node)->Campaign();
  // A session per client, registered through the log as the client library does.
  std::vector<uint64_t> sessions(clients);
  for (uint64_t& id : sessions) {
    kvpb::Command reg;
    reg.mutable_register_session();
    reg.set_seq(&id - sessions.data() + 1);
    (*node)->Write(reg, [&id](absl::StatusOr<kvpb::CommandResult> r) {
      if (r.ok()) id = r->session_id();
    });
  }
  const std::string value(256, 'v');
  uint64_t seq = 0, answered = 0, failed = 0;
  const uint64_t syncs_before = (*store)->store().wal_syncs();
  for (auto _ : state) {
    ++seq;
    (*node)->BeginBatch();
    for (int c = 0; c < clients; ++c) {
      kvpb::Command put;
      put.set_client_id(sessions[c]);
      put.set_seq(seq);
      put.mutable_put()->set_key(absl::StrCat("key", c));
      put.mutable_put()->set_value(value);
      (*node)->Write(std::move(put), [&](absl::StatusOr<kvpb::CommandResult> r) {
        ++(r.ok() ? answered : failed);
      });
    }
    (*node)->EndBatch();
  }
  if (failed > 0 || answered != state.iterations() * static_cast<uint64_t>(clients)) {
    state.SkipWithError("writes failed or went unanswered");
  }
  const double fsyncs = static_cast<double>((*store)->store().wal_syncs() - syncs_before);
  state.counters["writes_per_fsync"] = static_cast<double>(answered) / fsyncs;
  state.SetItemsProcessed(static_cast<int64_t>(answered));
  node->reset();
  store->reset();
  const std::string rm = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(rm.c_str()) != 0) std::abort();
}
BENCHMARK(BM_NodeWrites)->Arg(1)->Arg(8)->Arg(64)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace rb::node

BENCHMARK_MAIN();
