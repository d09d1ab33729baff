// Simulator throughput: a 5-node cluster at the default tick (10 ms virtual) under the mixed
// fault load each seed draws, one seed per iteration, on one core.
//
//   bazel run -c opt //bench:sim_bench
//
// Counters: realtime_x (virtual time / wall time), messages/s (delivered simulated
// messages per wall second), seeds/core-hour. Each seed simulates 17 virtual seconds.
#include <chrono>

#include "base/logging.h"
#include "benchmark/benchmark.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

void BM_FiveNodeClusterMixedFaults(benchmark::State& state) {
  SetMinLogSeverity(LogSeverity::kFatal);
  uint64_t seed = 1;
  uint64_t virtual_us = 0, messages = 0, seeds = 0;
  double wall_s = 0;
  for (auto _ : state) {
    SimOptions o;
    o.seed = seed++;
    o.voters = 5;
    const auto start = std::chrono::steady_clock::now();
    const SimResult r = RunSimulation(o);
    wall_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!r.ok) {
      state.SkipWithError(r.failure.c_str());
      break;
    }
    virtual_us += r.virtual_us;
    messages += r.messages_delivered;
    ++seeds;
  }
  state.counters["realtime_x"] = virtual_us / 1e6 / wall_s;
  state.counters["messages/s"] = messages / wall_s;
  state.counters["seeds/core-hour"] = seeds / wall_s * 3600;
}
BENCHMARK(BM_FiveNodeClusterMixedFaults)->Unit(benchmark::kMillisecond)->MinTime(5);

}  // namespace
}  // namespace rb::sim

BENCHMARK_MAIN();
