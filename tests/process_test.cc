// PortReservation: while it lives, nothing else on the machine is handed the port, yet a
// server still binds it and listens.
#include "tests/process.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace
}  // namespace rb::tests
