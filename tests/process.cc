#include "tests/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace rb::tests {

absl::StatusOr<Process> Process::Start(const std::string& path,
                                       const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& working_dir, const std::string& log_path,
                                       uint64_t max_file_bytes) {
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> argv, envp;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    // The child: die with the test; write to the log; run the program.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    if (chdir(working_dir.c_str()) != 0) _exit(126);
    if (max_file_bytes > 0) {
      const rlimit limit{max_file_bytes, max_file_bytes};
      if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(125);
    }
    execve(path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  Process p;
  p.pid_ = pid;
  return p;
}

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    if (pid_ > 0 && Running()) {
      Signal(SIGKILL);
      Wait(absl::Seconds(10));
    }
    pid_ = o.pid_;
    exit_status_ = o.exit_status_;
    o.pid_ = -1;
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0 && Running()) {
    Signal(SIGKILL);
    Wait(absl::Seconds(10));
  }
}

void Process::Signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> Process::PollWaitpid(int options, absl::Duration timeout, absl::Duration poll) {
  const absl::Time deadline = absl::Now() + timeout;
  // waitpid has no timeout: poll it, briefly, until the deadline.
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG | options);
    if (r == pid_) {
      if (!WIFSTOPPED(status)) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      return status;
    }
    if (r < 0 || absl::Now() >= deadline) return std::nullopt;
    absl::SleepFor(poll);
  }
}

std::optional<int> Process::Wait(absl::Duration timeout) {
  if (exit_status_) return exit_status_;
  if (pid_ <= 0) return std::nullopt;
  PollWaitpid(0, timeout, absl::Milliseconds(10));
  return exit_status_;
}

bool Process::Stop(absl::Duration timeout) {
  if (pid_ <= 0 || exit_status_) return false;
  Signal(SIGSTOP);
  // The kernel reports the stop to the parent (WUNTRACED) once every thread has stopped.
  const std::optional<int> status = PollWaitpid(WUNTRACED, timeout, absl::Milliseconds(1));
  return status && WIFSTOPPED(*status);
}

bool Process::Running() { return pid_ > 0 && !Wait(absl::ZeroDuration()).has_value(); }

namespace {

sockaddr_in LoopbackV4(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

sockaddr_in6 LoopbackV6(int port) {
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  addr.sin6_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// Whether nothing listens on ::1 at port: "localhost" may resolve there first, and a
// server (Bazel's own, say) on [::1]:port would answer our clients instead of the node.
// True when this machine has no IPv6 loopback.
bool FreeOnIpv6Loopback(int port) {
  const int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return true;
  const sockaddr_in6 addr = LoopbackV6(port);
  const int rc = bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  close(fd);
  return rc == 0 || err == EADDRNOTAVAIL;
}

}  // namespace

PortReservation::PortReservation(int port) {
  const sockaddr_in v4 = LoopbackV4(port);
  const sockaddr_in6 v6 = LoopbackV6(port);
  const std::pair<const sockaddr*, socklen_t> addrs[] = {
      {reinterpret_cast<const sockaddr*>(&v4), sizeof(v4)},
      {reinterpret_cast<const sockaddr*>(&v6), sizeof(v6)}};
  for (const auto& [addr, len] : addrs) {
    const int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;  // no IPv6 here: nothing to hold
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (addr->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    // A failed bind (the port taken meanwhile, no IPv6 loopback) holds nothing; the node
    // that uses the port then says why it cannot.
    if (bind(fd, addr, len) == 0) {
      fds_.push_back(fd);
    } else {
      close(fd);
    }
  }
}

PortReservation::~PortReservation() {
  for (int fd : fds_) close(fd);
}

int FreePort() {
  int port = 0;
  // Bounded: a port taken on ::1 is rare; another draw is almost always free on both.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = LoopbackV4(0);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    port = ntohs(addr.sin_port);
    if (FreeOnIpv6Loopback(port)) return port;
  }
  return port;
}

std::string HttpGet(int port, const std::string& path, const std::string& method) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  std::string out;
  if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    // The server closes the connection after its answer (Connection: close).
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

int HttpStatus(const std::string& response) {
  int code = 0;
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  if (!absl::SimpleAtoi(response.substr(9, 3), &code)) return 0;
  return code;
}

std::string HttpBody(const std::string& response) {
  const size_t end = response.find("\r\n\r\n");
  return end == std::string::npos ? "" : response.substr(end + 4);
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunResult RunToCompletion(const std::string& path, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env,
                          const std::string& working_dir, absl::Duration timeout) {
  static int counter = 0;
  const std::string log = absl::StrCat(working_dir, "/run-", getpid(), "-", ++counter, ".log");
  RunResult result;
  auto p = Process::Start(path, args, env, working_dir, log);
  if (!p.ok()) return result;
  auto code = p->Wait(timeout);
  result.exit_code = code.value_or(-1);
  result.output = ReadFileOrEmpty(log);
  return result;
}

}  // namespace rb::tests
