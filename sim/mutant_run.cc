#include "sim/mutant_run.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "sim/isolated_run.h"
#include "sim/schedule.h"

namespace rb::sim {
namespace {

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  std::replace(line.begin(), line.end(), '\t', ' ');
  return line;
}

// What a crashed child printed last that explains it: the failed check's line, if any.
std::string CrashMessage(int fd) {
  if (lseek(fd, 0, SEEK_SET) < 0) return "";
  const std::string text = ReadAll(fd, 1 << 20);
  std::string found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "F ")) found = std::string(line);
  }
  return found;
}

}  // namespace

SimOptions OptionsForMutant(const SimOptions& base, mutation::Mutant mutant) {
  SimOptions o = base;
  if (mutant == mutation::Mutant::kReadJoinsSentRound) {
    o.batch_client_requests = SimOptions::Draw::kAlways;
  }
  if (mutant == mutation::Mutant::kReadJoinsRoundInFlight) {
    // With 3 clients, reads seldom wait behind a round: caught in 3 of seeds 1 to 1,000;
    // with 8, in 61 (docs/mutants.md).
    o.one_read_round_in_flight = SimOptions::Draw::kAlways;
    o.clients = 8;
  }
  return o;
}

std::string FlagsForMutant(mutation::Mutant mutant) {
  // Read off OptionsForMutant, so that the replay line says what the run did. It changes
  // only these settings.
  const SimOptions plain;
  const SimOptions o = OptionsForMutant(plain, mutant);
  std::string flags;
  if (o.batch_client_requests != plain.batch_client_requests) {
    absl::StrAppend(&flags, " --batch_client_requests=", DrawName(o.batch_client_requests));
  }
  if (o.one_read_round_in_flight != plain.one_read_round_in_flight) {
    absl::StrAppend(&flags, " --one_read_round_in_flight=", DrawName(o.one_read_round_in_flight));
  }
  if (o.clients != plain.clients) absl::StrAppend(&flags, " --clients=", o.clients);
  return flags;
}

SeedVerdict RunSeedWithMutant(const SimOptions& base, mutation::Mutant mutant, uint64_t seed) {
  SimOptions o = OptionsForMutant(base, mutant);
  o.seed = seed;
  o.mutant = mutant;
  // The child's stderr goes to an anonymous file, to find the failed check's message.
  const int err_fd = memfd_create("mutant-stderr", 0);
  RB_CHECK(err_fd >= 0, "memfd_create failed: ", strerror(errno));
  absl::StatusOr<std::string> sent = RunIsolated([&] {
    dup2(err_fd, STDERR_FILENO);
    SetMinLogSeverity(LogSeverity::kFatal);
    const SimResult r = RunSimulation(o);
    if (r.ok) return std::string("ok");
    return absl::StrCat(r.checker, "\t", FirstLine(r.failure));
  });
  SeedVerdict v;
  if (sent.ok() && *sent == "ok") {
    close(err_fd);
    return v;
  }
  v.failed = true;
  if (sent.ok()) {
    const size_t tab = sent->find('\t');
    v.checker = sent->substr(0, tab);
    v.failure = tab == std::string::npos ? "" : sent->substr(tab + 1);
  } else {
    v.checker = "crash";
    const std::string message = CrashMessage(err_fd);
    v.failure = message.empty() ? std::string(sent.status().message())
                                : absl::StrCat(message, " (", sent.status().message(), ")");
  }
  close(err_fd);
  return v;
}

MutantSummary RunMutant(const SimOptions& base, mutation::Mutant mutant, uint64_t first_seed,
                        uint64_t count, int jobs) {
  RB_CHECK(jobs >= 1 && count >= 1, "jobs ", jobs, " count ", count);
  jobs = static_cast<int>(std::min<uint64_t>(static_cast<uint64_t>(jobs), count));
  std::fflush(stdout);
  std::fflush(stderr);
  struct Worker {
    pid_t pid;
    int fd;
  };
  std::vector<Worker> workers;
  for (int j = 0; j < jobs; ++j) {
    int fds[2];
    RB_CHECK(pipe(fds) == 0, "pipe failed: ", strerror(errno));
    const pid_t pid = fork();
    RB_CHECK(pid >= 0, "fork failed: ", strerror(errno));
    if (pid == 0) {
      close(fds[0]);
      // Worker j takes every jobs-th seed; one line per failing seed, then a count.
      uint64_t ran = 0;
      for (uint64_t s = first_seed + j; s < first_seed + count; s += jobs, ++ran) {
        const SeedVerdict v = RunSeedWithMutant(base, mutant, s);
        if (v.failed &&
            !WriteAll(fds[1], absl::StrCat(s, "\t", v.checker, "\t", v.failure, "\n"))) {
          _exit(3);
        }
      }
      _exit(WriteAll(fds[1], absl::StrCat("ran\t", ran, "\n")) ? 0 : 3);
    }
    close(fds[1]);
    workers.push_back(Worker{pid, fds[0]});
  }
  MutantSummary summary;
  for (const Worker& w : workers) {
    // Ends at EOF: the worker exits after its last seed. A line per failing seed.
    const std::string text = ReadAll(w.fd, size_t{1} << 30);
    close(w.fd);
    int status = 0;
    while (waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
    RB_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a mutant worker died (status ", status,
             ")");
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      std::vector<std::string> fields = absl::StrSplit(line, absl::MaxSplits('\t', 2));
      RB_CHECK(fields.size() >= 2, "bad worker line: ", line);
      uint64_t n = 0;
      RB_CHECK(absl::SimpleAtoi(fields[fields[0] == "ran" ? 1 : 0], &n), "bad worker line: ", line);
      if (fields[0] == "ran") {
        summary.seeds += n;
        continue;
      }
      ++summary.failures;
      ++summary.failures_by_checker[fields[1]];
      if (summary.first_failing_seed == 0 || n < summary.first_failing_seed) {
        summary.first_failing_seed = n;
        summary.first = SeedVerdict{true, fields[1], fields.size() > 2 ? fields[2] : ""};
      }
    }
  }
  RB_CHECK(summary.seeds == count, "ran ", summary.seeds, " of ", count, " seeds");
  return summary;
}

}  // namespace rb::sim
