// simulate: runs deterministic simulations of a RaftBadger cluster.
//
//   bazel run //sim:simulate -- --seed=42            # replay one seed exactly
//   bazel run //sim:simulate                         # draw a seed, print it first
//   bazel run //sim:simulate -- --seeds=1000         # many consecutive seeds
//   bazel run //sim:simulate -- --seed=42 --trace    # readable event log
//   bazel run //sim:simulate -- --seed=42 --check_determinism
//   bazel run //sim:simulate -- --seed=42 --history=/tmp/h.jsonl
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/logging.h"
#include "base/mutation.h"
#include "sim/isolated_run.h"
#include "sim/schedule.h"
#include "sim/shrink.h"
#include "sim/simulation.h"
#include "sim/timeline.h"

ABSL_FLAG(uint64_t, seed, 0, "seed to run; 0 draws one (printed first)");
ABSL_FLAG(int, seeds, 1, "run this many consecutive seeds starting at --seed");
ABSL_FLAG(int, voters, 0, "cluster size; 0 lets each seed draw 1 to 7");
ABSL_FLAG(uint64_t, max_msg_bytes, 0,
          "bytes of entries per append (1: one entry each); 0 lets each seed draw");
ABSL_FLAG(std::string, leader_faults, "drawn",
          "new leaders cut off or crashed at their first commit: off, drawn (about half the "
          "seeds) or always");
ABSL_FLAG(std::string, skip_broadcast_commit, "drawn",
          "leaders let a new commit index wait for the next append or heartbeat, as the "
          "server does: off, drawn (about half the seeds) or always");
ABSL_FLAG(std::string, batch_client_requests, "drawn",
          "client writes and reads reaching a node within a drawn window (up to 2 ms) are one "
          "batch there, as in the server's loop: off, drawn (about half the seeds) or always");
ABSL_FLAG(std::string, deliver_removals, "drawn",
          "a member's word that a node was removed reaches it, and a node that believes it "
          "stops for good, as the server's does: off (only checked), drawn (about half the "
          "seeds) or always");
ABSL_FLAG(std::string, one_read_round_in_flight, "drawn",
          "linearizable reads reaching a node while its last round for reads is out wait for "
          "the next, as the server's do: off, drawn (about half the seeds) or always");
ABSL_FLAG(std::string, answer_writes_at_commit, "drawn",
          "leaders answer a plain put (no session) once it is committed, before it is "
          "applied, as the server's do: off, drawn (about half the seeds) or always");
ABSL_FLAG(std::string, large_values, "off",
          "a third of the clients' values are large (over the SQLite store's inline limit, up "
          "to about 4 KiB): off, drawn (about half the seeds) or always");
ABSL_FLAG(double, fault_seconds, 8, "virtual seconds of faults");
ABSL_FLAG(double, quiet_seconds, 9, "virtual seconds after healing (liveness)");
ABSL_FLAG(bool, network_faults, true, "delays, drops, duplicates, clogged links");
ABSL_FLAG(bool, partitions, true, "network partitions");
ABSL_FLAG(bool, crashes, true, "process crashes and restarts");
ABSL_FLAG(bool, pauses, true, "stopped processes that resume later");
ABSL_FLAG(bool, clock_drift, true, "per-node clock drift (tick rate up to 10% off)");
ABSL_FLAG(bool, membership_changes, true,
          "configuration changes (learners, promotions, removals, joint replacements) and "
          "leader transfers");
ABSL_FLAG(bool, disk_latency, true, "simulated fsync latency");
ABSL_FLAG(int, clients, 3, "concurrent clients");
ABSL_FLAG(std::string, storage, "memory",
          "node storage: memory (the model of the contract) or sqlite (the real store on a "
          "simulated disk)");
ABSL_FLAG(bool, power_loss, true,
          "sqlite: crashes may be power losses that lose or tear unsynced writes, some inside "
          "a commit");
ABSL_FLAG(bool, disk_corruption, true,
          "sqlite: a power loss may damage a sector of one node's database");
ABSL_FLAG(bool, read_faults, true,
          "sqlite: page reads on a minority of nodes sometimes return a flipped bit");
ABSL_FLAG(bool, sync_failures, true,
          "sqlite: an fsync on some nodes now and then fails, losing part of what it should "
          "have made durable");
ABSL_FLAG(bool, disk_full, true,
          "now and then one node's disk fills up for a while; it must stall, acknowledge "
          "nothing it could not write, and go on once space is back");
ABSL_FLAG(bool, trace, false, "print every event");
ABSL_FLAG(bool, check_determinism, false, "run each seed twice and compare event by event");
ABSL_FLAG(std::string, history, "", "write the client history as JSON lines to this file");
ABSL_FLAG(std::string, save_schedule, "",
          "write the run's schedule file here (one seed): --schedule replays it even after the "
          "scenario generator's draws change");
ABSL_FLAG(std::string, schedule, "",
          "replay a schedule file (its seed, options and scenario; other run flags are ignored)");
ABSL_FLAG(bool, shrink, false,
          "shrink a failing run: search for a smaller scenario that fails the same check, and "
          "write its schedule (to --save_schedule, or seed-N.shrunk.schedule)");
ABSL_FLAG(std::string, html, "",
          "write the run's timeline page to this file (one seed; opens offline in a browser)");
ABSL_FLAG(std::string, mutant, "",
          "run with a mutant (a deliberate bug, base/mutation.h), to see the checkers catch it; "
          "only in //sim:simulate_mutants, the build that has them (--mutant=list names them)");

namespace {

// A path the user typed: under `bazel run` the process runs in its runfiles tree, so a
// relative path means the directory the command was typed in.
std::string UserPath(const std::string& path) {
  const char* dir = std::getenv("BUILD_WORKING_DIRECTORY");  // set by bazel run
  if (path.empty() || path[0] == '/' || dir == nullptr) return path;
  return absl::StrCat(dir, "/", path);
}

// The flags that say how a scenario dimension is drawn (off, drawn or always), each with
// the option it sets in *o (null: only the flags are wanted).
std::vector<std::pair<absl::Flag<std::string>*, rb::sim::SimOptions::Draw*>> DrawFlags(
    rb::sim::SimOptions* o) {
  auto field = [o](rb::sim::SimOptions::Draw rb::sim::SimOptions::*f) {
    return o == nullptr ? nullptr : &(o->*f);
  };
  using rb::sim::SimOptions;
  return {{&FLAGS_leader_faults, field(&SimOptions::leader_faults)},
          {&FLAGS_skip_broadcast_commit, field(&SimOptions::skip_broadcast_commit)},
          {&FLAGS_batch_client_requests, field(&SimOptions::batch_client_requests)},
          {&FLAGS_deliver_removals, field(&SimOptions::deliver_removals)},
          {&FLAGS_one_read_round_in_flight, field(&SimOptions::one_read_round_in_flight)},
          {&FLAGS_answer_writes_at_commit, field(&SimOptions::answer_writes_at_commit)},
          {&FLAGS_large_values, field(&SimOptions::large_values)}};
}

// The command that replays `seed` with every option of this run that is not the default.
std::string ReplayCommand(uint64_t seed) {
  if (!absl::GetFlag(FLAGS_schedule).empty()) {
    return absl::StrCat(
        "bazel run -c opt //sim:", rb::mutation::kBuildHasMutants ? "simulate_mutants" : "simulate",
        " -- --schedule=", absl::GetFlag(FLAGS_schedule));
  }
  const std::string mutant = absl::GetFlag(FLAGS_mutant);
  std::string cmd = absl::StrCat(
      "bazel run //sim:", mutant.empty() ? "simulate" : "simulate_mutants", " -- --seed=", seed);
  if (absl::GetFlag(FLAGS_voters) != 0) {
    absl::StrAppend(&cmd, " --voters=", absl::GetFlag(FLAGS_voters));
  }
  if (absl::GetFlag(FLAGS_max_msg_bytes) != 0) {
    absl::StrAppend(&cmd, " --max_msg_bytes=", absl::GetFlag(FLAGS_max_msg_bytes));
  }
  for (const auto& [flag, field] : DrawFlags(nullptr)) {
    const absl::CommandLineFlag& handle = absl::GetFlagReflectionHandle(*flag);
    if (absl::GetFlag(*flag) != handle.DefaultValue()) {
      absl::StrAppend(&cmd, " --", handle.Name(), "=", absl::GetFlag(*flag));
    }
  }
  if (absl::GetFlag(FLAGS_fault_seconds) != 8) {
    absl::StrAppend(&cmd, " --fault_seconds=", absl::GetFlag(FLAGS_fault_seconds));
  }
  if (absl::GetFlag(FLAGS_quiet_seconds) != 9) {
    absl::StrAppend(&cmd, " --quiet_seconds=", absl::GetFlag(FLAGS_quiet_seconds));
  }
  if (absl::GetFlag(FLAGS_clients) != 3)
    absl::StrAppend(&cmd, " --clients=", absl::GetFlag(FLAGS_clients));
  const std::pair<const char*, bool> classes[] = {
      {"network_faults", absl::GetFlag(FLAGS_network_faults)},
      {"partitions", absl::GetFlag(FLAGS_partitions)},
      {"crashes", absl::GetFlag(FLAGS_crashes)},
      {"pauses", absl::GetFlag(FLAGS_pauses)},
      {"clock_drift", absl::GetFlag(FLAGS_clock_drift)},
      {"membership_changes", absl::GetFlag(FLAGS_membership_changes)},
      {"disk_latency", absl::GetFlag(FLAGS_disk_latency)},
      {"power_loss", absl::GetFlag(FLAGS_power_loss)},
      {"disk_corruption", absl::GetFlag(FLAGS_disk_corruption)},
      {"read_faults", absl::GetFlag(FLAGS_read_faults)},
      {"sync_failures", absl::GetFlag(FLAGS_sync_failures)},
      {"disk_full", absl::GetFlag(FLAGS_disk_full)},
  };
  for (const auto& [name, on] : classes) {
    if (!on) absl::StrAppend(&cmd, " --", name, "=false");
  }
  if (absl::GetFlag(FLAGS_storage) != "memory") {
    absl::StrAppend(&cmd, " --storage=", absl::GetFlag(FLAGS_storage));
  }
  if (!mutant.empty()) absl::StrAppend(&cmd, " --mutant=", mutant);
  return cmd;
}

}  // namespace

// Fills the options every seed shares from the flags. Prints the problem and returns false
// for a bad flag value.
bool OptionsFromFlags(rb::sim::SimOptions* o) {
  o->voters = absl::GetFlag(FLAGS_voters);
  o->max_msg_bytes = absl::GetFlag(FLAGS_max_msg_bytes);
  for (const auto& [flag, field] : DrawFlags(o)) {
    const std::string value = absl::GetFlag(*flag);
    if (const absl::Status s =
            rb::sim::ParseDraw(absl::GetFlagReflectionHandle(*flag).Name(), value, field);
        !s.ok()) {
      std::fprintf(stderr, "--%s\n", std::string(s.message()).c_str());
      return false;
    }
  }
  o->fault_phase_us = static_cast<uint64_t>(absl::GetFlag(FLAGS_fault_seconds) * 1e6);
  o->quiet_phase_us = static_cast<uint64_t>(absl::GetFlag(FLAGS_quiet_seconds) * 1e6);
  o->network_faults = absl::GetFlag(FLAGS_network_faults);
  o->partitions = absl::GetFlag(FLAGS_partitions);
  o->crashes = absl::GetFlag(FLAGS_crashes);
  o->pauses = absl::GetFlag(FLAGS_pauses);
  o->clock_drift = absl::GetFlag(FLAGS_clock_drift);
  o->membership_changes = absl::GetFlag(FLAGS_membership_changes);
  o->disk_latency = absl::GetFlag(FLAGS_disk_latency);
  o->clients = absl::GetFlag(FLAGS_clients);
  o->power_loss = absl::GetFlag(FLAGS_power_loss);
  o->disk_corruption = absl::GetFlag(FLAGS_disk_corruption);
  o->read_faults = absl::GetFlag(FLAGS_read_faults);
  o->sync_failures = absl::GetFlag(FLAGS_sync_failures);
  o->disk_full = absl::GetFlag(FLAGS_disk_full);
  const std::string storage = absl::GetFlag(FLAGS_storage);
  if (storage == "sqlite") {
    o->storage = rb::sim::SimOptions::Storage::kSqlite;
  } else if (storage != "memory") {
    std::fprintf(stderr, "--storage must be memory or sqlite, got %s\n", storage.c_str());
    return false;
  }
  if (absl::GetFlag(FLAGS_trace)) o->trace = &std::cout;
  const std::string mutant = absl::GetFlag(FLAGS_mutant);
  if (mutant.empty()) return true;
#ifdef RB_MUTANTS
  if (mutant == "list") {
    for (const rb::mutation::MutantInfo& m : rb::mutation::Catalogue()) {
      std::printf("%-30s %-17s %s\n", m.name, m.area, m.what);
    }
    std::exit(0);
  }
  const std::optional<rb::mutation::MutantInfo> found = rb::mutation::FindMutant(mutant);
  if (!found) {
    std::fprintf(stderr, "unknown --mutant=%s (--mutant=list names them)\n", mutant.c_str());
    return false;
  }
  o->mutant = found->id;
  return true;
#else
  std::fprintf(stderr,
               "--mutant: this build carries no mutants (by design: no production binary does). "
               "Run bazel run -c opt //sim:simulate_mutants -- --mutant=%s ...\n",
               mutant.c_str());
  return false;
#endif
}

// What one seed's run tells the whole run (through a pipe when the seed runs in a child).
struct SeedOutcome {
  bool ok = false;
  uint64_t virtual_us = 0;
  uint64_t messages = 0;
};

// Runs one seed and prints its report.
SeedOutcome RunSeed(uint64_t seed, const rb::sim::SimOptions& shared) {
  rb::sim::SimOptions o = shared;
  o.seed = seed;
  SeedOutcome out;
  if (absl::GetFlag(FLAGS_check_determinism)) {
    const std::string diverged = rb::sim::CheckDeterminism(o);
    if (!diverged.empty()) {
      std::printf("NONDETERMINISTIC seed %llu: %s\n", static_cast<unsigned long long>(seed),
                  diverged.c_str());
      return out;
    }
  }
  rb::sim::Timeline timeline;
  const std::string html = UserPath(absl::GetFlag(FLAGS_html));
  if (!html.empty()) o.timeline = &timeline;
  const rb::sim::SimResult r = rb::sim::RunSimulation(o);
  const std::string save = UserPath(absl::GetFlag(FLAGS_save_schedule));
  if (!save.empty()) {
    std::ofstream file(save);
    file << rb::sim::WriteSchedule(o, r);
    file.close();
    std::printf("  schedule: %s%s\n", save.c_str(),
                file ? "" : " NOT WRITTEN: cannot write the file");
  }
  if (!html.empty()) {
    std::ofstream page(html);
    timeline.WriteHtml(r, seed, page);
    page.close();
    std::printf("  timeline: %s (%zu events)%s\n", html.c_str(), timeline.events(),
                page ? "" : " NOT WRITTEN: cannot write the file");
  }
  out.virtual_us = r.virtual_us;
  out.messages = r.messages_delivered;
  if (!absl::GetFlag(FLAGS_history).empty()) {
    std::ofstream history(UserPath(absl::GetFlag(FLAGS_history)));
    rb::sim::WriteHistoryJson(r.history, history);
  }
  std::printf("  %s\n  events=%llu messages=%llu ops=%llu timeouts=%llu trace_hash=%016llx%s\n",
              r.scenario.c_str(), static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.messages_delivered),
              static_cast<unsigned long long>(r.ops_completed),
              static_cast<unsigned long long>(r.ops_timed_out),
              static_cast<unsigned long long>(r.trace_hash),
              r.linearizability_inconclusive ? " (linearizability inconclusive)" : "");
  std::printf(
      "  reads: lease=%llu stale_checked=%llu stale_unchecked=%llu sessions: "
      "registered=%llu expired=%llu state_digests_compared=%llu disk_full_episodes=%llu "
      "disk_full_stalls=%llu writes_proposed_together=%llu writes_answered_at_commit=%llu "
      "reads_joined=%llu reads_queued=%llu read_rounds_overdue=%llu\n",
      static_cast<unsigned long long>(r.lease_reads),
      static_cast<unsigned long long>(r.stale_reads_checked),
      static_cast<unsigned long long>(r.stale_reads_unchecked),
      static_cast<unsigned long long>(r.sessions_registered),
      static_cast<unsigned long long>(r.sessions_expired),
      static_cast<unsigned long long>(r.state_digests_compared),
      static_cast<unsigned long long>(r.disk_full_episodes),
      static_cast<unsigned long long>(r.disk_full_stalls),
      static_cast<unsigned long long>(r.writes_proposed_together),
      static_cast<unsigned long long>(r.writes_answered_at_commit),
      static_cast<unsigned long long>(r.reads_joined),
      static_cast<unsigned long long>(r.reads_queued),
      static_cast<unsigned long long>(r.read_rounds_overdue));
  if (r.removals_told > 0) {
    std::printf(
        "  removals told=%llu checked=%llu believed=%llu stopped=%llu members_stopped=%llu\n",
        static_cast<unsigned long long>(r.removals_told),
        static_cast<unsigned long long>(r.removals_told_checked),
        static_cast<unsigned long long>(r.removals_believed),
        static_cast<unsigned long long>(r.removed_nodes_stopped),
        static_cast<unsigned long long>(r.members_stopped_removed));
  }
  if (o.storage == rb::sim::SimOptions::Storage::kSqlite) {
    const std::string disk = absl::StrCat(
        "  power_losses=", r.power_losses, " torn_writes=", r.torn_writes,
        " corrupted_disks=", r.corrupted_disks, " (wal ", r.damaged_wal_frames, ", running ",
        r.damaged_while_running, ") storage_failures=", r.storage_failures,
        " refused_starts=", r.refused_starts, " replacements_proposed=", r.replacements_proposed,
        " members_replaced=", r.members_replaced, " read_faults=", r.read_faults,
        " read_faults_repaired=", r.read_faults_repaired, " sync_failures=", r.sync_failures);
    std::printf("%s\n", disk.c_str());
  }
  if (!r.ok) {
    std::printf("FAILED seed %llu (%s check): %s\n  replay: %s\n",
                static_cast<unsigned long long>(seed), r.checker.c_str(), r.failure.c_str(),
                ReplayCommand(seed).c_str());
  }
  out.ok = r.ok;
  return out;
}

// Runs one seed in a child process (sim/isolated_run.h): a crash inside it fails that
// seed alone, and the caller goes on to the next one.
SeedOutcome RunSeedIsolated(uint64_t seed, const rb::sim::SimOptions& shared) {
  absl::StatusOr<std::string> sent = rb::sim::RunIsolated([&] {
    const SeedOutcome out = RunSeed(seed, shared);
    return std::string(reinterpret_cast<const char*>(&out), sizeof(out));
  });
  SeedOutcome out;
  if (sent.ok() && sent->size() == sizeof(out)) {
    std::memcpy(&out, sent->data(), sizeof(out));
    return out;
  }
  std::printf("FAILED seed %llu: the run crashed: %s (its message is above)\n  replay: %s\n",
              static_cast<unsigned long long>(seed),
              sent.ok() ? "no outcome" : std::string(sent.status().message()).c_str(),
              ReplayCommand(seed).c_str());
  return SeedOutcome{};
}

// --shrink: shrinks the failing run and writes the smaller one's schedule.
int ShrinkCommand(uint64_t seed, rb::sim::SimOptions options) {
  options.seed = seed;
  options.trace = nullptr;
  const rb::sim::RunSummary first = rb::sim::RunSummarized(options);
  if (!first.failed) {
    std::printf("seed %llu passes: nothing to shrink\n", static_cast<unsigned long long>(seed));
    return 0;
  }
  std::printf("shrinking seed %llu (%s check): %s\n", static_cast<unsigned long long>(seed),
              first.checker.c_str(), first.failure.c_str());
  const rb::sim::ShrinkResult r = rb::sim::Shrink(options);
  for (const std::string& step : r.steps) std::printf("  kept failing with %s\n", step.c_str());
  std::printf(
      "faults %llu -> %llu, client operations %llu -> %llu, events %llu -> %llu (%d runs)\n",
      static_cast<unsigned long long>(r.original.faults),
      static_cast<unsigned long long>(r.shrunk.faults),
      static_cast<unsigned long long>(r.original.ops),
      static_cast<unsigned long long>(r.shrunk.ops),
      static_cast<unsigned long long>(r.original.events),
      static_cast<unsigned long long>(r.shrunk.events), r.runs);
  std::printf("it fails with: %s\n", r.shrunk.failure.c_str());
  std::string path = absl::GetFlag(FLAGS_save_schedule);
  path = UserPath(path.empty() ? absl::StrCat("seed-", seed, ".shrunk.schedule") : path);
  std::ofstream file(path);
  file << "# shrunk from seed " << seed << ": " << absl::StrJoin(r.steps, ", ") << "\n"
       << rb::sim::WriteSchedule(r.options, r.options.scenario, r.options.faults,
                                 rb::sim::OutcomeLine(true, r.shrunk.checker, r.shrunk.failure));
  file.close();
  if (!file) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return 2;
  }
  std::printf("schedule: %s\n  replay: bazel run -c opt //sim:%s -- --schedule=%s\n", path.c_str(),
              rb::mutation::kBuildHasMutants ? "simulate_mutants" : "simulate", path.c_str());
  return 1;  // the run fails: say so to scripts
}

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Deterministic simulation of a RaftBadger cluster.");
  absl::ParseCommandLine(argc, argv);
  // Errors only: the faults make nodes warn all the time (a repaired page read, say).
  rb::SetMinLogSeverity(rb::LogSeverity::kError);
  uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (seed == 0) {
    // The only nondeterminism is choosing which seed to run; the run itself is a function
    // of the seed alone.
    seed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    if (seed == 0) seed = 1;
  }
  const int count = absl::GetFlag(FLAGS_seeds);
  if (count < 1) {
    std::fprintf(stderr, "--seeds must be at least 1\n");
    return 2;
  }
  if (count > 1 &&
      (!absl::GetFlag(FLAGS_html).empty() || !absl::GetFlag(FLAGS_save_schedule).empty() ||
       !absl::GetFlag(FLAGS_schedule).empty() || absl::GetFlag(FLAGS_shrink))) {
    std::fprintf(stderr,
                 "--html, --save_schedule, --schedule and --shrink take one run: drop --seeds\n");
    return 2;
  }
  int failures = 0;
  const auto start = std::chrono::steady_clock::now();
  uint64_t virtual_us = 0, messages = 0;
  rb::sim::SimOptions shared;
  if (!OptionsFromFlags(&shared)) return 2;
  if (const std::string path = UserPath(absl::GetFlag(FLAGS_schedule)); !path.empty()) {
    std::ifstream file(path);
    std::stringstream text;
    if (file.is_open()) text << file.rdbuf();
    if (!file.is_open() || file.bad()) {
      std::fprintf(stderr, "cannot read the schedule file %s\n", path.c_str());
      return 2;
    }
    absl::StatusOr<rb::sim::SimOptions> loaded = rb::sim::ReadSchedule(text.str());
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(),
                   std::string(loaded.status().message()).c_str());
      return 2;
    }
    loaded->trace = shared.trace;
    shared = *std::move(loaded);
    seed = shared.seed;
  }
  if (absl::GetFlag(FLAGS_shrink)) return ShrinkCommand(seed, shared);
  // One seed runs in this process (as a debugger expects); several run each in a child.
  const bool isolate = count > 1;
  for (int i = 0; i < count; ++i, ++seed) {
    std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
    std::fflush(stdout);  // printed before the run, so a crash still names its seed
    const SeedOutcome out = isolate ? RunSeedIsolated(seed, shared) : RunSeed(seed, shared);
    virtual_us += out.virtual_us;
    messages += out.messages;
    if (!out.ok) ++failures;
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%d seeds, %d failed; %.2fs wall, %.0fx real time, %.0f messages/s\n", count,
              failures, wall_s, virtual_us / 1e6 / wall_s, messages / wall_s);
  return failures == 0 ? 0 : 1;
}
