// loadgen: a closed-loop load generator for RaftBadger's raftbadger.v1.KV, the old
// badgerpb.BadgerService and etcd's v3 KV, so the same load runs against both systems.
//
//   bazel run -c opt //bench:loadgen -- --endpoints=localhost:50051,localhost:50052
//       --api=kv --clients=64 --duration=10s --read_percent=0 --value_bytes=256
//   (one command line)
//
// --clients concurrent clients each keep one request outstanding (closed loop), spread over
// --connections gRPC channels and driven by gRPC's async API from --threads completion
// queues. Writes go to the leader (found with the client library; etcd forwards them
// itself); reads go to the leader, or round robin over every endpoint with
// --reads_on=all. Keys are drawn uniformly or with a zipfian skew from --keys keys, and
// written once before the run so reads find them; or taken in order (--sequential). A run
// lasts --duration after --warmup, or --operations operations (a fill: --sequential
// --operations=N --keys=N writes every key once). Prints throughput, latency percentiles
// from a log-linear histogram and errors by status code; --json adds one JSON line. The
// JSON line also gives this process's own CPU time per operation, warm-up included
// (cpu_us_per_op over ops_all): on a machine it shares with the servers, what the load
// generator burns caps every system it drives.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/latency_histogram.h"
#include "client/client.h"
#include "grpcpp/grpcpp.h"
#include "proto/badger.grpc.pb.h"
#include "proto/etcd_kv.grpc.pb.h"
#include "proto/raftbadger.grpc.pb.h"

ABSL_FLAG(std::string, endpoints, "localhost:50051", "comma-separated host:port of members");
ABSL_FLAG(std::string, api, "kv", "kv (raftbadger.v1.KV), badger (badgerpb) or etcd (v3 KV)");
ABSL_FLAG(int, clients, 64, "concurrent clients, one request outstanding each");
ABSL_FLAG(int, connections, 4, "gRPC channels per endpoint");
ABSL_FLAG(int, threads, 2, "completion-queue threads");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2), "time before measuring");
ABSL_FLAG(absl::Duration, request_timeout, absl::Seconds(5), "deadline of each request");
ABSL_FLAG(int, keys, 1000, "key space size");
ABSL_FLAG(double, zipf, 0, "zipfian skew of key choice (0: uniform; 0.99 is typical)");
ABSL_FLAG(bool, sequential, false,
          "keys in order (0, 1, 2, ...) instead of drawn: with --operations=--keys, every key "
          "is written once (a fill)");
ABSL_FLAG(int64_t, operations, 0,
          "stop after this many operations instead of after --duration (needs --warmup=0s)");
ABSL_FLAG(int, value_bytes, 256, "bytes per written value");
ABSL_FLAG(int, read_percent, 0, "percent of operations that are reads");
ABSL_FLAG(std::string, consistency, "linearizable",
          "reads: linearizable, lease or stale (kv); linearizable or serializable (etcd)");
ABSL_FLAG(std::string, reads_on, "leader", "leader, or all (round robin over endpoints)");
ABSL_FLAG(bool, json, false, "also print one JSON line with the results");

namespace {

namespace v1 = raftbadger::v1;
using rb::bench::LatencyHistogram;

enum class Api { kKv, kBadger, kEtcd };

// Draws key numbers in [0, n): uniform, or zipfian (rank k with weight 1/k^s) by inverting
// a precomputed cumulative table; or in order, one after another across all clients.
class KeyChooser {
 public:
  KeyChooser(int n, double skew, bool sequential) : sequential_(sequential) {
    if (skew <= 0 || sequential) return;
    cdf_.reserve(n);
    double sum = 0;
    for (int k = 1; k <= n; ++k) cdf_.push_back(sum += 1.0 / std::pow(k, skew));
    for (double& c : cdf_) c /= sum;
    n_ = n;
  }
  int Next(std::mt19937_64& rng, int n) const {
    if (sequential_) return static_cast<int>(next_.fetch_add(1, std::memory_order_relaxed) % n);
    if (cdf_.empty()) return static_cast<int>(rng() % n);
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cdf_.begin(), cdf_.end(), u);
    return static_cast<int>(std::min<size_t>(it - cdf_.begin(), n_ - 1));
  }

 private:
  const bool sequential_;
  mutable std::atomic<int64_t> next_{0};  // sequential only
  std::vector<double> cdf_;
  size_t n_ = 0;
};

std::string KeyName(int k) { return absl::StrCat("loadgen/", k); }

struct Options {
  Api api = Api::kKv;
  int keys = 0;
  int read_percent = 0;
  std::string value;
  v1::Consistency consistency = v1::LINEARIZABLE;
  bool serializable = false;
  absl::Duration timeout;
};

// CPU time (user and system) this process has used so far, in microseconds.
double ProcessCpuMicros() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& tv) { return tv.tv_sec * 1e6 + static_cast<double>(tv.tv_usec); };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

// What one completion-queue thread measured.
struct Tally {
  LatencyHistogram latency;
  uint64_t ok = 0;
  uint64_t not_found = 0;  // reads of keys not written yet: answered, so counted as done
  uint64_t errors_by_code[17] = {};
  uint64_t finished = 0;  // every answer, warm-up included (for the CPU per operation)
};

// One connection and its stubs.
struct Target {
  explicit Target(std::shared_ptr<grpc::Channel> channel)
      : kv(v1::KV::NewStub(channel)),
        badger(badgerpb::BadgerService::NewStub(channel)),
        etcd(etcdserverpb::KV::NewStub(channel)) {}
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<badgerpb::BadgerService::Stub> badger;
  std::unique_ptr<etcdserverpb::KV::Stub> etcd;
};

// The connections clients use: for writes and for reads.
struct Targets {
  std::vector<std::shared_ptr<Target>> write;
  std::vector<std::shared_ptr<Target>> read;
};

// One client: one request in flight; on completion it records and sends the next.
class Call {
 public:
  Call(const Options* o, const KeyChooser* keys, const Targets* targets, grpc::CompletionQueue* cq,
       uint64_t seed)
      : o_(o), keys_(keys), targets_(targets), cq_(cq), rng_(seed) {}

  void Start() {
    ctx_ = std::make_unique<grpc::ClientContext>();
    ctx_->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(o_->timeout));
    const bool read = static_cast<int>(rng_() % 100) < o_->read_percent;
    const std::string key = KeyName(keys_->Next(rng_, o_->keys));
    const auto& pool = read ? targets_->read : targets_->write;
    Target& to = *pool[rng_() % pool.size()];
    started_ = std::chrono::steady_clock::now();
    switch (o_->api) {
      case Api::kKv:
        if (read) {
          v1::GetRequest req;
          req.set_key(key);
          req.set_consistency(o_->consistency);
          Issue(to.kv->AsyncGet(ctx_.get(), req, cq_), &kv_get_);
        } else {
          v1::PutRequest req;
          req.set_key(key);
          req.set_value(o_->value);
          Issue(to.kv->AsyncPut(ctx_.get(), req, cq_), &kv_put_);
        }
        break;
      case Api::kBadger:
        if (read) {
          badgerpb::GetEntriesRequest req;
          req.set_id(key);
          Issue(to.badger->AsyncGetEntries(ctx_.get(), req, cq_), &badger_get_);
        } else {
          badgerpb::SaveEntriesRequest req;
          req.set_id(key);
          req.set_secrets(o_->value);
          Issue(to.badger->AsyncSaveEntries(ctx_.get(), req, cq_), &badger_save_);
        }
        break;
      case Api::kEtcd:
        if (read) {
          etcdserverpb::RangeRequest req;
          req.set_key(key);
          req.set_serializable(o_->serializable);
          Issue(to.etcd->AsyncRange(ctx_.get(), req, cq_), &etcd_range_);
        } else {
          etcdserverpb::PutRequest req;
          req.set_key(key);
          req.set_value(o_->value);
          Issue(to.etcd->AsyncPut(ctx_.get(), req, cq_), &etcd_put_);
        }
        break;
    }
  }

  // The answer arrived: count it (if measuring) and say how long it took.
  void Finish(bool measure, Tally* tally) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started_)
                        .count();
    if (!measure) return;
    if (status_.ok() || status_.error_code() == grpc::StatusCode::NOT_FOUND) {
      (status_.ok() ? tally->ok : tally->not_found)++;
      tally->latency.Record(static_cast<uint64_t>(us));
    } else {
      ++tally->errors_by_code[std::min<int>(status_.error_code(), 16)];
    }
  }

 private:
  template <typename Reader, typename Response>
  void Issue(std::unique_ptr<Reader> reader, Response* response) {
    reader->Finish(response, &status_, this);
    reader_ = std::shared_ptr<void>(std::move(reader));
  }

  const Options* o_;
  const KeyChooser* keys_;
  const Targets* targets_;
  grpc::CompletionQueue* cq_;
  std::mt19937_64 rng_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::shared_ptr<void> reader_;
  grpc::Status status_;
  std::chrono::steady_clock::time_point started_;
  v1::GetResponse kv_get_;
  v1::PutResponse kv_put_;
  badgerpb::GetEntriesResponse badger_get_;
  badgerpb::SaveEntriesResponse badger_save_;
  etcdserverpb::RangeResponse etcd_range_;
  etcdserverpb::PutResponse etcd_put_;
};

// Starts every call, then hands each completed one to `next`, which records it and says
// whether it sends another; each request is also sent only if `may_start` says so (an
// operation budget). Returns once none is in flight, with the queue shut down and
// drained. Bounded: once `next` or `may_start` says no for a call, that call ends (each
// request has a deadline).
void Drive(grpc::CompletionQueue* cq, const std::vector<std::unique_ptr<Call>>& calls,
           const std::function<bool()>& may_start, const std::function<bool(Call*)>& next) {
  size_t in_flight = 0;
  for (const auto& c : calls) {
    if (!may_start()) break;
    c->Start();
    ++in_flight;
  }
  void* tag;
  bool ok;
  while (in_flight > 0 && cq->Next(&tag, &ok)) {
    auto* call = static_cast<Call*>(tag);
    if (next(call) && may_start()) {
      call->Start();
    } else {
      --in_flight;
    }
  }
  cq->Shutdown();
  while (cq->Next(&tag, &ok)) {
  }
}

std::vector<std::shared_ptr<Target>> Connect(const std::vector<std::string>& addresses,
                                             int per_address) {
  std::vector<std::shared_ptr<Target>> out;
  for (const std::string& a : addresses) {
    for (int i = 0; i < per_address; ++i) {
      grpc::ChannelArguments args;
      args.SetInt("loadgen.channel", i);  // distinct arguments: a connection of its own
      out.push_back(std::make_shared<Target>(
          grpc::CreateCustomChannel(a, grpc::InsecureChannelCredentials(), args)));
    }
  }
  return out;
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "loadgen: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Closed-loop load generator for RaftBadger and etcd.");
  absl::ParseCommandLine(argc, argv);
  // As in the server: abseil's lock-order bookkeeping is load on the shared cores that
  // neither system under test should pay for.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Options o;
  const std::string api = absl::GetFlag(FLAGS_api);
  if (api == "kv") {
    o.api = Api::kKv;
  } else if (api == "badger") {
    o.api = Api::kBadger;
  } else if (api == "etcd") {
    o.api = Api::kEtcd;
  } else {
    return Fail("--api must be kv, badger or etcd");
  }
  const std::string consistency = absl::GetFlag(FLAGS_consistency);
  if (consistency == "lease") {
    o.consistency = v1::LEASE;
  } else if (consistency == "stale" || consistency == "serializable") {
    o.consistency = v1::STALE;
    o.serializable = true;
  } else if (consistency != "linearizable") {
    return Fail("--consistency must be linearizable, lease, stale or serializable");
  }
  o.keys = absl::GetFlag(FLAGS_keys);
  o.read_percent = absl::GetFlag(FLAGS_read_percent);
  o.value = std::string(absl::GetFlag(FLAGS_value_bytes), 'v');
  o.timeout = absl::GetFlag(FLAGS_request_timeout);
  const int clients = absl::GetFlag(FLAGS_clients);
  const int threads = absl::GetFlag(FLAGS_threads);
  const int connections = absl::GetFlag(FLAGS_connections);
  if (o.keys < 1 || clients < 1 || threads < 1 || connections < 1 || o.read_percent < 0 ||
      o.read_percent > 100 || absl::GetFlag(FLAGS_value_bytes) < 0 ||
      absl::GetFlag(FLAGS_operations) < 0) {
    return Fail(
        "--keys, --clients, --threads and --connections must be positive, "
        "--read_percent within 0..100, --operations not negative");
  }
  if (absl::GetFlag(FLAGS_operations) > 0 && absl::GetFlag(FLAGS_warmup) != absl::ZeroDuration()) {
    return Fail("--operations counts every operation: use it with --warmup=0s");
  }
  const std::vector<std::string> endpoints =
      absl::StrSplit(absl::GetFlag(FLAGS_endpoints), ',', absl::SkipEmpty());
  if (endpoints.empty()) return Fail("--endpoints is empty");

  // Writes go to the leader; etcd forwards them itself.
  std::string leader = endpoints.front();
  if (o.api != Api::kEtcd) {
    rb::client::Client finder(rb::client::ClientOptions{endpoints});
    auto found = finder.FindLeader();
    if (!found.ok()) return Fail(absl::StrCat("finding the leader: ", found.status().message()));
    leader = *found;
  }
  Targets targets;
  targets.write = Connect({leader}, connections);
  targets.read =
      absl::GetFlag(FLAGS_reads_on) == "all" ? Connect(endpoints, connections) : targets.write;

  // Write every key once, so that reads find values (and do not all answer NOT_FOUND).
  if (o.read_percent > 0) {
    Options fill = o;
    fill.read_percent = 0;
    KeyChooser none(o.keys, 0, false);
    grpc::CompletionQueue cq;
    std::vector<std::unique_ptr<Call>> calls;
    // Keys are drawn at random; good enough to fill most of a key space of this size.
    for (int i = 0; i < std::min(clients, 64); ++i) {
      calls.push_back(std::make_unique<Call>(&fill, &none, &targets, &cq, 1000 + i));
    }
    Tally ignored;
    int64_t remaining = static_cast<int64_t>(o.keys) * 3;
    Drive(
        &cq, calls, [] { return true; },
        [&](Call* call) {
          call->Finish(false, &ignored);
          return --remaining > 0;
        });
  }

  const KeyChooser keys(o.keys, absl::GetFlag(FLAGS_zipf), absl::GetFlag(FLAGS_sequential));
  const int64_t operations = absl::GetFlag(FLAGS_operations);
  std::atomic<int64_t> started{0};
  const double cpu_begin_us = ProcessCpuMicros();
  const auto begin = std::chrono::steady_clock::now();
  const auto measure_from = begin + absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_warmup));
  const auto stop_at =
      operations > 0 ? std::chrono::steady_clock::time_point::max()
                     : measure_from + absl::ToChronoMilliseconds(absl::GetFlag(FLAGS_duration));
  auto may_start = [&] {
    return operations == 0 || started.fetch_add(1, std::memory_order_relaxed) < operations;
  };
  std::vector<Tally> tallies(threads);
  std::vector<std::chrono::steady_clock::time_point> last_done(threads, begin);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      grpc::CompletionQueue cq;
      std::vector<std::unique_ptr<Call>> calls;
      for (int c = t; c < clients; c += threads) {
        calls.push_back(std::make_unique<Call>(&o, &keys, &targets, &cq, 1 + c));
      }
      Drive(&cq, calls, may_start, [&](Call* call) {
        const auto now = std::chrono::steady_clock::now();
        call->Finish(now >= measure_from && now < stop_at, &tallies[t]);
        ++tallies[t].finished;
        last_done[t] = now;
        return now < stop_at;
      });
    });
  }
  for (std::thread& w : workers) w.join();
  const double cpu_us = ProcessCpuMicros() - cpu_begin_us;

  Tally total;
  for (const Tally& t : tallies) {
    total.latency.Merge(t.latency);
    total.ok += t.ok;
    total.not_found += t.not_found;
    total.finished += t.finished;
    for (int c = 0; c < 17; ++c) total.errors_by_code[c] += t.errors_by_code[c];
  }
  // A run of --operations lasts until its last answer.
  double seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_duration));
  if (operations > 0) {
    const auto end = *std::max_element(last_done.begin(), last_done.end());
    seconds = std::max(std::chrono::duration<double>(end - begin).count(), 1e-6);
  }
  const double ops_per_s = total.latency.count() / seconds;
  const LatencyHistogram& h = total.latency;
  std::printf(
      "%s %s clients=%d value=%dB reads=%d%% %s: %.0f ops/s  p50=%llu p90=%llu "
      "p99=%llu p99.9=%llu max=%llu us  (%llu ok, %llu not found)\n",
      api.c_str(), leader.c_str(), clients, absl::GetFlag(FLAGS_value_bytes), o.read_percent,
      consistency.c_str(), ops_per_s, static_cast<unsigned long long>(h.Quantile(0.5)),
      static_cast<unsigned long long>(h.Quantile(0.9)),
      static_cast<unsigned long long>(h.Quantile(0.99)),
      static_cast<unsigned long long>(h.Quantile(0.999)),
      static_cast<unsigned long long>(h.max_us()), static_cast<unsigned long long>(total.ok),
      static_cast<unsigned long long>(total.not_found));
  std::string errors;
  for (int c = 0; c < 17; ++c) {
    if (total.errors_by_code[c] == 0) continue;
    absl::StrAppend(&errors, errors.empty() ? "" : ",", "\"", c, "\":", total.errors_by_code[c]);
    std::printf("  errors with status %d: %llu\n", c,
                static_cast<unsigned long long>(total.errors_by_code[c]));
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::printf(
        "{\"api\":\"%s\",\"clients\":%d,\"value_bytes\":%d,\"read_percent\":%d,"
        "\"consistency\":\"%s\",\"ops_per_s\":%.1f,\"p50_us\":%llu,\"p90_us\":%llu,"
        "\"p99_us\":%llu,\"p999_us\":%llu,\"max_us\":%llu,\"ok\":%llu,\"seconds\":%.3f,"
        "\"ops_all\":%llu,\"cpu_us_per_op\":%.1f,\"errors\":{%s}}\n",
        api.c_str(), clients, absl::GetFlag(FLAGS_value_bytes), o.read_percent, consistency.c_str(),
        ops_per_s, static_cast<unsigned long long>(h.Quantile(0.5)),
        static_cast<unsigned long long>(h.Quantile(0.9)),
        static_cast<unsigned long long>(h.Quantile(0.99)),
        static_cast<unsigned long long>(h.Quantile(0.999)),
        static_cast<unsigned long long>(h.max_us()), static_cast<unsigned long long>(total.ok),
        seconds, static_cast<unsigned long long>(total.finished),
        total.finished > 0 ? cpu_us / static_cast<double>(total.finished) : 0.0, errors.c_str());
  }
  // No operation succeeded: the numbers mean nothing, and a script must notice.
  return total.ok + total.not_found > 0 ? 0 : 1;
}
