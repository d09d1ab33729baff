// Storage benchmarks: durable appends next to the machine's raw limit, and point reads.
//
//   bazel run -c opt //bench:storage_bench
//
// Files go under $RB_BENCH_DIR (default /var/tmp), on the real disk: these numbers are
// about fsync. BM_RawWriteFdatasync/N appends N*256 bytes and fdatasyncs, the floor any
// durable store pays; BM_StoreAppend/N appends a batch of N 256-byte entries plus the hard
// state in one Store::Write (one WAL fsync).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "raft/rng.h"
#include "storage/store.h"

namespace rb::storage {
namespace {

constexpr size_t kEntryBytes = 256;

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("RB_BENCH_DIR");
  std::string dir =
      absl::StrCat(base != nullptr ? base : "/var/tmp", "/raftbadger-bench-", name, "-", getpid());
  return dir;
}

void RemoveTree(const std::string& dir) {
  const std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(cmd.c_str()) != 0) std::abort();
}

// Opens a fresh store under a benchmark directory, or marks the benchmark failed.
std::unique_ptr<Store> OpenBenchStore(const std::string& dir, benchmark::State& state) {
  StoreOptions options;
  options.dir = dir;
  auto store = Store::Open(options);
  if (!store.ok()) {
    state.SkipWithError(std::string(store.status().message()).c_str());
    return nullptr;
  }
  return *std::move(store);
}

void BM_RawWriteFdatasync(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) * kEntryBytes;
  const std::string dir = BenchDir("raw");
  const std::string mkdir = absl::StrCat("mkdir -p '", dir, "'");
  if (std::system(mkdir.c_str()) != 0) std::abort();
  const std::string path = dir + "/raw.log";
  const int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_TRUNC, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create the raw file");
    return;
  }
  const std::string buf(bytes, 'r');
  int64_t written = 0;
  for (auto _ : state) {
    if (write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size()) ||
        fdatasync(fd) != 0) {
      state.SkipWithError("write/fdatasync failed");
      break;
    }
    written += bytes;
    // Keep the file from growing without bound over long runs.
    if (written > (256 << 20)) {
      if (ftruncate(fd, 0) != 0) std::abort();
      written = 0;
    }
  }
  close(fd);
  RemoveTree(dir);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_RawWriteFdatasync)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();

void BM_StoreAppend(benchmark::State& state) {
  const uint64_t batch = static_cast<uint64_t>(state.range(0));
  const std::string dir = BenchDir("store");
  std::unique_ptr<Store> store = OpenBenchStore(dir, state);
  if (store == nullptr) return;
  raft::ConfState cs;
  cs.voters = {1};
  uint64_t next = 1;
  std::vector<raft::Entry> entries(batch);
  const std::string payload(kEntryBytes, 'e');
  for (auto& e : entries) e.data = payload;
  for (auto _ : state) {
    for (uint64_t i = 0; i < batch; ++i) {
      entries[i].term = 1;
      entries[i].index = next + i;
    }
    absl::Status s = store->Write([&](WriteTxn* t) -> absl::Status {
      absl::Status a = t->AppendEntries(entries);
      if (!a.ok()) return a;
      return t->SetHardState(raft::HardState{1, 1, next + batch - 1});
    });
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
    next += batch;
    // Compact now and then, as a node does after snapshots, so the log stays small.
    if (next > 200000) {
      state.PauseTiming();
      (void)store->Write([&](WriteTxn* t) -> absl::Status {
        absl::Status a = t->SetApplied(next - 1, cs);
        if (!a.ok()) return a;
        return t->Compact(next - 1000);
      });
      state.ResumeTiming();
    }
  }
  store.reset();
  RemoveTree(dir);
  state.SetBytesProcessed(state.iterations() * batch * kEntryBytes);
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_StoreAppend)->Arg(1)->Arg(16)->Arg(64)->Arg(256)->UseRealTime();

// Compacting a log of 256 entries of `entry_bytes` each (what a node does every
// SNAPSHOT_THRESHOLD entries, on its loop): the time of the compaction alone.
void BM_StoreCompact(benchmark::State& state) {
  constexpr uint64_t kBatch = 256;
  const std::string dir = BenchDir("compact");
  std::unique_ptr<Store> store = OpenBenchStore(dir, state);
  if (store == nullptr) return;
  raft::ConfState cs;
  cs.voters = {1};
  std::vector<raft::Entry> entries(kBatch);
  const std::string payload(static_cast<size_t>(state.range(0)), 'e');
  for (auto& e : entries) e.data = payload;
  uint64_t next = 1;
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t i = 0; i < kBatch; ++i) {
      entries[i].term = 1;
      entries[i].index = next + i;
    }
    absl::Status s = store->Write([&](WriteTxn* t) -> absl::Status {
      absl::Status a = t->AppendEntries(entries);
      if (!a.ok()) return a;
      a = t->SetHardState(raft::HardState{1, 1, next + kBatch - 1});
      if (!a.ok()) return a;
      return t->SetApplied(next + kBatch - 1, cs);
    });
    next += kBatch;
    state.ResumeTiming();
    if (s.ok()) s = store->Write([&](WriteTxn* t) { return t->Compact(next - 1); });
    if (!s.ok()) {
      state.SkipWithError(std::string(s.message()).c_str());
      break;
    }
  }
  store.reset();
  RemoveTree(dir);
  state.SetBytesProcessed(state.iterations() * kBatch * state.range(0));
}
BENCHMARK(BM_StoreCompact)->Arg(256)->Arg(65536)->UseRealTime()->Unit(benchmark::kMillisecond);

// Uniformly random point reads over `keys` keys of 100-byte values, all in SQLite's page
// cache (warm). With 100k keys the table (~12 MB) exceeds the CPU caches.
void BM_StoreGet(benchmark::State& state) {
  const uint64_t kKeys = static_cast<uint64_t>(state.range(0));
  const std::string dir = BenchDir("get");
  std::unique_ptr<Store> store = OpenBenchStore(dir, state);
  if (store == nullptr) return;
  (void)store->Write([&](WriteTxn* t) -> absl::Status {
    for (uint64_t i = 0; i < kKeys; ++i) {
      absl::Status s = t->Put(absl::StrCat("key", i), std::string(100, 'v'), 1);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < kKeys; ++i) keys.push_back(absl::StrCat("key", i));
  // Warm the page cache.
  for (const std::string& k : keys) benchmark::DoNotOptimize(store->Get(k));
  raft::Rng rng(1);
  int64_t found = 0;
  for (auto _ : state) {
    auto v = store->Get(keys[rng.Uniform(kKeys)]);
    found += v.ok() && v->has_value();
  }
  if (found != state.iterations()) state.SkipWithError("a key was missing");
  store.reset();
  RemoveTree(dir);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreGet)->Arg(10000)->Arg(100000);

// The state machine's share of an apply: one Write of 16 puts to random keys among 1,000
// that already hold values of the same size (as the comparison with etcd loads them), with
// fsyncs off (StoreOptions::sync), so that what is measured is SQLite's and the store's CPU,
// not the disk. Items are puts.
void BM_StoreApplyPuts(benchmark::State& state) {
  constexpr uint64_t kKeys = 1000;
  constexpr int kPutsPerWrite = 16;
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const std::string dir = BenchDir("apply");
  StoreOptions options;
  options.dir = dir;
  options.sync = false;
  auto opened = Store::Open(options);
  if (!opened.ok()) return state.SkipWithError(std::string(opened.status().message()).c_str());
  std::unique_ptr<Store> store = *std::move(opened);
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < kKeys; ++i) keys.push_back(absl::StrCat("key", i));
  uint64_t index = 0;
  absl::Status filled = store->Write([&](WriteTxn* t) -> absl::Status {
    for (const std::string& k : keys) {
      absl::Status s = t->Put(k, value, ++index);
      if (!s.ok()) return s;
    }
    return absl::OkStatus();
  });
  if (!filled.ok()) return state.SkipWithError(std::string(filled.message()).c_str());
  raft::Rng rng(1);
  for (auto _ : state) {
    absl::Status s = store->Write([&](WriteTxn* t) -> absl::Status {
      for (int i = 0; i < kPutsPerWrite; ++i) {
        absl::Status put = t->Put(keys[rng.Uniform(kKeys)], value, ++index);
        if (!put.ok()) return put;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return state.SkipWithError(std::string(s.message()).c_str());
  }
  store.reset();
  RemoveTree(dir);
  state.SetItemsProcessed(state.iterations() * kPutsPerWrite);
}
BENCHMARK(BM_StoreApplyPuts)->Arg(256)->Arg(4096)->Arg(65536);

// Opening a store that holds `keys` keys of 100-byte values and 10,000 log entries, with
// verification on open (quick_check, every row's checksum, every key looked up again) or
// without: what a node pays at every start.
void BM_StoreOpen(benchmark::State& state) {
  const uint64_t kKeys = static_cast<uint64_t>(state.range(0));
  const bool verify = state.range(1) != 0;
  const std::string dir = BenchDir("open");
  {
    std::unique_ptr<Store> store = OpenBenchStore(dir, state);
    if (store == nullptr) return;
    absl::Status s = store->Write([&](WriteTxn* t) -> absl::Status {
      std::vector<raft::Entry> entries;
      for (uint64_t i = 1; i <= 10000; ++i) {
        entries.push_back(raft::Entry{1, i, raft::EntryType::kNormal, std::string(256, 'e')});
      }
      absl::Status appended = t->AppendEntries(entries);
      if (!appended.ok()) return appended;
      for (uint64_t i = 0; i < kKeys; ++i) {
        absl::Status put = t->Put(absl::StrCat("key", i), std::string(100, 'v'), 1);
        if (!put.ok()) return put;
      }
      return absl::OkStatus();
    });
    if (!s.ok()) return state.SkipWithError(std::string(s.message()).c_str());
    (void)store->Checkpoint();
  }
  StoreOptions options;
  options.dir = dir;
  options.verify_on_open = verify;
  for (auto _ : state) {
    auto store = Store::Open(options);
    if (!store.ok()) return state.SkipWithError(std::string(store.status().message()).c_str());
  }
  RemoveTree(dir);
}
BENCHMARK(BM_StoreOpen)
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace rb::storage

BENCHMARK_MAIN();
