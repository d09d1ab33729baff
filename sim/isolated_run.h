// Running a piece of work in a child process, so that its crash (a failed check, an abort,
// a fatal signal) is reported as an error instead of ending the caller. The simulator's
// multi-seed runs use it: one seed's crash fails that seed, and the run goes on.
#ifndef RAFTBADGER_SIM_ISOLATED_RUN_H_
#define RAFTBADGER_SIM_ISOLATED_RUN_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::sim {

// Forks; the child runs fn and sends back its result (up to 1 MiB); the parent waits for
// it. Returns that result, or Aborted naming how the child died (the signal, or its exit
// status). Output the child printed reaches the same stdout and stderr, flushed.
// REQUIRES: a single-threaded caller (fork copies only the calling thread).
absl::StatusOr<std::string> RunIsolated(const std::function<std::string()>& fn);

// Writes all of `data` to fd (retrying short writes and EINTR); false on an error.
bool WriteAll(int fd, absl::string_view data);
// Reads fd to its end, keeping at most max_bytes (the rest is read and dropped).
std::string ReadAll(int fd, size_t max_bytes);

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_ISOLATED_RUN_H_
