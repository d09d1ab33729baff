#include "sim/schedule.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/mutation.h"
#include "base/status_macros.h"
#include "sim/cluster.h"

namespace rb::sim {
namespace {

constexpr int kVersion = 1;

// The options a schedule records, each with how to write and read it. Display-only
// options (trace, timeline) and the checks' bounds are left out.
struct BoolOption {
  const char* name;
  bool SimOptions::*field;
};
constexpr BoolOption kBoolOptions[] = {
    {"network_faults", &SimOptions::network_faults},
    {"partitions", &SimOptions::partitions},
    {"crashes", &SimOptions::crashes},
    {"pauses", &SimOptions::pauses},
    {"membership_changes", &SimOptions::membership_changes},
    {"clock_drift", &SimOptions::clock_drift},
    {"disk_latency", &SimOptions::disk_latency},
    {"power_loss", &SimOptions::power_loss},
    {"disk_corruption", &SimOptions::disk_corruption},
    {"read_faults", &SimOptions::read_faults},
    {"sync_failures", &SimOptions::sync_failures},
    {"disk_full", &SimOptions::disk_full},
};

absl::Status SetOption(absl::string_view name, absl::string_view value, SimOptions* o) {
  uint64_t n = 0;
  const bool numeric = absl::SimpleAtoi(value, &n);
  auto need_number = [&]() -> absl::Status {
    return numeric ? absl::OkStatus()
                   : absl::InvalidArgumentError(absl::StrCat("option.", name, " needs a number"));
  };
  if (name == "seed") {
    RETURN_IF_ERROR(need_number());
    o->seed = n;
  } else if (name == "voters") {
    RETURN_IF_ERROR(need_number());
    if (n > 7) return absl::InvalidArgumentError("option.voters is not 0 to 7");
    o->voters = static_cast<int>(n);
  } else if (name == "max_msg_bytes") {
    RETURN_IF_ERROR(need_number());
    o->max_msg_bytes = n;
  } else if (name == "fault_phase_us") {
    RETURN_IF_ERROR(need_number());
    o->fault_phase_us = n;
  } else if (name == "quiet_phase_us") {
    RETURN_IF_ERROR(need_number());
    o->quiet_phase_us = n;
  } else if (name == "clients") {
    RETURN_IF_ERROR(need_number());
    if (n > 64) return absl::InvalidArgumentError("option.clients is over 64");
    o->clients = static_cast<int>(n);
  } else if (name == "client_think_us") {
    RETURN_IF_ERROR(need_number());
    o->client_think_us = n;
  } else if (name == "storage") {
    if (value != "memory" && value != "sqlite") {
      return absl::InvalidArgumentError("option.storage is not memory or sqlite");
    }
    o->storage = value == "sqlite" ? SimOptions::Storage::kSqlite : SimOptions::Storage::kMemory;
  } else if (name == "leader_faults") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->leader_faults));
  } else if (name == "skip_broadcast_commit") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->skip_broadcast_commit));
  } else if (name == "batch_client_requests" || name == "batch_client_writes") {
    // batch_client_writes: its name in older schedules, until reads joined the batch (so
    // one that had it on replays differently now).
    RETURN_IF_ERROR(ParseDraw(name, value, &o->batch_client_requests));
  } else if (name == "deliver_removals") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->deliver_removals));
  } else if (name == "one_read_round_in_flight") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->one_read_round_in_flight));
  } else if (name == "answer_writes_at_commit") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->answer_writes_at_commit));
  } else if (name == "large_values") {
    RETURN_IF_ERROR(ParseDraw(name, value, &o->large_values));
  } else if (name == "mutant") {
    if (value.empty()) return absl::OkStatus();
#ifdef RB_MUTANTS
    const auto found = mutation::FindMutant(std::string(value));
    if (!found) return absl::InvalidArgumentError(absl::StrCat("unknown mutant ", value));
    o->mutant = found->id;
#else
    return absl::InvalidArgumentError(
        absl::StrCat("the schedule runs the mutant ", value,
                     ", which this build does not carry: replay it with //sim:simulate_mutants"));
#endif
  } else {
    for (const BoolOption& b : kBoolOptions) {
      if (name != b.name) continue;
      if (value != "0" && value != "1") {
        return absl::InvalidArgumentError(absl::StrCat("option.", name, " is not 0 or 1"));
      }
      o->*b.field = value == "1";
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("unknown option ", name));
  }
  return absl::OkStatus();
}

}  // namespace

const char* DrawName(SimOptions::Draw d) {
  switch (d) {
    case SimOptions::Draw::kOff:
      return "off";
    case SimOptions::Draw::kDrawn:
      return "drawn";
    case SimOptions::Draw::kAlways:
      return "always";
  }
  return "drawn";
}

absl::Status ParseDraw(absl::string_view option, absl::string_view value, SimOptions::Draw* out) {
  for (auto d : {SimOptions::Draw::kOff, SimOptions::Draw::kDrawn, SimOptions::Draw::kAlways}) {
    if (value == DrawName(d)) {
      *out = d;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(option, " must be off, drawn or always, got ", value));
}

std::string OutcomeLine(bool failed, absl::string_view checker, absl::string_view failure) {
  if (!failed) return "passed";
  return absl::StrCat("failed (", checker, " check): ", failure.substr(0, failure.find('\n')));
}

std::string WriteSchedule(const SimOptions& o, const SimResult& r) {
  return WriteSchedule(o, r.scenario_text, r.faults, OutcomeLine(!r.ok, r.checker, r.failure));
}

std::string WriteSchedule(const SimOptions& o, absl::string_view scenario_text,
                          const std::vector<FaultStep>& faults, absl::string_view outcome) {
  std::string out =
      absl::StrCat("# RaftBadger simulator schedule. Replay: bazel run -c opt //sim:",
                   o.mutant == mutation::Mutant::kNone ? "simulate" : "simulate_mutants",
                   " -- --schedule=FILE\n# ", outcome, "\nversion=", kVersion, "\n");
  absl::StrAppend(
      &out, "option.seed=", o.seed, "\noption.voters=", o.voters,
      "\noption.max_msg_bytes=", o.max_msg_bytes, "\noption.fault_phase_us=", o.fault_phase_us,
      "\noption.quiet_phase_us=", o.quiet_phase_us, "\noption.clients=", o.clients,
      "\noption.client_think_us=", o.client_think_us,
      "\noption.storage=", o.storage == SimOptions::Storage::kSqlite ? "sqlite" : "memory",
      "\noption.leader_faults=", DrawName(o.leader_faults),
      "\noption.skip_broadcast_commit=", DrawName(o.skip_broadcast_commit),
      "\noption.batch_client_requests=", DrawName(o.batch_client_requests),
      "\noption.deliver_removals=", DrawName(o.deliver_removals),
      "\noption.one_read_round_in_flight=", DrawName(o.one_read_round_in_flight),
      "\noption.answer_writes_at_commit=", DrawName(o.answer_writes_at_commit),
      "\noption.large_values=", DrawName(o.large_values), "\n");
  for (const BoolOption& b : kBoolOptions) {
    absl::StrAppend(&out, "option.", b.name, "=", o.*b.field ? 1 : 0, "\n");
  }
#ifdef RB_MUTANTS  // (a build without them cannot have run one)
  if (o.mutant != mutation::Mutant::kNone) {
    absl::StrAppend(&out, "option.mutant=", mutation::MutantName(o.mutant), "\n");
  }
#endif
  for (absl::string_view line : absl::StrSplit(scenario_text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "scenario.", line, "\n");
  }
  for (const FaultStep& step : faults) {
    const std::string& what = step.description.empty() ? "nothing happened" : step.description;
    absl::StrAppend(&out, "# ", absl::StrFormat("%.6f", step.at_us / 1e6), "s ",
                    step.dropped ? "(dropped) " : "", what, "\n", "fault=", FaultStepText(step),
                    "\n");
  }
  return out;
}

absl::StatusOr<SimOptions> ReadSchedule(absl::string_view text) {
  SimOptions o;
  // A schedule written before these options existed ran with them off (their default then).
  o.batch_client_requests = SimOptions::Draw::kOff;
  o.deliver_removals = SimOptions::Draw::kOff;
  o.one_read_round_in_flight = SimOptions::Draw::kOff;
  o.answer_writes_at_commit = SimOptions::Draw::kOff;
  std::string scenario;
  bool versioned = false;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("schedule line ", line_number, ": no '='"));
    }
    const absl::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    absl::string_view option = key;
    absl::Status s;
    if (key == "version") {
      int v = 0;
      if (!absl::SimpleAtoi(value, &v) || v != kVersion) {
        s = absl::InvalidArgumentError(
            absl::StrCat("version ", value, " (this simulator reads version ", kVersion, ")"));
      }
      versioned = true;
    } else if (absl::ConsumePrefix(&option, "option.")) {
      s = SetOption(option, value, &o);
    } else if (absl::StartsWith(key, "scenario.")) {
      absl::StrAppend(&scenario, key.substr(9), "=", value, "\n");
    } else if (key == "fault") {
      absl::StatusOr<FaultStep> step = ParseFaultStep(value);
      if (step.ok()) {
        o.faults.push_back(*std::move(step));
        o.replay_faults = true;
      } else {
        s = step.status();
      }
    } else {
      s = absl::InvalidArgumentError(absl::StrCat("unknown key ", key));
    }
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("schedule line ", line_number, ": ", s.message()));
    }
  }
  if (!versioned) return absl::InvalidArgumentError("not a schedule file (no version line)");
  absl::StatusOr<internal::Scenario> parsed = internal::ParseScenarioText(scenario);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("schedule: ", parsed.status().message()));
  }
  o.scenario = std::move(scenario);
  return o;
}

}  // namespace rb::sim
