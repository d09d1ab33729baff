// Damage test: one flipped bit anywhere in a store's database file must make Open() fail
// when it verifies the file, and otherwise fail the read that meets it, as DataLoss (or
// leave every read as before). Never may the store serve different data (which a node
// would then apply, vote on or send to peers).
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "raft/rng.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

constexpr int kTrials = 1500;

TEST(StoreCorruptionTest, AFlippedBitFailsOpenOrChangesNothing) {
  const std::string dir = MakeTempDir();
  StoreOptions options;
  options.dir = dir;
  ASSERT_TRUE(FillSampleStore(options, /*checkpoint=*/true).ok());
  const std::string db_path = absl::StrCat(dir, "/", kDatabaseFileName);
  ASSERT_FALSE(std::filesystem::exists(db_path + "-wal") &&
               std::filesystem::file_size(db_path + "-wal") > 0);
  const std::string pristine = ReadFileBytes(db_path);
  std::string expected;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    auto dump = DumpStore(**store);
    ASSERT_TRUE(dump.ok()) << dump.status();
    expected = *dump;
  }
  // Page checksums (page_checksum_vfs.h) catch every flip: at open when it verifies the
  // file, else on the first read of the damaged page, as DataLoss.
  raft::Rng rng(42);
  int refused = 0, read_failed = 0, unharmed = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string damaged = pristine;
    const uint64_t at = rng.Uniform(damaged.size());
    const int bit = static_cast<int>(rng.Uniform(8));
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
    std::filesystem::remove(db_path + "-wal");
    WriteFileBytes(db_path, damaged);
    StoreOptions trial_options = options;
    trial_options.verify_on_open = trial % 2 == 0;
    auto store = Store::Open(trial_options);
    if (!store.ok()) {
      ASSERT_TRUE(store.status().code() == absl::StatusCode::kDataLoss ||
                  store.status().code() == absl::StatusCode::kFailedPrecondition)
          << "byte " << at << " bit " << bit << ": " << store.status();
      ++refused;
      continue;
    }
    ASSERT_FALSE(trial_options.verify_on_open)
        << "byte " << at << " bit " << bit << ": verified and opened a damaged file";
    auto dump = DumpStore(**store);
    if (!dump.ok()) {
      ASSERT_EQ(dump.status().code(), absl::StatusCode::kDataLoss)
          << "byte " << at << " bit " << bit << ": " << dump.status();
      ++read_failed;
      continue;
    }
    ASSERT_EQ(*dump, expected) << "byte " << at << " bit " << bit
                               << ": opened and served different data";
    ++unharmed;
  }
  std::printf("%d flips refused at open, %d failed a read as DataLoss, %d harmless\n", refused,
              read_failed, unharmed);
  // Opening without verification reads only some pages: the damage is often found later.
  EXPECT_GT(read_failed, 0);
}

}  // namespace
}  // namespace rb::storage
