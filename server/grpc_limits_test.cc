// The connection limits, seen from a raw HTTP/2 client: a peer that stops answering (a
// vanished or hung client, a half-open connection) is closed by keepalive, an idle one by
// the idle limit, and one that answers stays open.
#include "server/grpc_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/raftbadger.grpc.pb.h"

namespace rb::server {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(20);

// On `address`'s port, or on a free one if it ends in ":0"; *port gets it (0: not bound).
std::unique_ptr<grpc::Server> StartServer(const GrpcLimits& limits, int* port,
                                          const std::string& address = "127.0.0.1:0") {
  // A synchronous server needs a service to poll for; this one's calls go unanswered.
  static raftbadger::v1::KV::Service service;
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), port);
  ApplyGrpcLimits(limits, &builder);
  return builder.BuildAndStart();
}

GrpcLimits Limits(absl::Duration keepalive, absl::Duration idle) {
  GrpcLimits limits;
  limits.max_receive_bytes = 1 << 20;
  limits.keepalive_time = keepalive;
  limits.keepalive_timeout = keepalive;
  limits.max_idle = idle;
  return limits;
}

// What a raw HTTP/2 client saw of its connection.
struct Seen {
  bool closed = false;  // the server closed it (EOF or reset)
  bool goaway = false;
  int pings = 0;
};

// A client that speaks just enough HTTP/2 to open a connection (the preface and SETTINGS,
// acknowledging the server's) and makes no call. It answers the server's keepalive PINGs
// only if answer_pings. Runs until the server closes the connection, until `enough` holds,
// or until kDeadline.
class RawClient {
 public:
  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    static const char kPreface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    Send(std::string(kPreface, sizeof(kPreface) - 1));
    Send(Frame(4, 0, ""));  // SETTINGS, none changed
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }

  Seen Run(bool answer_pings, const std::function<bool(const Seen&)>& enough) {
    const absl::Time give_up = absl::Now() + kDeadline;
    std::string buf;
    while (!seen_.closed && !enough(seen_) && absl::Now() < give_up) {
      pollfd p{fd_, POLLIN, 0};
      const int left_ms = static_cast<int>(absl::ToInt64Milliseconds(give_up - absl::Now()));
      if (::poll(&p, 1, std::max(left_ms, 1)) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n <= 0) {
        seen_.closed = true;
        break;
      }
      buf.append(chunk, static_cast<size_t>(n));
      while (buf.size() >= 9) {  // whole frames: 9-byte header, then the payload
        const size_t len = (static_cast<uint8_t>(buf[0]) << 16) |
                           (static_cast<uint8_t>(buf[1]) << 8) | static_cast<uint8_t>(buf[2]);
        if (buf.size() < 9 + len) break;
        const uint8_t type = static_cast<uint8_t>(buf[3]), flags = static_cast<uint8_t>(buf[4]);
        const std::string payload = buf.substr(9, len);
        buf.erase(0, 9 + len);
        if (type == 4 && (flags & 1) == 0) Send(Frame(4, 1, ""));  // SETTINGS: ACK
        if (type == 6 && (flags & 1) == 0) {                       // PING
          ++seen_.pings;
          if (answer_pings) Send(Frame(6, 1, payload));
        }
        if (type == 7) seen_.goaway = true;
      }
    }
    return seen_;
  }

 private:
  static std::string Frame(uint8_t type, uint8_t flags, const std::string& payload) {
    std::string f(9, '\0');
    f[0] = static_cast<char>(payload.size() >> 16);
    f[1] = static_cast<char>(payload.size() >> 8);
    f[2] = static_cast<char>(payload.size());
    f[3] = static_cast<char>(type);
    f[4] = static_cast<char>(flags);
    return f + payload;  // stream 0
  }
  void Send(const std::string& bytes) {
    // A closed connection shows up as EOF on the next read.
    if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) < 0) seen_.closed = true;
  }

  int fd_ = -1;
  bool connected_ = false;
  Seen seen_;
};

bool Never(const Seen&) { return false; }

// A server with the limits and one raw client connected to it.
class GrpcLimitsTest : public testing::Test {
 protected:
  Seen Connect(absl::Duration keepalive, absl::Duration idle, bool answer_pings,
               const std::function<bool(const Seen&)>& enough) {
    int port = 0;
    server_ = StartServer(Limits(keepalive, idle), &port);
    if (server_ == nullptr) {
      ADD_FAILURE() << "the server did not start";
      return {};
    }
    RawClient client(port);
    EXPECT_TRUE(client.connected());
    return client.Run(answer_pings, enough);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(GrpcLimitsTest, AClientThatStopsAnsweringIsClosedByKeepalive) {
  const Seen seen = Connect(absl::Milliseconds(300), absl::Hours(1), /*answer_pings=*/false, Never);
  EXPECT_TRUE(seen.closed) << "a connection that never answers a ping is still open";
  EXPECT_GE(seen.pings, 1);
}

TEST_F(GrpcLimitsTest, AClientThatAnswersPingsStaysOpen) {
  // Three keepalive rounds answered: each would have closed a silent client.
  const Seen seen = Connect(absl::Milliseconds(300), absl::Hours(1), /*answer_pings=*/true,
                            [](const Seen& s) { return s.pings >= 3; });
  EXPECT_GE(seen.pings, 3);
  EXPECT_FALSE(seen.closed);
}

TEST_F(GrpcLimitsTest, AnIdleConnectionIsClosed) {
  const Seen seen = Connect(absl::Hours(1), absl::Milliseconds(500), /*answer_pings=*/true, Never);
  EXPECT_TRUE(seen.closed) << "an idle connection is still open";
  EXPECT_TRUE(seen.goaway);
}

// gRPC binds with SO_REUSEPORT by default, and then a second server of the same user on the
// same port starts too and takes half the connections: two members started on one PORT by
// mistake (or two tests' nodes handed one free port) would both run. The second fails.
TEST(GrpcPortTest, ASecondServerCannotTakeAPortInUse) {
  int first_port = 0;
  auto first = StartServer(Limits(absl::Seconds(60), absl::Minutes(10)), &first_port);
  ASSERT_NE(first, nullptr);
  ASSERT_GT(first_port, 0);
  int second_port = 0;
  auto second = StartServer(Limits(absl::Seconds(60), absl::Minutes(10)), &second_port,
                            "127.0.0.1:" + std::to_string(first_port));
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(second_port, 0);
  if (second != nullptr) second->Shutdown();
  first->Shutdown();
}

}  // namespace
}  // namespace rb::server
