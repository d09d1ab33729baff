// Bad configuration: the server exits with status 2 and one line that names the setting,
// before touching any data.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/local_cluster.h"
#include "tests/process.h"

namespace rb::tests {
namespace {

struct Case {
  std::string what;
  std::map<std::string, std::string> env;
  std::vector<std::string> args;
  std::string expect;  // in the one line printed
};

std::map<std::string, std::string> Good(int port) {
  return {{"NODE_ID", "replica1"},
          {"PORT", std::to_string(port)},
          {"LISTEN_HOST", "localhost"},
          {"BADGER_DB_PATH", "./data"},
          {"PATH", "/usr/bin:/bin"}};
}

TEST(ConfigErrorsTest, EachBadSettingExitsWithOneLineNamingIt) {
  const std::string dir = NewTestDir("config");
  std::ofstream(dir + "/broken.json") << "{\"Port\": 50051,";
  std::ofstream(dir + "/unknown.json") << "{\"Port\": 50051, \"Colour\": \"blue\"}";
  const int port = FreePort();
  auto with = [&](std::map<std::string, std::string> changes) {
    auto env = Good(port);
    for (auto& [k, v] : changes) {
      if (v == "<unset>") {
        env.erase(k);
      } else {
        env[k] = v;
      }
    }
    return env;
  };
  const std::vector<Case> cases = {
      {"missing NODE_ID", with({{"NODE_ID", "<unset>"}}), {}, "NODE_ID is required"},
      {"bad port", with({{"PORT", "fifty"}}), {}, "PORT (environment)"},
      {"bad address", with({{"RAFT_ADDRESS", "nowhere"}}), {}, "RAFT_ADDRESS (environment)"},
      {"bad peers", with({{"RAFT_PEERS", "replica2"}}), {}, "RAFT_PEERS (environment)"},
      {"two peers claiming one id",
       with({{"RAFT_PEERS", "replica2:7001,replica2:7002"}}),
       {},
       "replica2 appears twice"},
      {"a peer claiming this node's id",
       with({{"RAFT_PEERS", "replica1:7001"}}),
       {},
       "names this node (replica1) itself"},
      {"bad bool", with({{"BOOTSTRAP", "perhaps"}}), {}, "BOOTSTRAP (environment)"},
      {"malformed file", Good(port), {"--config=broken.json"}, "not a JSON object"},
      {"unknown key", Good(port), {"--config=unknown.json"}, "unknown key \"Colour\""},
      {"unknown flag", Good(port), {"--colour=blue"}, "unknown flag --colour"},
      {"flag beats environment", Good(port), {"--port=0"}, "--port"},
  };
  for (const Case& k : cases) {
    RunResult r = RunToCompletion(ServerBinary(), k.args, k.env, dir, absl::Seconds(10));
    EXPECT_EQ(r.exit_code, 2) << k.what << ": " << r.output;
    std::vector<std::string> lines = absl::StrSplit(r.output, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << k.what << ": " << r.output;
    EXPECT_NE(r.output.find(k.expect), std::string::npos) << k.what << ": " << r.output;
  }
  // Nothing was created by any of them.
  EXPECT_FALSE(std::filesystem::exists(dir + "/data"));
}

TEST(ConfigErrorsTest, PortInUse) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string dir = NewTestDir("port");
  auto env = Good(ntohs(addr.sin_port));
  env["LISTEN_HOST"] = "127.0.0.1";
  RunResult r = RunToCompletion(ServerBinary(), {}, env, dir, absl::Seconds(10));
  close(fd);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("PORT: cannot listen"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("in use"), std::string::npos) << r.output;
}

TEST(ConfigErrorsTest, HelpListsTheSettings) {
  RunResult r = RunToCompletion(ServerBinary(), {"--help"}, {{"PATH", "/usr/bin"}},
                                NewTestDir("help"), absl::Seconds(10));
  EXPECT_EQ(r.exit_code, 0);
  for (const char* name : {"NODE_ID", "RAFT_ADDRESS", "RAFT_PEERS", "BOOTSTRAP", "PORT",
                           "BADGER_DB_PATH", "SNAPSHOT_THRESHOLD", "SNAPSHOT_INTERVAL",
                           "BootstrapNode", "RaftDirectory", "BadgerDirectory", "--config"}) {
    EXPECT_NE(r.output.find(name), std::string::npos) << name;
  }
}

// .env in the working directory and a JSON file, with the documented precedence.
TEST(ConfigErrorsTest, DotEnvAndJsonFileStartANode) {
  const std::string dir = NewTestDir("dotenv");
  const int port = FreePort();
  std::ofstream(dir + "/.env") << "NODE_ID=from-dotenv\nBADGER_DB_PATH=./dotenv-data\n";
  std::ofstream(dir + "/c.json") << "{\"Port\": " << port
                                 << ", \"BootstrapNode\": true, \"ListenHost\": \"localhost\"}";
  auto p = Process::Start(ServerBinary(), {"--config=c.json"}, {{"PATH", "/usr/bin"}}, dir,
                          dir + "/node.log");
  ASSERT_TRUE(p.ok());
  // Serving as a one-node cluster named by .env, on the file's port, with .env's directory.
  absl::Status last;
  bool leading = false;
  for (int i = 0; i < 200 && !leading; ++i) {
    auto stub = raftbadger::v1::Cluster::NewStub(grpc::CreateChannel(
        "localhost:" + std::to_string(port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    raftbadger::v1::StatusResponse s;
    if (stub->Status(&ctx, {}, &s).ok()) {
      leading = s.role() == "leader";
      EXPECT_EQ(s.name(), "from-dotenv");
    }
    if (!leading) absl::SleepFor(absl::Milliseconds(50));  // polling another process
  }
  EXPECT_TRUE(leading) << ReadFileOrEmpty(dir + "/node.log");
  EXPECT_TRUE(std::filesystem::exists(dir + "/dotenv-data/raftbadger.identity"));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(absl::Seconds(10)), 0);
}

// Under `bazel run`, relative paths mean the directory the user ran it from.
TEST(ConfigErrorsTest, RelativePathsResolveAgainstBuildWorkingDirectory) {
  const std::string runfiles_like = NewTestDir("cwd");
  const std::string user_dir = NewTestDir("user");
  std::ofstream(user_dir + "/.env") << "NODE_ID=from-user-dir\n";
  const int port = FreePort();
  auto p = Process::Start(ServerBinary(), {},
                          {{"PATH", "/usr/bin"},
                           {"BUILD_WORKING_DIRECTORY", user_dir},
                           {"BADGER_DB_PATH", "./data"},
                           {"PORT", std::to_string(port)},
                           {"LISTEN_HOST", "localhost"}},
                          runfiles_like, runfiles_like + "/node.log");
  ASSERT_TRUE(p.ok());
  const std::string identity = user_dir + "/data/raftbadger.identity";
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!std::filesystem::exists(identity) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));  // polling another process's files
  }
  EXPECT_TRUE(std::filesystem::exists(identity)) << ReadFileOrEmpty(runfiles_like + "/node.log");
  EXPECT_FALSE(std::filesystem::exists(runfiles_like + "/data"));
  EXPECT_NE(ReadFileOrEmpty(identity).find("name=from-user-dir"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(absl::Seconds(10)), 0);
}

}  // namespace
}  // namespace rb::tests
