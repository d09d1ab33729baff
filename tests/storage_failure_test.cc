// A node whose disk refuses a write with an I/O error (a file size limit: EFBIG, which
// SQLite reports as an I/O error, unlike a full disk's ENOSPC, see full_disk_test): it
// stops, exits 1 so that a supervisor restarts it from disk, acknowledges nothing after
// the failure, and the cluster goes on; started again with room, it catches up with every
// acknowledged write. And a node whose fsync fails (an LD_PRELOAD shim): the same, since
// after a failed fsync the page cache cannot be trusted (PostgreSQL's "fsyncgate").
#include <signal.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

TEST(StorageFailureTest, AFailedWriteStopsTheNodeAndItComesBackWhole) {
  LocalCluster c(3);
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_TRUE(c.Start(2).ok());
  // Node 3 may write files of at most 1 MiB: its database outgrows that below.
  ASSERT_TRUE(c.Start(3, {}, /*max_file_bytes=*/1 << 20).ok());
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  ASSERT_TRUE(c.Running(3));

  client::Client client(client::ClientOptions{{c.endpoint(1), c.endpoint(2)}});
  const std::string value(32 << 10, 'v');
  int acknowledged = 0;
  for (int i = 0; i < 80; ++i) {  // 2.5 MiB of values: past node 3's limit
    ASSERT_TRUE(client.Put(absl::StrCat("k", i), value).ok()) << i << c.Logs();
    ++acknowledged;
  }
  // Node 3 could not write them all: it stopped, with exit code 1, and said why.
  const std::optional<int> exit_code = c.WaitExit(3, absl::Seconds(30));
  ASSERT_TRUE(exit_code.has_value()) << "node 3 still runs\n" << c.Log(3);
  EXPECT_EQ(*exit_code, 1) << c.Log(3);
  EXPECT_NE(c.Log(3).find("storage failed"), std::string::npos) << c.Log(3);

  // The other two go on.
  ASSERT_TRUE(client.Put("while-down", "ok").ok());
  // With room again, it starts from what is on its disk and catches up.
  ASSERT_TRUE(c.Start(3).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok()) << c.Logs();
  for (int i = 0; i < acknowledged; i += 7) {
    auto got = client.Get(absl::StrCat("k", i), v1::STALE, c.endpoint(3));
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status();
    EXPECT_EQ(got->value.size(), value.size());
  }
  auto last = client.Get("while-down", v1::STALE, c.endpoint(3));
  ASSERT_TRUE(last.ok()) << last.status();
}

TEST(StorageFailureTest, AFailedFsyncStopsTheNodeAndNothingIsAcknowledgedAfterIt) {
  LocalCluster c(1);  // a lone voter: every write waits for its own fsync
  const std::string trigger = c.root() + "/fail-fsync";
  const std::string shim =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                   "/tests/libfsync_fail_shim.so");
  ASSERT_TRUE(c.Start(1, {{"LD_PRELOAD", shim}, {"RB_FAIL_FSYNC_FILE", trigger}}).ok());
  ASSERT_TRUE(c.AwaitAgreement({1}, 1, kFormTimeout).ok()) << c.Logs();
  client::ClientOptions options{{c.endpoint(1)}};
  options.call_timeout = absl::Seconds(2);
  options.total_timeout = absl::Seconds(4);
  client::Client client(options);
  constexpr int kBefore = 20;
  for (int i = 0; i < kBefore; ++i) {
    ASSERT_TRUE(client.Put(absl::StrCat("k", i), "v").ok()) << i << c.Logs();
  }

  std::ofstream(trigger) << "fail";  // from now on every fsync fails
  int acknowledged_after = 0;
  for (int i = kBefore; i < kBefore + 2; ++i) {
    acknowledged_after += client.Put(absl::StrCat("k", i), "v").ok();
  }
  EXPECT_EQ(acknowledged_after, 0) << c.Log(1);
  const std::optional<int> exit_code = c.WaitExit(1, absl::Seconds(30));
  ASSERT_TRUE(exit_code.has_value()) << "the node still runs after a failed fsync\n" << c.Log(1);
  EXPECT_EQ(*exit_code, 1) << c.Log(1);
  EXPECT_NE(c.Log(1).find("storage failed"), std::string::npos) << c.Log(1);

  // Started again on a disk that works, it has every acknowledged write.
  std::remove(trigger.c_str());
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_TRUE(c.AwaitAgreement({1}, 1, kFormTimeout).ok()) << c.Logs();
  for (int i = 0; i < kBefore; ++i) {
    auto got = client.Get(absl::StrCat("k", i));
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status();
  }
}

}  // namespace
}  // namespace rb::tests
