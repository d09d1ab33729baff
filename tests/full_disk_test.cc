// Full disks on real processes: each node's data directory is a small tmpfs, mounted in a
// mount namespace of the test's own (storage/test_util.h), which the servers inherit.
//   - Below MIN_FREE_BYTES the leader refuses writes with RESOURCE_EXHAUSTED, every node
//     goes on serving reads, and writes are accepted again once space is freed.
//   - A follower whose disk is full stalls without exiting and serves stale reads; the
//     other two go on; freed, it catches up.
//   - A lone voter whose disk fills completely refuses writes, serves stale reads and
//     does not exit; freed, it takes writes again, and restarted, its files open with
//     every acknowledged write.
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"
#include "tests/local_cluster.h"

namespace rb::tests {

// Entered in main(), before gRPC starts any thread (a user namespace needs one thread).
absl::Status g_namespace;

namespace {

namespace v1 = raftbadger::v1;

constexpr uint64_t kDiskBytes = 32 << 20;
constexpr absl::Duration kAwait = absl::Seconds(30);

// Polls `done` until it holds or kAwait passes: the condition is the server's answer,
// which nothing here can be told about.
bool AwaitTrue(const std::function<bool()>& done) {
  const absl::Time give_up = absl::Now() + kAwait;
  while (absl::Now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

class FullDiskTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!g_namespace.ok()) {
      GTEST_SKIP() << g_namespace << ": full-disk behaviour not tested on this machine";
    }
  }
  void TearDown() override {
    for (const std::string& dir : mounts_) ::umount2(dir.c_str(), MNT_DETACH);
  }
  // A kDiskBytes tmpfs as each node's data directory. REQUIRES: before the nodes start.
  void MountDisks(const LocalCluster& c) {
    for (int i = 1; i <= c.size(); ++i) {
      std::filesystem::create_directories(c.data_dir(i));
      const absl::Status s = storage::MountTmpfs(c.data_dir(i), kDiskBytes);
      ASSERT_TRUE(s.ok()) << s;
      mounts_.push_back(c.data_dir(i));
    }
  }
  static client::ClientOptions Quick(std::vector<std::string> endpoints) {
    client::ClientOptions o{std::move(endpoints)};
    o.call_timeout = absl::Seconds(1);
    o.total_timeout = absl::Seconds(3);
    return o;
  }
  std::vector<std::string> mounts_;
};

TEST_F(FullDiskTest, BelowTheReserveTheLeaderRefusesWritesAndEveryoneServesReads) {
  LocalCluster c(3, {{"MIN_FREE_BYTES", std::to_string(8 << 20)}});
  MountDisks(c);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  client::Client client(Quick(c.endpoints()));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Put(absl::StrCat("k", i), "v").ok());

  const std::string ballast = c.data_dir(*leader) + "/ballast";
  ASSERT_TRUE(storage::FillDisk(ballast, 2 << 20).ok());
  absl::Status refused;
  ASSERT_TRUE(AwaitTrue([&] {
    refused = client.Put("refused", "v").status();
    return refused.code() == absl::StatusCode::kResourceExhausted;
  })) << refused
      << c.Log(*leader);
  EXPECT_NE(refused.message().find("disk is full"), std::string::npos) << refused;
  EXPECT_NE(refused.message().find("kept in reserve"), std::string::npos) << refused;
  for (int i = 1; i <= 3; ++i) {
    auto got = client.Get("k3", v1::LINEARIZABLE, c.endpoint(i));
    ASSERT_TRUE(got.ok()) << "node " << i << ": " << got.status();
    EXPECT_EQ(got->value, "v");
  }
  EXPECT_EQ(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).value_or(0), *leader);

  ASSERT_EQ(std::remove(ballast.c_str()), 0);
  ASSERT_TRUE(AwaitTrue([&] { return client.Put("accepted", "v").ok(); })) << c.Log(*leader);
  EXPECT_TRUE(c.Running(1) && c.Running(2) && c.Running(3));
}

TEST_F(FullDiskTest, AFollowerWithAFullDiskStallsAndCatchesUpOnceFreed) {
  LocalCluster c(3, {{"MIN_FREE_BYTES", "0"}});
  MountDisks(c);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  const int follower = *leader == 3 ? 2 : 3;
  client::Client client(Quick(c.endpoints()));
  ASSERT_TRUE(client.Put("before", "old").ok());
  ASSERT_TRUE(
      AwaitTrue([&] { return client.Get("before", v1::STALE, c.endpoint(follower)).ok(); }));

  const std::string ballast = c.data_dir(follower) + "/ballast";
  ASSERT_TRUE(storage::FillDisk(ballast, 0).ok());
  const std::string value(4 << 10, 'x');
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client.Put(absl::StrCat("k", i), value).ok()) << i << c.Logs();
  }
  ASSERT_TRUE(AwaitTrue([&] { return c.Log(follower).find("disk full") != std::string::npos; }))
      << c.Log(follower);
  EXPECT_TRUE(c.Running(follower)) << c.Log(follower);
  auto stale = client.Get("before", v1::STALE, c.endpoint(follower));
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->value, "old");
  EXPECT_FALSE(client.Get("before", v1::LINEARIZABLE, c.endpoint(follower)).ok());

  ASSERT_EQ(std::remove(ballast.c_str()), 0);
  ASSERT_TRUE(AwaitTrue([&] { return client.Get("k49", v1::STALE, c.endpoint(follower)).ok(); }))
      << c.Log(follower);
  // Its files are whole: started again, it has every write.
  c.Signal(follower, SIGTERM);
  ASSERT_EQ(c.WaitExit(follower, kAwait).value_or(-1), 0) << c.Log(follower);
  ASSERT_TRUE(c.Start(follower).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok()) << c.Logs();
  for (int i = 0; i < 50; ++i) {
    auto got = client.Get(absl::StrCat("k", i), v1::STALE, c.endpoint(follower));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status();
    EXPECT_EQ(got->value, value);
  }
}

TEST_F(FullDiskTest, ALoneVoterOnAFullDiskRefusesWritesServesReadsAndRecovers) {
  LocalCluster c(1, {{"MIN_FREE_BYTES", "0"}});
  MountDisks(c);
  c.StartAll();
  ASSERT_TRUE(c.AwaitAgreement({1}, 1, kFormTimeout).ok()) << c.Logs();
  client::Client client(Quick(c.endpoints()));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.Put(absl::StrCat("k", i), "v").ok());

  const std::string ballast = c.data_dir(1) + "/ballast";
  ASSERT_TRUE(storage::FillDisk(ballast, 0).ok());
  // The first write may be taken before the node finds the disk full (its outcome is then
  // unknown: it waits in the log for room); the next are refused.
  const std::string value(64 << 10, 'x');
  absl::Status refused;
  ASSERT_TRUE(AwaitTrue([&] {
    refused = client.Put("stalled", value).status();
    return refused.code() == absl::StatusCode::kResourceExhausted;
  })) << refused
      << c.Log(1);
  EXPECT_NE(refused.message().find("disk is full"), std::string::npos) << refused;
  EXPECT_TRUE(c.Running(1)) << c.Log(1);
  auto stale = client.Get("k3", v1::STALE);
  ASSERT_TRUE(stale.ok()) << stale.status();
  EXPECT_EQ(stale->value, "v");

  ASSERT_EQ(std::remove(ballast.c_str()), 0);
  ASSERT_TRUE(AwaitTrue([&] { return client.Put("after", "v").ok(); })) << c.Log(1);
  EXPECT_NE(c.Log(1).find("room again"), std::string::npos) << c.Log(1);
  c.Signal(1, SIGTERM);
  ASSERT_EQ(c.WaitExit(1, kAwait).value_or(-1), 0) << c.Log(1);
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_TRUE(c.AwaitAgreement({1}, 1, kFormTimeout).ok()) << c.Logs();
  for (const std::string key : {"k0", "k9", "after"}) {
    auto got = client.Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
  }
}

}  // namespace
}  // namespace rb::tests

int main(int argc, char** argv) {
  rb::tests::g_namespace = rb::storage::EnterPrivateMountNamespace();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
