// Child processes for real-process tests: started with fork/exec, their output in a log
// file, killed with the test if it dies (PR_SET_PDEATHSIG), never outliving it.
#ifndef RAFTBADGER_TESTS_PROCESS_H_
#define RAFTBADGER_TESTS_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rb::tests {

class Process {
 public:
  // Starts path with args, the environment `env` (only that), in working_dir, with stdout
  // and stderr appended to log_path. max_file_bytes > 0 limits the size of any file it
  // writes (RLIMIT_FSIZE): a write past it fails, as on a full disk.
  static absl::StatusOr<Process> Start(const std::string& path,
                                       const std::vector<std::string>& args,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& working_dir, const std::string& log_path,
                                       uint64_t max_file_bytes = 0);
  Process() = default;
  Process(Process&& o) noexcept : pid_(o.pid_), exit_status_(o.exit_status_) { o.pid_ = -1; }
  Process& operator=(Process&& o) noexcept;
  ~Process();  // kills (SIGKILL) and reaps a child still running

  pid_t pid() const { return pid_; }
  void Signal(int sig) const;
  // Sends SIGSTOP and waits up to timeout until the whole child has stopped. kill() returns
  // once the signal is queued: until one of the child's threads takes it and stops the
  // rest, they run on, and on a busy machine may still answer a peer (a follower acked an
  // append after the test had "stopped" it). False if it did not stop in time or exited.
  bool Stop(absl::Duration timeout);
  // Waits up to timeout for the child to exit; its exit code (or 128+signal), or nullopt.
  std::optional<int> Wait(absl::Duration timeout);
  bool Running();

 private:
  // Polls waitpid(options) until the child reports (its raw status; an exit is recorded
  // in exit_status_) or the timeout passes (nullopt).
  std::optional<int> PollWaitpid(int options, absl::Duration timeout, absl::Duration poll);

  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// A TCP port on 127.0.0.1 nobody listens on now.
int FreePort();

// Holds a port, while it lives, against every other draw on the machine (FreePort in a
// test running beside this one, any bind to port 0, an outgoing connection's local port),
// yet lets a server bind and listen on it: sockets bound with SO_REUSEADDR on the IPv4 and
// IPv6 loopback that never listen. A cluster keeps its nodes' ports so: a node killed
// leaves its port held, and a leader redialling it cannot reach another test's node.
class PortReservation {
 public:
  explicit PortReservation(int port);
  ~PortReservation();
  PortReservation(PortReservation&& other) noexcept : fds_(std::move(other.fds_)) {
    other.fds_.clear();
  }
  PortReservation& operator=(PortReservation&&) = delete;
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;

 private:
  std::vector<int> fds_;
};

// Runs a command to completion (bounded by timeout); returns its exit code and output.
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult RunToCompletion(const std::string& path, const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& env,
                          const std::string& working_dir, absl::Duration timeout);

std::string ReadFileOrEmpty(const std::string& path);

// GET http://127.0.0.1:port/path over a fresh connection: the whole response (status line,
// headers, body), or "" if the connection failed. Bounded by a 10 s receive timeout.
std::string HttpGet(int port, const std::string& path, const std::string& method = "GET");
// The status code of such a response (0 if there is none).
int HttpStatus(const std::string& response);
// The body of such a response.
std::string HttpBody(const std::string& response);

}  // namespace rb::tests

#endif  // RAFTBADGER_TESTS_PROCESS_H_
