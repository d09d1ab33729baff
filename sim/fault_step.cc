#include "sim/fault_step.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace rb::sim {
namespace {

absl::Status Bad(absl::string_view what, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("fault step: ", what, " in \"", text, "\""));
}

// Bounds what a line can make the parser hold.
constexpr size_t kMaxDecisions = 4096;

}  // namespace

std::string FaultStepText(const FaultStep& step) {
  std::vector<std::string> decisions;
  decisions.reserve(step.decisions.size());
  for (const FaultDecision& d : step.decisions) {
    decisions.push_back(absl::StrCat(d.value, ":", d.draws, ":", static_cast<int>(d.stream)));
  }
  return absl::StrCat(step.chain == FaultStep::Chain::kNemesis ? "nemesis" : "disk_full",
                      " at=", step.at_us, step.dropped ? " dropped" : "",
                      " draws=", absl::StrJoin(step.stream_draws, ","),
                      " decisions=", absl::StrJoin(decisions, ","));
}

absl::StatusOr<FaultStep> ParseFaultStep(absl::string_view text) {
  FaultStep step;
  std::vector<absl::string_view> tokens = absl::StrSplit(text, ' ', absl::SkipEmpty());
  if (tokens.empty()) return Bad("no chain", text);
  if (tokens[0] == "nemesis") {
    step.chain = FaultStep::Chain::kNemesis;
  } else if (tokens[0] == "disk_full") {
    step.chain = FaultStep::Chain::kDiskFull;
  } else {
    return Bad("an unknown chain", text);
  }
  bool have_at = false, have_draws = false;
  for (size_t i = 1; i < tokens.size(); ++i) {
    absl::string_view t = tokens[i];
    if (t == "dropped") {
      step.dropped = true;
    } else if (absl::ConsumePrefix(&t, "at=")) {
      if (!absl::SimpleAtoi(t, &step.at_us)) return Bad("a bad time", text);
      have_at = true;
    } else if (absl::ConsumePrefix(&t, "draws=")) {
      std::vector<absl::string_view> counts = absl::StrSplit(t, ',');
      if (counts.size() != kFaultStreams) return Bad("a draw count per stream missing", text);
      for (int s = 0; s < kFaultStreams; ++s) {
        if (!absl::SimpleAtoi(counts[s], &step.stream_draws[s])) return Bad("a bad count", text);
      }
      have_draws = true;
    } else if (absl::ConsumePrefix(&t, "decisions=")) {
      if (t.empty()) continue;
      for (absl::string_view d : absl::StrSplit(t, ',')) {
        if (step.decisions.size() >= kMaxDecisions) return Bad("too many decisions", text);
        std::vector<absl::string_view> parts = absl::StrSplit(d, ':');
        FaultDecision decision;
        int stream = 0;
        if (parts.size() != 3 || !absl::SimpleAtoi(parts[0], &decision.value) ||
            !absl::SimpleAtoi(parts[1], &decision.draws) || !absl::SimpleAtoi(parts[2], &stream) ||
            stream < 0 || stream >= kFaultStreams) {
          return Bad("a bad decision", text);
        }
        decision.stream = static_cast<FaultStream>(stream);
        step.decisions.push_back(decision);
      }
    } else {
      return Bad("an unknown field", text);
    }
  }
  if (!have_at || !have_draws) return Bad("no time or no draw counts", text);
  return step;
}

}  // namespace rb::sim
