// Backup and restore through the CLI, on real processes: a backup streamed from a
// follower under the cluster's feet, verified; a damaged copy refused; the backup restored
// into a new one-node cluster that serves every key and takes a member.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

RunResult Cli(const LocalCluster& c, std::vector<std::string> args) {
  return RunToCompletion(CliBinary(), args, {{"PATH", "/usr/bin:/bin"}}, c.root(),
                         absl::Seconds(30));
}

TEST(BackupTest, BackupFromAFollowerRestoresIntoANewClusterAndDamageIsRefused) {
  LocalCluster c(3);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status();
  client::Client client(client::ClientOptions{c.endpoints()});
  constexpr int kKeys = 30;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(client.Put(absl::StrCat("k", i), absl::StrCat("v", i)).ok()) << i;
  }
  const int follower = *leader == 2 ? 3 : 2;
  const std::string file = c.root() + "/backup.db";
  RunResult backup = Cli(c, {"--endpoints=" + c.endpoint(follower), "backup", file,
                             "--endpoint=" + c.endpoint(follower)});
  ASSERT_EQ(backup.exit_code, 0) << backup.output;
  EXPECT_NE(backup.output.find("verified"), std::string::npos) << backup.output;
  EXPECT_NE(backup.output.find(c.name(follower)), std::string::npos) << backup.output;
  EXPECT_FALSE(std::filesystem::exists(file + ".partial"));

  // A copy damaged in the middle is refused, and nothing is made of it.
  std::string bytes = storage::ReadFileBytes(file);
  ASSERT_GT(bytes.size(), 8192u);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] ^= 0x5a;
  const std::string damaged = c.root() + "/damaged.db";
  storage::WriteFileBytes(damaged, bytes);
  const std::string refused_dir = c.root() + "/data/refused";
  RunResult refused = Cli(c, {"restore", damaged, "--data-dir=" + refused_dir, "--name=replica9"});
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_FALSE(std::filesystem::exists(refused_dir + "/raftbadger.identity"));

  // Restored into node 4's directory: a cluster of its own with every key.
  const int restored = c.AddSpare();
  RunResult restore =
      Cli(c, {"restore", file, "--data-dir=" + c.data_dir(restored), "--name=" + c.name(restored)});
  ASSERT_EQ(restore.exit_code, 0) << restore.output;
  RunResult again =
      Cli(c, {"restore", file, "--data-dir=" + c.data_dir(restored), "--name=" + c.name(restored)});
  EXPECT_EQ(again.exit_code, 3) << "a restore over a non-empty directory: " << again.output;
  RunResult inspect = Cli(c, {"inspect", "--data-dir=" + c.data_dir(restored)});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_NE(inspect.output.find("identity: name " + c.name(restored)), std::string::npos)
      << inspect.output;
  EXPECT_NE(inspect.output.find("state machine: 30 keys"), std::string::npos) << inspect.output;
  // A damaged copy of that directory: inspect says so, and changes nothing.
  const std::string damaged_dir = c.root() + "/data/damaged-copy";
  std::filesystem::copy(c.data_dir(restored), damaged_dir,
                        std::filesystem::copy_options::recursive);
  std::string db = storage::ReadFileBytes(damaged_dir + "/raftbadger.db");
  ASSERT_GT(db.size(), 8192u);
  db[db.size() - 100] ^= 0x40;
  storage::WriteFileBytes(damaged_dir + "/raftbadger.db", db);
  RunResult bad = Cli(c, {"inspect", "--data-dir=" + damaged_dir});
  EXPECT_EQ(bad.exit_code, 3) << bad.output;
  EXPECT_NE(bad.output.find("DATA_LOSS"), std::string::npos) << bad.output;
  EXPECT_EQ(storage::ReadFileBytes(damaged_dir + "/raftbadger.db"), db);

  ASSERT_TRUE(c.Start(restored).ok());
  ASSERT_TRUE(c.AwaitAgreement({restored}, 1, kFormTimeout).ok()) << c.Log(restored);
  client::Client solo(client::ClientOptions{{c.endpoint(restored)}});
  for (int i = 0; i < kKeys; ++i) {
    auto got = solo.Get(absl::StrCat("k", i));
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status();
    EXPECT_EQ(got->value, absl::StrCat("v", i));
  }
  const int joiner = c.AddSpare();
  ASSERT_TRUE(c.Start(joiner, {{"JOIN", c.endpoint(restored)}}).ok());
  ASSERT_TRUE(c.AwaitAgreement({restored, joiner}, 2, kFormTimeout).ok()) << c.Log(joiner);
  auto on_joiner = solo.Get("k29", v1::STALE, c.endpoint(joiner));
  ASSERT_TRUE(on_joiner.ok()) << on_joiner.status();
  EXPECT_EQ(on_joiner->value, "v29");
  // The original cluster is untouched by all this.
  ASSERT_TRUE(client.Put("original", "still here").ok());
  EXPECT_EQ(client.MemberList()->members_size(), 3);
}

}  // namespace
}  // namespace rb::tests
