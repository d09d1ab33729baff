// mutants: the simulator's self-test. Runs every mutant of the catalogue (base/mutation.h)
// over the same seeds with the simulator's default settings, and prints which were caught,
// how soon, how often and by which check.
//
//   bazel run -c opt //sim:mutants                          # seeds 1..1000, every mutant
//   bazel run -c opt //sim:mutants -- --seeds=200 --mutants=vote_ignores_log,lease_from_ack
//
// The first row runs no mutant: the same seeds must all pass, so that every failure below
// is the mutant's doing. Exits 1 if a mutant went uncaught or the baseline failed.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/mutation.h"

#ifdef RB_MUTANTS
#include "sim/mutant_run.h"
#endif

ABSL_FLAG(uint64_t, first_seed, 1, "first seed");
ABSL_FLAG(uint64_t, seeds, 1000, "seeds per mutant");
ABSL_FLAG(std::string, mutants, "", "comma-separated mutant names; empty runs them all");
ABSL_FLAG(int, jobs, 0, "worker processes; 0 uses one per CPU");
ABSL_FLAG(bool, markdown, false, "print the table as Markdown (for docs/)");

#ifdef RB_MUTANTS
namespace {

using rb::mutation::MutantInfo;

std::string Checkers(const rb::sim::MutantSummary& s) {
  std::vector<std::string> parts;
  for (const auto& [checker, n] : s.failures_by_checker)
    parts.push_back(absl::StrCat(checker, " ", n));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Runs the simulator's mutants and prints which were caught.");
  absl::ParseCommandLine(argc, argv);
  std::vector<MutantInfo> chosen;
  const std::string names = absl::GetFlag(FLAGS_mutants);
  if (names.empty()) {
    chosen = rb::mutation::Catalogue();
  } else {
    for (absl::string_view name : absl::StrSplit(names, ',', absl::SkipEmpty())) {
      const auto found = rb::mutation::FindMutant(std::string(name));
      if (!found) {
        std::fprintf(stderr, "unknown mutant %s\n", std::string(name).c_str());
        return 2;
      }
      chosen.push_back(*found);
    }
  }
  const uint64_t first = absl::GetFlag(FLAGS_first_seed);
  const uint64_t count = absl::GetFlag(FLAGS_seeds);
  int jobs = absl::GetFlag(FLAGS_jobs);
  if (jobs <= 0) jobs = static_cast<int>(std::max<long>(1, sysconf(_SC_NPROCESSORS_ONLN)));
  if (count == 0) {
    std::fprintf(stderr, "--seeds must be at least 1\n");
    return 2;
  }
  const bool md = absl::GetFlag(FLAGS_markdown);
  std::printf("seeds %llu..%llu, default settings, %d jobs\n",
              static_cast<unsigned long long>(first),
              static_cast<unsigned long long>(first + count - 1), jobs);
  if (md) {
    std::printf(
        "| mutant | area | caught | first failing seed | failures per %llu | checks that fired |\n",
        static_cast<unsigned long long>(count));
    std::printf("|---|---|---|---|---|---|\n");
  } else {
    std::printf("%-30s %-17s %-7s %-10s %-9s %s\n", "mutant", "area", "caught", "first seed",
                "failures", "checks that fired");
  }
  const auto start = std::chrono::steady_clock::now();
  rb::sim::SimOptions base;
  int uncaught = 0;
  bool baseline_failed = false;
  std::vector<MutantInfo> rows = {
      MutantInfo{rb::mutation::Mutant::kNone, "(none: baseline)", "", ""}};
  rows.insert(rows.end(), chosen.begin(), chosen.end());
  std::vector<std::string> first_failures;
  for (const MutantInfo& m : rows) {
    const rb::sim::MutantSummary s = rb::sim::RunMutant(base, m.id, first, count, jobs);
    const bool baseline = m.id == rb::mutation::Mutant::kNone;
    const bool caught = s.failures > 0;
    if (baseline && caught) baseline_failed = true;
    if (!baseline && !caught) ++uncaught;
    const std::string caught_text = baseline ? (caught ? "FAILED" : "-") : (caught ? "yes" : "NO");
    const std::string seed_text = caught ? absl::StrCat(s.first_failing_seed) : "-";
    if (md) {
      std::printf("| %s | %s | %s | %s | %llu | %s |\n", m.name, m.area, caught_text.c_str(),
                  seed_text.c_str(), static_cast<unsigned long long>(s.failures),
                  Checkers(s).c_str());
    } else {
      std::printf("%-30s %-17s %-7s %-10s %-9llu %s\n", m.name, m.area, caught_text.c_str(),
                  seed_text.c_str(), static_cast<unsigned long long>(s.failures),
                  Checkers(s).c_str());
    }
    std::fflush(stdout);
    if (caught) {
      first_failures.push_back(absl::StrCat(
          m.name, ", seed ", s.first_failing_seed, " (", s.first.checker, "): ", s.first.failure,
          "\n    replay: bazel run -c opt //sim:simulate_mutants -- --seed=", s.first_failing_seed,
          baseline ? "" : absl::StrCat(" --mutant=", m.name, rb::sim::FlagsForMutant(m.id))));
    }
  }
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nFirst failures:\n");
  for (const std::string& f : first_failures) std::printf("  %s\n", f.c_str());
  std::printf("\n%zu mutants, %d not caught; baseline %s; %.0fs wall\n", chosen.size(), uncaught,
              baseline_failed ? "FAILED" : "passed", wall_s);
  return uncaught == 0 && !baseline_failed ? 0 : 1;
}
#else
int main() {
  std::fprintf(stderr,
               "this build carries no mutants (by design); run bazel run -c opt //sim:mutants\n");
  return 2;
}
#endif
