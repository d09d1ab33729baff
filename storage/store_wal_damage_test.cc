// Damage to the WAL. SQLite stops reading its WAL at the first frame that fails its
// checksum, so a damaged frame would silently drop every commit after it. The page
// checksum shim (page_checksum_vfs.h, wal_frames.h) turns damage that is followed by more
// committed transactions than may lack an fsync (wal::kMaxUnsyncedCommits, two) into
// DataLoss at open, and still lets a frame torn by a power loss end the log, as SQLite
// intends.
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "raft/rng.h"
#include "storage/store.h"
#include "storage/test_util.h"
#include "storage/wal_frames.h"

namespace rb::storage {
namespace {

constexpr uint64_t kBatches = 12;
constexpr uint64_t kEntriesPerBatch = 5;

StoreOptions Options(const std::string& dir) {
  StoreOptions o;
  o.dir = dir;
  o.wal_autocheckpoint_pages = 1 << 20;  // everything stays in the WAL
  return o;
}

// A WAL image: the files of a store that committed kBatches transactions, each appending
// kEntriesPerBatch entries, copied while it was still open (as a crash would leave them).
struct Image {
  std::string db;
  std::string wal;
  wal::Header header;
  std::vector<uint64_t> commit_frames;  // index of each transaction's last frame
};

Image MakeImage() {
  const std::string dir = MakeTempDir();
  Image image;
  auto store = Store::Open(Options(dir));
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return image;
  for (uint64_t b = 0; b < kBatches; ++b) {
    EXPECT_TRUE((*store)
                    ->Write([&](WriteTxn* t) -> absl::Status {
                      const uint64_t first = 1 + b * kEntriesPerBatch;
                      RETURN_IF_ERROR(t->AppendEntries(MakeEntries(first, kEntriesPerBatch, 1)));
                      return t->SetHardState(raft::HardState{1, 1, first + kEntriesPerBatch - 1});
                    })
                    .ok());
  }
  image.db = ReadFileBytes(absl::StrCat(dir, "/", kDatabaseFileName));
  image.wal = ReadFileBytes(absl::StrCat(dir, "/", kDatabaseFileName, "-wal"));
  EXPECT_TRUE(wal::ParseHeader(image.wal.data(), &image.header));
  const wal::Header& h = image.header;
  wal::WalkChain(h, h.stored, 0, image.wal.size(), wal::MemoryReader(image.wal),
                 [&image](uint64_t k, const char*, const wal::FrameCheck& check) {
                   if (check.commit) image.commit_frames.push_back(k);
                 });
  return image;
}

// Opens a store over the image; returns the last log index it holds, or its error.
absl::StatusOr<uint64_t> OpenImage(const Image& image, const std::string& wal) {
  const std::string dir = MakeTempDir();
  WriteFileBytes(absl::StrCat(dir, "/", kDatabaseFileName), image.db);
  WriteFileBytes(absl::StrCat(dir, "/", kDatabaseFileName, "-wal"), wal);
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(Options(dir)));
  return store->LastIndex();
}

TEST(StoreWalDamageTest, TheImageHoldsEveryTransactionInItsWal) {
  const Image image = MakeImage();
  // The schema and every batch: at least kBatches transactions, all in the WAL.
  ASSERT_GE(image.commit_frames.size(), kBatches);
  auto last = OpenImage(image, image.wal);
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, kBatches * kEntriesPerBatch);
}

TEST(StoreWalDamageTest, AFlippedBitFollowedByThreeCommitsIsDataLoss) {
  static_assert(wal::kMaxUnsyncedCommits == 2, "the frames below assume two");
  const Image image = MakeImage();
  const wal::Header& h = image.header;
  ASSERT_GE(image.commit_frames.size(), 4u);
  // Frames that three later commits follow: everything up to the fourth-to-last commit.
  const uint64_t end = h.frame_offset(image.commit_frames[image.commit_frames.size() - 4] + 1);
  raft::Rng rng(7);
  int trials = 0;
  for (; trials < 200; ++trials) {
    std::string damaged = image.wal;
    const uint64_t at = wal::kHeaderBytes + rng.Uniform(end - wal::kHeaderBytes);
    const int bit = static_cast<int>(rng.Uniform(8));
    damaged[at] = static_cast<char>(damaged[at] ^ (1 << bit));
    auto last = OpenImage(image, damaged);
    ASSERT_FALSE(last.ok()) << "WAL byte " << at << " bit " << bit
                            << ": opened, and would have dropped later commits (last index "
                            << *last << ")";
    EXPECT_EQ(last.status().code(), absl::StatusCode::kDataLoss) << last.status();
  }
}

TEST(StoreWalDamageTest, DamageToTheCommitFrameBeforeTheLastTwoTransactionsIsDataLoss) {
  // Two commits follow it, but a commit frame ends its own transaction: of the two after
  // it, at most one skipped its fsync, so it was synced.
  const Image image = MakeImage();
  const wal::Header& h = image.header;
  const uint64_t frame = image.commit_frames[image.commit_frames.size() - 3];
  for (uint64_t byte : {uint64_t{100}, h.frame_bytes() / 2, h.frame_bytes() - 9}) {
    std::string damaged = image.wal;
    damaged[h.frame_offset(frame) + byte] ^= 0x01;
    auto last = OpenImage(image, damaged);
    ASSERT_FALSE(last.ok()) << "byte " << byte << ": opened without its last transaction (last "
                            << *last << ")";
    EXPECT_EQ(last.status().code(), absl::StatusCode::kDataLoss) << last.status();
  }
}

TEST(StoreWalDamageTest, DamagedWalHeaderIsDataLoss) {
  const Image image = MakeImage();
  std::string damaged = image.wal;
  damaged[27] = static_cast<char>(damaged[27] ^ 0x10);  // in the header's stored checksum
  auto last = OpenImage(image, damaged);
  ASSERT_FALSE(last.ok()) << "opened without its WAL (last index " << *last << ")";
  EXPECT_EQ(last.status().code(), absl::StatusCode::kDataLoss) << last.status();
}

TEST(StoreWalDamageTest, ATornTransactionAmongTheLastTwoEndsTheLog) {
  // A power loss tears one of the last two transactions (the one before the last skipped
  // its fsync, the last was never acknowledged): the store opens with every transaction
  // before the torn one. The same damage, were they acknowledged, is the case this cannot
  // tell apart (see wal_frames.h).
  const Image image = MakeImage();
  const wal::Header& h = image.header;
  const size_t n = image.commit_frames.size();
  for (size_t lost = 1; lost <= 2; ++lost) {
    const uint64_t first_torn = image.commit_frames[n - lost - 1] + 1;
    for (uint64_t k = first_torn; k <= image.commit_frames[n - lost]; ++k) {
      std::string torn = image.wal;
      // The frame's second half never reached the disk (its old bytes: zeros).
      const uint64_t offset = h.frame_offset(k) + h.frame_bytes() / 2;
      std::fill(torn.begin() + offset, torn.begin() + h.frame_offset(k) + h.frame_bytes(), '\0');
      auto last = OpenImage(image, torn);
      ASSERT_TRUE(last.ok()) << "frame " << k << ": " << last.status();
      EXPECT_EQ(*last, (kBatches - lost) * kEntriesPerBatch) << "frame " << k;
    }
  }
  const uint64_t first_of_last = image.commit_frames[n - 2] + 1;
  // Cut off in the middle instead: the same.
  auto last = OpenImage(image, image.wal.substr(0, h.frame_offset(first_of_last) + 100));
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_EQ(*last, (kBatches - 1) * kEntriesPerBatch);
}

}  // namespace
}  // namespace rb::storage
