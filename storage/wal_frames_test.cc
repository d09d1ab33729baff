#include "storage/wal_frames.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace rb::storage::wal {
namespace {

constexpr uint32_t kPageBytes = 512;

void PutBigEndian32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}

void PutChecksum(Checksum c, char* p) {
  PutBigEndian32(c.s0, p);
  PutBigEndian32(c.s1, p + 4);
}

// A WAL as SQLite lays it out: one frame per entry of `commit` (true: the frame ends a
// transaction), each page filled with its frame number.
std::string MakeWal(const std::vector<bool>& commit, uint32_t salt1 = 7, uint32_t salt2 = 9) {
  std::string wal(kHeaderBytes, '\0');
  PutBigEndian32(0x377f0682, &wal[0]);
  PutBigEndian32(3007000, &wal[4]);
  PutBigEndian32(kPageBytes, &wal[8]);
  PutBigEndian32(salt1, &wal[16]);
  PutBigEndian32(salt2, &wal[20]);
  Checksum c = Extend(Checksum{}, false, wal.data(), 24);
  PutChecksum(c, &wal[24]);
  for (size_t k = 0; k < commit.size(); ++k) {
    std::string frame(kFrameHeaderBytes + kPageBytes, static_cast<char>('a' + k));
    PutBigEndian32(static_cast<uint32_t>(k + 1), &frame[0]);  // page number
    PutBigEndian32(commit[k] ? static_cast<uint32_t>(k + 1) : 0, &frame[4]);
    PutBigEndian32(salt1, &frame[8]);
    PutBigEndian32(salt2, &frame[12]);
    c = Extend(c, false, frame.data(), 8);
    c = Extend(c, false, frame.data() + kFrameHeaderBytes, kPageBytes);
    PutChecksum(c, &frame[16]);
    wal += frame;
  }
  return wal;
}

FrameCheck Check(const std::string& wal, const Header& h, uint64_t k) {
  Checksum prev = h.stored;
  FrameCheck check;
  for (uint64_t i = 0; i <= k; ++i) {
    check = CheckFrame(h, prev, wal.data() + h.frame_offset(i));
    prev = check.stored;
  }
  return check;
}

// Frames 0-1, 2-3, 4 and 5-6 are four transactions.
const std::vector<bool> kFourTransactions = {false, true, false, true, true, false, true};

TEST(WalFramesTest, ParsesTheHeaderAndFollowsTheChain) {
  const std::string wal = MakeWal(kFourTransactions);
  Header h;
  ASSERT_TRUE(ParseHeader(wal.data(), &h));
  EXPECT_TRUE(h.checksum_ok());
  EXPECT_EQ(h.page_bytes, kPageBytes);
  EXPECT_FALSE(h.big_endian);
  EXPECT_EQ(h.frame_offset(2), kHeaderBytes + 2 * (kFrameHeaderBytes + kPageBytes));
  EXPECT_EQ(CommitsInChain(h, h.stored, 0, wal.size(), MemoryReader(wal)), 4u);
  for (uint64_t k = 0; k < kFourTransactions.size(); ++k) {
    const FrameCheck check = Check(wal, h, k);
    EXPECT_TRUE(check.valid) << k;
    EXPECT_EQ(check.commit, kFourTransactions[k]) << k;
  }
}

TEST(WalFramesTest, RejectsWhatIsNotAWalHeader) {
  std::string wal = MakeWal({true});
  Header h;
  wal[3] = 0x00;  // magic
  EXPECT_FALSE(ParseHeader(wal.data(), &h));
  wal = MakeWal({true});
  PutBigEndian32(1000, &wal[8]);  // not a power of two
  EXPECT_FALSE(ParseHeader(wal.data(), &h));
}

TEST(WalFramesTest, FramesOfAnotherGenerationEndTheChain) {
  // A reset WAL: the new generation's salts, then old frames further on.
  const std::string old_wal = MakeWal(kFourTransactions, 7, 9);
  std::string wal = MakeWal({true, true}, 8, 1234);
  wal += old_wal.substr(wal.size());
  Header h;
  ASSERT_TRUE(ParseHeader(wal.data(), &h));
  EXPECT_EQ(CommitsInChain(h, h.stored, 0, wal.size(), MemoryReader(wal)), 2u);
  EXPECT_FALSE(Check(wal, h, 2).valid);
}

// The last kMaxUnsyncedCommits (two) transactions may lack an fsync; damage before them is
// told from a tear, inside them it cannot be.
TEST(WalFramesTest, DamageBeforeTheLastTwoTransactionsIsToldFromATornTail) {
  static_assert(kMaxUnsyncedCommits == 2, "the layouts below assume two");
  const std::string pristine = MakeWal(kFourTransactions);
  Header h;
  ASSERT_TRUE(ParseHeader(pristine.data(), &h));
  // Every bit of frame 2 (header and page), each flipped alone: three commits follow.
  for (uint64_t byte = 0; byte < h.frame_bytes(); ++byte) {
    std::string wal = pristine;
    wal[h.frame_offset(2) + byte] ^= 0x04;
    const FrameCheck check = Check(wal, h, 2);
    ASSERT_FALSE(check.valid) << byte;
    EXPECT_GE(CommitsAfter(h, check, 2, wal.size(), MemoryReader(wal)), 3u) << "byte " << byte;
    EXPECT_TRUE(IsDamaged(h, check, 2, wal.size(), MemoryReader(wal))) << "byte " << byte;
  }
  // The commit frame of the transaction before the last two (frame 3): two commits follow,
  // and the frame is a commit frame of this WAL, so the two after it began later.
  for (uint64_t byte = wal::kFrameHeaderBytes; byte < h.frame_bytes(); byte += 37) {
    std::string wal = pristine;
    wal[h.frame_offset(3) + byte] ^= 0x40;
    const FrameCheck check = Check(wal, h, 3);
    ASSERT_FALSE(check.valid) << byte;
    EXPECT_TRUE(IsDamaged(h, check, 3, wal.size(), MemoryReader(wal))) << "byte " << byte;
  }
  // Either of the last two transactions torn, in any of its frames: a tear, not damage
  // (the one before the last skipped its fsync, the last one's covers both).
  for (uint64_t k : {4, 5, 6}) {
    std::string torn = pristine;
    for (uint64_t i = h.frame_offset(k) + 100; i < h.frame_offset(k + 1); ++i) torn[i] = '\0';
    const FrameCheck check = Check(torn, h, k);
    ASSERT_FALSE(check.valid) << k;
    EXPECT_FALSE(IsDamaged(h, check, k, torn.size(), MemoryReader(torn))) << "frame " << k;
  }
}

}  // namespace
}  // namespace rb::storage::wal
