// Simulator throughput at the default tick (10 ms virtual; heartbeats every 2 ticks,
// elections after 20 to 40), one seed per iteration, on one core:
//   - a 5-node cluster under the mixed fault load each seed draws (network faults,
//     partitions, crashes, pauses, clock drift, disk latency);
//   - the same with membership changes too, which adds two spare nodes (7 processes).
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

void RunSeeds(benchmark::State& state, bool membership_changes) {
  SetMinLogSeverity(LogSeverity::kFatal);
  uint64_t seed = 1;
  uint64_t virtual_us = 0, messages = 0, seeds = 0;
  double wall_s = 0;
  for (auto _ : state) {
    SimOptions o;
    o.seed = seed++;
    o.voters = 5;
    o.membership_changes = membership_changes;
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
void BM_FiveNodeClusterMixedFaults(benchmark::State& state) { RunSeeds(state, false); }
BENCHMARK(BM_FiveNodeClusterMixedFaults)->Unit(benchmark::kMillisecond)->MinTime(5);

void BM_FiveVotersMixedFaultsAndMembershipChanges(benchmark::State& state) {
  RunSeeds(state, true);
}
BENCHMARK(BM_FiveVotersMixedFaultsAndMembershipChanges)->Unit(benchmark::kMillisecond)->MinTime(5);

}  // namespace
}  // namespace rb::sim

BENCHMARK_MAIN();
