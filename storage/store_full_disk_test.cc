// Full disk: a store on a small tmpfs fills it. Writes must fail with a clear
// ResourceExhausted error, leave the files consistent, and work again once space is freed.
// Skipped, with a message, only where the machine allows no mount namespace of our own.
#include <sys/mount.h>
#include <unistd.h>

#include <fstream>

#include "gtest/gtest.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    // gtest runs this on its only thread: a user namespace may still be entered.
    if (absl::Status s = MountTmpfs(dir_, 1 << 20); !s.ok()) {
      GTEST_SKIP() << s << ": full-disk behaviour not tested on this machine";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  std::string dir_;
  bool mounted_ = false;
};

TEST_F(FullDiskTest, WriteFailsCleanlyAndRecoversWhenSpaceIsFreed) {
  // Ballast that is deleted later to free space.
  { std::ofstream(dir_ + "/ballast") << std::string(256 << 10, 'b'); }
  StoreOptions options;
  options.dir = dir_ + "/node";
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status();
  uint64_t last_ok = 0;
  absl::Status failure;
  for (uint64_t i = 1; i <= 10000; ++i) {
    failure = (*store)->Write([&](WriteTxn* t) {
      return t->AppendEntries(
          {raft::Entry{1, i, raft::EntryType::kNormal, std::string(8 << 10, 'x')}});
    });
    if (!failure.ok()) break;
    last_ok = i;
  }
  ASSERT_FALSE(failure.ok()) << "the 1 MiB disk never filled";
  EXPECT_EQ(failure.code(), absl::StatusCode::kResourceExhausted) << failure;
  EXPECT_NE(failure.message().find("full"), std::string::npos) << failure;
  EXPECT_NE(failure.message().find("raftbadger.db"), std::string::npos) << failure;
  EXPECT_EQ(*(*store)->LastIndex(), last_ok);  // nothing of the failed batch is visible

  // Free space: the same store takes writes again (a full disk is not a fatal I/O error).
  ASSERT_EQ(unlink((dir_ + "/ballast").c_str()), 0);
  absl::Status again = (*store)->Write([&](WriteTxn* t) {
    return t->AppendEntries(
        {raft::Entry{1, last_ok + 1, raft::EntryType::kNormal, std::string(100, 'y')}});
  });
  EXPECT_TRUE(again.ok()) << again;
  store->reset();

  // Reopen: everything acknowledged is intact.
  auto reopened = Store::Open(options);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_EQ(*(*reopened)->LastIndex(), last_ok + 1);
  std::vector<raft::Entry> all;
  ASSERT_TRUE((*reopened)->Entries(1, last_ok + 2, raft::kNoLimit, &all).ok());
  EXPECT_EQ(all.size(), last_ok + 1);
}

}  // namespace
}  // namespace rb::storage
