#include "sim/isolated_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rb::sim {
namespace {

constexpr size_t kMaxResultBytes = 1 << 20;

}  // namespace

bool WriteAll(int fd, absl::string_view data) {
  // Bounded by the size: each pass writes at least one byte or fails.
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string ReadAll(int fd, size_t max_bytes) {
  std::string out;
  char buf[4096];
  // Ends at EOF or an error; what is kept is bounded by max_bytes.
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (out.size() < max_bytes) {
      out.append(buf, std::min(static_cast<size_t>(n), max_bytes - out.size()));
    }
  }
  return out;
}

absl::StatusOr<std::string> RunIsolated(const std::function<std::string()>& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  }
  if (pid == 0) {
    close(fds[0]);
    std::string result = fn();
    if (result.size() > kMaxResultBytes) result.resize(kMaxResultBytes);
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(WriteAll(fds[1], result) ? 0 : 3);
  }
  close(fds[1]);
  std::string result = ReadAll(fds[0], kMaxResultBytes);
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::InternalError(absl::StrCat("waitpid: ", strerror(errno)));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return result;
  if (WIFSIGNALED(status)) {
    return absl::AbortedError(absl::StrCat("killed by signal ", WTERMSIG(status), " (",
                                           strsignal(WTERMSIG(status)), ")"));
  }
  return absl::AbortedError(absl::StrCat("exited with status ", WEXITSTATUS(status)));
}

}  // namespace rb::sim
