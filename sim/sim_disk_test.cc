#include "sim/sim_disk.h"

#include <string>

#include "gtest/gtest.h"

namespace rb::sim {
namespace {

std::string ReadAll(const SimDisk& disk, const std::string& path) {
  std::string out(disk.Size(path), '\0');
  EXPECT_EQ(disk.Read(path, 0, out.size(), out.data()), out.size());
  return out;
}

TEST(SimDiskTest, ReadsSeeUnsyncedWrites) {
  SimDisk disk;
  disk.Create("/n/f");
  disk.Write("/n/f", 4, "abc");
  EXPECT_EQ(ReadAll(disk, "/n/f"), std::string("\0\0\0\0abc", 7));
  char buf[8];
  EXPECT_EQ(disk.Read("/n/f", 5, 8, buf), 2u);  // short read at the end
  EXPECT_EQ(disk.unsynced_writes(), 1u);
}

TEST(SimDiskTest, SyncedDataSurvivesEveryCrash) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    SimDisk disk;
    disk.Create("/n/f");
    disk.Write("/n/f", 0, std::string(3000, 'a'));
    disk.Truncate("/n/f", 2000);
    disk.Sync("/n/f");
    raft::Rng rng(seed);
    const SimDisk::CrashReport report = disk.Crash(&rng);
    EXPECT_EQ(report.writes_lost + report.writes_kept + report.writes_torn, 0u);
    EXPECT_EQ(ReadAll(disk, "/n/f"), std::string(2000, 'a'));
  }
}

// Every byte after a power loss holds either its durable value or the value of one of the
// unsynced writes to it, and across seeds each fate (lost, kept, torn) happens.
TEST(SimDiskTest, PowerLossKeepsLosesOrTearsUnsyncedWrites) {
  SimDisk::CrashReport total;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SimDisk disk;
    disk.Create("/n/f");
    disk.Write("/n/f", 0, std::string(4096, 'a'));
    disk.Sync("/n/f");
    disk.Write("/n/f", 1024, std::string(2048, 'b'));  // overwrite, 4 sectors
    disk.Write("/n/f", 4096, std::string(1024, 'c'));  // append
    raft::Rng rng(seed);
    const SimDisk::CrashReport r = disk.Crash(&rng);
    total.writes_lost += r.writes_lost;
    total.writes_kept += r.writes_kept;
    total.writes_torn += r.writes_torn;
    EXPECT_EQ(disk.unsynced_writes(), 0u);
    const std::string after = ReadAll(disk, "/n/f");
    ASSERT_TRUE(after.size() == 4096 || after.size() == 5120) << after.size();
    for (size_t i = 0; i < after.size(); ++i) {
      const char c = after[i];
      if (i < 1024 || (i >= 3072 && i < 4096)) {
        ASSERT_EQ(c, 'a') << "byte " << i << " seed " << seed;
      } else if (i < 3072) {
        ASSERT_TRUE(c == 'a' || c == 'b') << "byte " << i << " seed " << seed;
        // Tearing is per 512-byte physical sector: a sector is all old or all new.
        ASSERT_EQ(c, after[i - i % 512]) << "byte " << i << " seed " << seed;
      } else {
        ASSERT_TRUE(c == 'c' || c == '\0') << "byte " << i << " seed " << seed;
      }
    }
  }
  EXPECT_GT(total.writes_lost, 0u);
  EXPECT_GT(total.writes_kept, 0u);
  EXPECT_GT(total.writes_torn, 0u);
}

TEST(SimDiskTest, FailedSyncKeepsOrDropsEachWriteWholeAndOnlyThatFile) {
  SimDisk::CrashReport total;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SimDisk disk;
    disk.Create("/n/f");
    disk.Create("/n/g");
    disk.Write("/n/f", 0, std::string(4096, 'a'));
    disk.Sync("/n/f");
    disk.Write("/n/f", 1024, std::string(2048, 'b'));
    disk.Write("/n/g", 0, "other file");
    raft::Rng rng(seed);
    const SimDisk::CrashReport r = disk.FailSync("/n/f", &rng);
    total.writes_lost += r.writes_lost;
    total.writes_kept += r.writes_kept;
    EXPECT_EQ(r.writes_torn, 0u);
    // What the process reads now is what the disk holds: all old or all new.
    const std::string after = ReadAll(disk, "/n/f");
    ASSERT_TRUE(after == std::string(4096, 'a') ||
                after == std::string(1024, 'a') + std::string(2048, 'b') + std::string(1024, 'a'))
        << "seed " << seed;
    // Nothing of the file is pending any more; the other file's write still is.
    EXPECT_EQ(disk.unsynced_writes(), 1u);
    raft::Rng power(seed);
    disk.Crash(&power);
    EXPECT_EQ(ReadAll(disk, "/n/f"), after) << "a failed sync's outcome is durable";
  }
  EXPECT_GT(total.writes_lost, 0u);
  EXPECT_GT(total.writes_kept, 0u);
}

TEST(SimDiskTest, PowerLossUndoesUnsyncedTruncation) {
  bool saw_lost = false, saw_kept = false;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimDisk disk;
    disk.Create("/n/f");
    disk.Write("/n/f", 0, "0123456789");
    disk.Sync("/n/f");
    disk.Truncate("/n/f", 3);
    raft::Rng rng(seed);
    disk.Crash(&rng);
    const std::string after = ReadAll(disk, "/n/f");
    ASSERT_TRUE(after == "0123456789" || after == "012") << after;
    (after.size() == 10 ? saw_lost : saw_kept) = true;
  }
  EXPECT_TRUE(saw_lost);
  EXPECT_TRUE(saw_kept);
}

TEST(SimDiskTest, FrozenDiskKeepsNothingItIsGiven) {
  SimDisk disk;
  disk.Create("/n/f");
  disk.Write("/n/f", 0, "kept");
  disk.Freeze();
  // The dead process still reads back what it writes, as it would have without the fault.
  disk.Write("/n/f", 2, "st!");
  EXPECT_EQ(ReadAll(disk, "/n/f"), "kest!");
  disk.Sync("/n/f");
  disk.Truncate("/n/f", 1);
  EXPECT_EQ(ReadAll(disk, "/n/f"), "k");
  disk.Create("/n/g");
  EXPECT_TRUE(disk.Delete("/n/f"));
  disk.Thaw();
  EXPECT_EQ(ReadAll(disk, "/n/f"), "kept");
  EXPECT_FALSE(disk.Exists("/n/g"));
  // Nor does a power loss: the write before the freeze was never synced.
  disk.Freeze();
  disk.Write("/n/f", 0, "gone");
  raft::Rng rng(3);
  disk.Crash(&rng);
  const std::string after = ReadAll(disk, "/n/f");
  EXPECT_TRUE(after.empty() || after == "kept") << after;
}

TEST(SimDiskTest, FlipBitDamagesTheDurableImage) {
  SimDisk disk;
  disk.Create("/n/data.db");
  disk.Write("/n/data.db", 0, "abc");
  disk.Sync("/n/data.db");
  disk.FlipBit("/n/data.db", 1, 0);
  raft::Rng rng(1);
  disk.Crash(&rng);
  EXPECT_EQ(ReadAll(disk, "/n/data.db"), "acc");
}

}  // namespace
}  // namespace rb::sim
