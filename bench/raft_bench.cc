// Benchmarks of the pure Raft core (no disk, no network): what the consensus logic itself
// costs per operation, and how many heap allocations it makes.
//
//   bazel run -c opt //bench:raft_bench
//
// Counters: allocs/op is every operator new in the measured loop divided by operations;
// payload_allocs/op is the part that copies entry payloads (payloads here are 128 bytes,
// longer than the small-string buffer, so each copy is one allocation).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/alloc_counter.h"
#include "benchmark/benchmark.h"
#include "raft/memory_storage.h"
#include "raft/raw_node.h"

namespace rb::raft {
namespace {

constexpr size_t kPayloadBytes = 128;

struct BenchNode {
  explicit BenchNode(uint64_t id, const ConfState& cs) {
    storage.SetConfState(cs);
    Config c;
    c.id = id;
    c.storage = &storage;
    c.max_inflight_msgs = 4096;
    raw = *RawNode::Create(c);
  }
  // Persist to memory, hand messages to `out`, apply (discard), advance.
  void Handle(std::vector<Message>* out, uint64_t* applied) {
    raw->GetReady(&ready);
    if (ready.snapshot) (void)storage.ApplySnapshot(ready.snapshot);
    (void)storage.Append(ready.entries);
    if (ready.hard_state) storage.SetHardState(*ready.hard_state);
    for (Message& m : ready.messages) out->push_back(std::move(m));
    *applied += ready.committed_entries.size();
    raw->Advance();
  }
  // Keeps memory flat over long runs, as an application compacting after snapshots would.
  void MaybeCompact() {
    const uint64_t applied = raw->raft().log().applied();
    if (applied > *storage.FirstIndex() + 100000) (void)storage.Compact(applied - 1000);
  }
  MemoryStorage storage;
  std::unique_ptr<RawNode> raw;
  Ready ready;
};

// Propose + Ready + Advance on a single voter: the core's fixed cost per entry.
void BM_SingleVoterProposeReadyAdvance(benchmark::State& state) {
  ConfState cs;
  cs.voters = {1};
  BenchNode node(1, cs);
  node.raw->Campaign();
  std::vector<Message> sink;
  uint64_t applied = 0;
  node.Handle(&sink, &applied);
  const std::string payload(kPayloadBytes, 'x');
  const uint64_t allocs_before = AllocationCount();
  int64_t ops = 0;
  for (auto _ : state) {
    (void)node.raw->Propose(payload);
    node.Handle(&sink, &applied);
    if ((++ops & 0xffff) == 0) node.MaybeCompact();
  }
  state.counters["allocs/op"] =
      static_cast<double>(AllocationCount() - allocs_before) / static_cast<double>(ops);
  state.SetItemsProcessed(ops);
}
BENCHMARK(BM_SingleVoterProposeReadyAdvance);

// A 3-voter group driven in-process: proposals of `batch` entries on the leader, every node
// persists (memory), messages delivered, until all three applied them. Time per entry.
void BM_ThreeVoterCommit(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  ConfState cs;
  cs.voters = {1, 2, 3};
  std::map<uint64_t, std::unique_ptr<BenchNode>> nodes;
  for (uint64_t id = 1; id <= 3; ++id) nodes[id] = std::make_unique<BenchNode>(id, cs);
  // Two buffers swapped each round, so the driver's own queue allocates nothing in the
  // steady state and the counter measures the core.
  std::vector<Message> network, delivering;
  uint64_t applied = 0;
  auto drive = [&] {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& [id, n] : nodes) {
        if (n->raw->HasReady()) {
          n->Handle(&network, &applied);
          moved = true;
        }
      }
      delivering.swap(network);
      for (Message& m : delivering) {
        (void)nodes[m.to]->raw->Step(std::move(m));
        moved = true;
      }
      delivering.clear();
      if (!moved) return;
    }
  };
  nodes[1]->raw->Campaign();
  drive();
  const std::string payload(kPayloadBytes, 'x');
  const uint64_t allocs_before = AllocationCount();
  const uint64_t applied_before = applied;
  int64_t entries = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) (void)nodes[1]->raw->Propose(payload);
    drive();
    entries += batch;
    if ((entries & 0xffff) < batch) {
      for (auto& [id, n] : nodes) n->MaybeCompact();
    }
  }
  if (applied - applied_before != static_cast<uint64_t>(entries) * 3) {
    state.SkipWithError("not every entry was applied on every node");
  }
  state.counters["allocs/entry"] =
      static_cast<double>(AllocationCount() - allocs_before) / static_cast<double>(entries);
  state.SetItemsProcessed(entries);
}
BENCHMARK(BM_ThreeVoterCommit)->Arg(1)->Arg(16)->Arg(64);

// The follower side of the steady-state replicate path: Step(MsgApp with one entry) + Ready
// + Advance. Counts allocations per message.
void BM_FollowerAppend(benchmark::State& state) {
  ConfState cs;
  cs.voters = {1, 2};
  BenchNode follower(2, cs);
  std::vector<Message> sink;
  uint64_t applied = 0;
  const std::string payload(kPayloadBytes, 'x');
  uint64_t index = 0;
  Message m;
  m.type = MessageType::kApp;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries.resize(1);
  const uint64_t allocs_before = AllocationCount();
  int64_t ops = 0;
  for (auto _ : state) {
    m.index = index;
    m.log_term = index == 0 ? 0 : 1;
    m.commit = index;
    m.entries.resize(1);
    m.entries[0] = Entry{1, index + 1, EntryType::kNormal, payload};
    (void)follower.raw->Step(std::move(m));
    follower.Handle(&sink, &applied);
    sink.clear();
    ++index;
    if ((++ops & 0xffff) == 0) follower.MaybeCompact();
  }
  state.counters["allocs/msg"] =
      static_cast<double>(AllocationCount() - allocs_before) / static_cast<double>(ops);
  state.SetItemsProcessed(ops);
}
BENCHMARK(BM_FollowerAppend);

}  // namespace
}  // namespace rb::raft

BENCHMARK_MAIN();
