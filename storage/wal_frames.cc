#include "storage/wal_frames.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/logging.h"

namespace rb::storage::wal {
namespace {

constexpr uint32_t kMagic = 0x377f0682;  // | 1 when the checksum reads big-endian words

uint32_t BigEndian32(const char* p) {
  return (uint32_t{static_cast<uint8_t>(p[0])} << 24) |
         (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
         (uint32_t{static_cast<uint8_t>(p[2])} << 8) | uint32_t{static_cast<uint8_t>(p[3])};
}

Checksum Stored(const char* p) { return Checksum{BigEndian32(p), BigEndian32(p + 4)}; }

}  // namespace

uint32_t PageNumber(const char* frame_header) { return BigEndian32(frame_header); }

bool SaltsMatch(const Header& h, const char* frame_header) {
  return BigEndian32(frame_header + 8) == h.salt1 && BigEndian32(frame_header + 12) == h.salt2;
}

bool IsCommit(const char* frame_header) { return BigEndian32(frame_header + 4) != 0; }

Checksum StoredChecksum(const char* frame_header) { return Stored(frame_header + 16); }

bool ParseHeader(const char* bytes, Header* out) {
  const uint32_t magic = BigEndian32(bytes);
  if ((magic & ~1u) != kMagic) return false;
  const uint32_t page_bytes = BigEndian32(bytes + 8);
  if (page_bytes < 512 || page_bytes > 65536 || (page_bytes & (page_bytes - 1)) != 0) {
    return false;
  }
  out->big_endian = (magic & 1) != 0;
  out->page_bytes = page_bytes;
  out->salt1 = BigEndian32(bytes + 16);
  out->salt2 = BigEndian32(bytes + 20);
  out->stored = Stored(bytes + 24);
  out->computed = Extend(Checksum{}, out->big_endian, bytes, 24);
  return true;
}

Checksum Extend(Checksum c, bool big_endian, const char* data, size_t n) {
  RB_CHECK(n % 8 == 0, "checksum over ", n, " bytes");
  // On every WAL page read: kept to plain loads (memcpy) and one byte swap when the word
  // order differs from this machine's.
  const bool swap = big_endian != (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
  for (size_t i = 0; i < n; i += 8) {
    uint32_t x[2];
    std::memcpy(x, data + i, sizeof(x));
    if (swap) {
      x[0] = __builtin_bswap32(x[0]);
      x[1] = __builtin_bswap32(x[1]);
    }
    c.s0 += x[0] + c.s1;
    c.s1 += x[1] + c.s0;
  }
  return c;
}

FrameCheck CheckFrame(const Header& h, Checksum prev, const char* frame_header, const char* page) {
  FrameCheck check;
  check.stored = StoredChecksum(frame_header);
  check.commit = IsCommit(frame_header);
  check.computed =
      Extend(Extend(prev, h.big_endian, frame_header, 8), h.big_endian, page, h.page_bytes);
  check.salts_match = SaltsMatch(h, frame_header);
  check.valid =
      PageNumber(frame_header) != 0 && check.salts_match && check.computed == check.stored;
  return check;
}

FrameCheck CheckFrame(const Header& h, Checksum prev, const char* frame) {
  return CheckFrame(h, prev, frame, frame + kFrameHeaderBytes);
}

ReadFn MemoryReader(const std::string& bytes) {
  return [&bytes](uint64_t offset, size_t n, char* out) {
    if (offset > bytes.size() || n > bytes.size() - offset) return false;
    bytes.copy(out, n, offset);
    return true;
  };
}

void WalkChain(const Header& h, Checksum prev, uint64_t first, uint64_t file_bytes,
               const ReadFn& read, const FrameVisitor& visit) {
  std::string frame(h.frame_bytes(), '\0');
  for (uint64_t k = first; h.frame_offset(k) + h.frame_bytes() <= file_bytes; ++k) {
    if (!read(h.frame_offset(k), frame.size(), frame.data())) break;
    const FrameCheck check = CheckFrame(h, prev, frame.data());
    if (!check.valid) break;
    visit(k, frame.data(), check);
    prev = check.stored;
  }
}

uint64_t CommitsInChain(const Header& h, Checksum prev, uint64_t first, uint64_t file_bytes,
                        const ReadFn& read) {
  uint64_t commits = 0;
  WalkChain(h, prev, first, file_bytes, read,
            [&commits](uint64_t, const char*, const FrameCheck& check) {
              if (check.commit) ++commits;
            });
  return commits;
}

uint64_t CommitsAfter(const Header& h, const FrameCheck& check, uint64_t bad, uint64_t file_bytes,
                      const ReadFn& read) {
  const uint64_t by_stored = CommitsInChain(h, check.stored, bad + 1, file_bytes, read);
  if (check.computed == check.stored) return by_stored;
  return std::max(by_stored, CommitsInChain(h, check.computed, bad + 1, file_bytes, read));
}

bool IsDamaged(const Header& h, const FrameCheck& check, uint64_t bad, uint64_t file_bytes,
               const ReadFn& read) {
  const uint64_t after = CommitsAfter(h, check, bad, file_bytes, read);
  return after > kMaxUnsyncedCommits ||
         (after == kMaxUnsyncedCommits && check.salts_match && check.commit);
}

}  // namespace rb::storage::wal
