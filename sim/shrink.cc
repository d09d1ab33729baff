#include "sim/shrink.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "sim/cluster.h"
#include "sim/isolated_run.h"

namespace rb::sim {
namespace {

using internal::Scenario;

// The nemesis's steps that did something (not dropped).
uint64_t LiveSteps(const std::vector<FaultStep>& steps) {
  uint64_t n = 0;
  for (const FaultStep& s : steps) n += s.dropped ? 0 : 1;
  return n;
}

constexpr char kStepsMarker[] = "--steps--";

// A child's summary travels as lines: failed, checker, failure, events, faults, ops, the
// scenario text, then the marker and each fault step as two lines (its text, its
// description).
std::string Encode(const SimResult& r) {
  std::string out =
      absl::StrCat(r.ok ? 0 : 1, "\n", r.checker, "\n", r.failure.substr(0, r.failure.find('\n')),
                   "\n", r.events, "\n", LiveSteps(r.faults), "\n", r.history.size(), "\n",
                   r.scenario_text, kStepsMarker, "\n");
  for (const FaultStep& step : r.faults) {
    absl::StrAppend(&out, FaultStepText(step), "\n", step.description, "\n");
  }
  return out;
}

struct Candidate {
  std::string what;
  // Changes the scenario or options; false if it has nothing to take away.
  std::function<bool(Scenario*, SimOptions*)> apply;
};

// Each fault-rate field of the scenario, turned off.
template <typename T>
Candidate Off(std::string what, T Scenario::*field) {
  return Candidate{std::move(what), [field](Scenario* s, SimOptions*) {
                     if (s->*field == 0) return false;
                     s->*field = 0;
                     return true;
                   }};
}

std::vector<Candidate> Candidates() {
  return {
      Candidate{"one voter fewer",
                [](Scenario* s, SimOptions*) {
                  if (s->voters <= 1) return false;
                  --s->voters;
                  return true;
                }},
      Off("no crashes", &Scenario::crash_weight),
      Off("no partitions", &Scenario::partition_weight),
      Off("no clogged links", &Scenario::clog_weight),
      Off("no pauses", &Scenario::pause_weight),
      Off("no membership changes", &Scenario::membership_weight),
      Off("no leader-targeted faults", &Scenario::new_leader_crash_per_mille),
      Off("no dropped messages", &Scenario::drop_per_mille),
      Off("no duplicated messages", &Scenario::duplicate_per_mille),
      Off("no stragglers", &Scenario::straggler_per_mille),
      Off("no straggling vote responses", &Scenario::vote_straggler_per_mille),
      Off("no full disks", &Scenario::disk_full_interval_us),
      Off("no pauses at handovers", &Scenario::handover_pause_per_mille),
      Off("no read-only spells", &Scenario::read_spell_interval_us),
      Off("no pauses at read rounds", &Scenario::read_round_pause_per_mille),
      Off("no splits at configuration changes", &Scenario::conf_split_per_mille),
      Off("no clock drift", &Scenario::max_drift_permille),
      Off("no power losses", &Scenario::power_loss_per_mille),
      Off("no disk damage", &Scenario::corruption_per_mille),
      Off("no flaky reads", &Scenario::flaky_read_per_mille),
      Off("no failing fsyncs", &Scenario::failing_sync_per_10k),
      Off("no read latency", &Scenario::max_read_latency_us),
      Off("no snapshots", &Scenario::snapshot_every),
      Off("no disk latency", &Scenario::max_disk_latency_us),
      Candidate{"no delay spread",
                [](Scenario* s, SimOptions*) {
                  if (s->max_delay_us == s->min_delay_us) return false;
                  s->max_delay_us = s->min_delay_us;
                  return true;
                }},
      Candidate{"rarer faults",
                [](Scenario* s, SimOptions* o) {
                  if (s->fault_interval_us == 0 || s->fault_interval_us >= o->fault_phase_us) {
                    return false;
                  }
                  s->fault_interval_us *= 2;
                  return true;
                }},
      Candidate{"one client fewer",
                [](Scenario*, SimOptions* o) {
                  if (o->clients <= 1) return false;
                  --o->clients;
                  return true;
                }},
      Candidate{"clients that pause longer between operations",
                [](Scenario*, SimOptions* o) {
                  // 0, 20 ms, 40 ms, ...: each step about halves the operations of a
                  // run, spread over all of it (a count cap would end them early).
                  if (o->client_think_us >= 640'000) return false;
                  o->client_think_us = o->client_think_us == 0 ? 20'000 : 2 * o->client_think_us;
                  return true;
                }},
      Candidate{"a fault phase half as long",
                [](Scenario*, SimOptions* o) {
                  if (o->fault_phase_us < 500'000) return false;
                  o->fault_phase_us /= 2;
                  return true;
                }},
      Candidate{"a quiet phase half as long",
                [](Scenario*, SimOptions* o) {
                  if (o->quiet_phase_us < 500'000) return false;
                  o->quiet_phase_us /= 2;
                  return true;
                }},
  };
}

}  // namespace

RunSummary RunSummarized(const SimOptions& options) {
  absl::StatusOr<std::string> sent = RunIsolated([&] {
    SetMinLogSeverity(LogSeverity::kFatal);
    return Encode(RunSimulation(options));
  });
  RunSummary s;
  if (!sent.ok()) {
    s.failed = true;
    s.checker = "crash";
    s.failure = std::string(sent.status().message());
    return s;
  }
  std::vector<std::string> lines = absl::StrSplit(*sent, absl::MaxSplits('\n', 6));
  RB_CHECK(lines.size() == 7, "bad run summary from the child");
  s.failed = lines[0] == "1";
  s.checker = lines[1];
  s.failure = lines[2];
  RB_CHECK(absl::SimpleAtoi(lines[3], &s.events) && absl::SimpleAtoi(lines[4], &s.faults) &&
               absl::SimpleAtoi(lines[5], &s.ops),
           "bad run summary from the child");
  const size_t marker = lines[6].find(kStepsMarker);
  RB_CHECK(marker != std::string::npos, "bad run summary from the child");
  s.scenario_text = lines[6].substr(0, marker);
  std::vector<std::string> steps =
      absl::StrSplit(lines[6].substr(marker + sizeof(kStepsMarker)), '\n');
  for (size_t i = 0; i + 1 < steps.size(); i += 2) {
    absl::StatusOr<FaultStep> step = ParseFaultStep(steps[i]);
    RB_CHECK(step.ok(), "bad fault step from the child: ", step.status().ToString());
    step->description = steps[i + 1];
    s.fault_steps.push_back(*std::move(step));
  }
  return s;
}

// The second pass: the best run's own fault steps, replayed with some dropped: in halves,
// then quarters, down to one at a time (delta debugging). A drop is kept if the same check
// still fails.
void ShrinkSteps(SimOptions* current, ShrinkResult* result, int max_runs) {
  std::vector<FaultStep> steps = result->shrunk.fault_steps;
  current->faults = steps;
  current->replay_faults = true;
  const uint64_t before = LiveSteps(steps);
  for (size_t chunk = std::max<size_t>(steps.size() / 2, 1); result->runs < max_runs; chunk /= 2) {
    for (size_t first = 0; first < steps.size() && result->runs < max_runs; first += chunk) {
      std::vector<FaultStep> candidate = steps;
      bool dropped_any = false;
      for (size_t i = first; i < std::min(first + chunk, steps.size()); ++i) {
        dropped_any |= !candidate[i].dropped;
        candidate[i].dropped = true;
      }
      if (!dropped_any) continue;
      SimOptions o = *current;
      o.faults = candidate;
      const RunSummary r = RunSummarized(o);
      ++result->runs;
      if (!r.failed || r.checker != result->original.checker) continue;
      // The replay recorded the same steps, those dropped marked so; keep its descriptions.
      steps = r.fault_steps.size() == candidate.size() ? r.fault_steps : candidate;
      current->faults = steps;
      result->shrunk = r;
    }
    if (chunk == 1) break;
  }
  if (LiveSteps(steps) < before) {
    result->steps.push_back(
        absl::StrCat(before - LiveSteps(steps), " of the ", before, " fault steps dropped"));
  }
}

ShrinkResult Shrink(const SimOptions& failing, int max_runs) {
  ShrinkResult result;
  result.original = RunSummarized(failing);
  RB_CHECK(result.original.failed, "Shrink needs a failing run");
  result.runs = 1;
  SimOptions current = failing;
  absl::StatusOr<Scenario> scenario = internal::ParseScenarioText(result.original.scenario_text);
  RB_CHECK(scenario.ok(), scenario.status().ToString());
  current.scenario = internal::ScenarioText(*scenario);
  result.shrunk = result.original;
  const std::vector<Candidate> candidates = Candidates();
  // Passes until one changes nothing; each pass tries every candidate once. Bounded by
  // max_runs.
  for (bool changed = true; changed && result.runs < max_runs;) {
    changed = false;
    for (const Candidate& c : candidates) {
      if (result.runs >= max_runs) break;
      Scenario s = *scenario;
      SimOptions o = current;
      if (!c.apply(&s, &o)) continue;
      o.scenario = internal::ScenarioText(s);
      const RunSummary r = RunSummarized(o);
      ++result.runs;
      // Smaller means the same check fails, with no more faults and no more events.
      if (!r.failed || r.checker != result.original.checker || r.faults > result.shrunk.faults ||
          r.events > result.shrunk.events) {
        continue;
      }
      *scenario = s;
      current = o;
      result.shrunk = r;
      result.steps.push_back(c.what);
      changed = true;
    }
  }
  ShrinkSteps(&current, &result, max_runs);
  result.options = current;
  return result;
}

}  // namespace rb::sim
