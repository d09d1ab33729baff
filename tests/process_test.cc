// Process::Stop returns with the child stopped whole; PortReservation: while it lives,
// nothing else on the machine is handed the port, yet a server still binds it and listens.
#include "tests/process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

namespace rb::tests {
namespace {

// Binds a TCP socket to 127.0.0.1:port (with SO_REUSEADDR as a server does, or without
// as port 0's draw does) and, if asked, listens. Returns 0 or the errno of the failure.
int BindLoopback(int port, bool reuse_addr, bool then_listen) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return errno;
  int one = 1;
  if (reuse_addr) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  int err = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    err = errno;
  } else if (then_listen && listen(fd, 16) != 0) {
    err = errno;
  }
  close(fd);
  return err;
}

TEST(PortReservationTest, HoldsThePortFromOthersButLetsAServerListen) {
  const int port = FreePort();
  {
    PortReservation held(port);
    // What draws a port without asking to share it is refused.
    EXPECT_EQ(BindLoopback(port, /*reuse_addr=*/false, /*then_listen=*/false), EADDRINUSE);
    // A server (SO_REUSEADDR, as gRPC and the server's early check bind) binds and listens.
    EXPECT_EQ(BindLoopback(port, /*reuse_addr=*/true, /*then_listen=*/true), 0);
  }
  // Released: anyone may take it.
  EXPECT_EQ(BindLoopback(port, /*reuse_addr=*/false, /*then_listen=*/false), 0);
}

// The state letter of each thread of pid (/proc/PID/task/TID/stat), e.g. "RRS".
std::string ThreadStates(pid_t pid) {
  std::string states;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(task.path() / "stat");
    std::stringstream text;
    text << in.rdbuf();
    const std::string stat = text.str();
    const size_t close_paren = stat.rfind(')');  // the command name may hold spaces
    if (close_paren != std::string::npos && close_paren + 2 < stat.size()) {
      states += stat[close_paren + 2];
    }
  }
  return states;
}

// A busy child, stopped: every thread is stopped (T) when Stop returns, not merely
// signalled; it runs again on SIGCONT; a child that has exited cannot be stopped.
TEST(ProcessTest, StopReturnsOnceTheChildHasStopped) {
  const std::string dir = ::testing::TempDir();
  for (int round = 0; round < 20; ++round) {
    absl::StatusOr<Process> busy =
        Process::Start("/bin/sh", {"-c", "while :; do :; done"}, {}, dir, dir + "/busy.log");
    ASSERT_TRUE(busy.ok()) << busy.status();
    ASSERT_TRUE(busy->Stop(absl::Seconds(10)));
    const std::string states = ThreadStates(busy->pid());
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.find_first_not_of('T'), std::string::npos) << "thread states " << states;
    busy->Signal(SIGCONT);
    busy->Signal(SIGKILL);
    ASSERT_TRUE(busy->Wait(absl::Seconds(10)).has_value());
    EXPECT_FALSE(busy->Stop(absl::Seconds(1)));
  }
}

}  // namespace
}  // namespace rb::tests
