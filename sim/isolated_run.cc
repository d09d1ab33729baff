#include "sim/isolated_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace rb::sim {
namespace {

constexpr size_t kMaxResultBytes = 1 << 20;

bool WriteAll(int fd, const char* data, size_t size) {
  // Bounded by size: each pass writes at least one byte or fails.
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

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
    _exit(WriteAll(fds[1], result.data(), result.size()) ? 0 : 3);
  }
  close(fds[1]);
  std::string result;
  char buf[4096];
  // Bounded by kMaxResultBytes (the child sends no more); ends at EOF.
  for (;;) {
    const ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (result.size() < kMaxResultBytes) result.append(buf, static_cast<size_t>(n));
  }
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
