// The parts of SQLite's WAL file format that storage/page_checksum_vfs needs to check the
// frames SQLite reads back (format: sqlite.org/fileformat2.html, "The Write-Ahead Log").
//
// A WAL is a 32-byte header then frames: a 24-byte frame header and one page. Each frame
// carries the header's two salts and a checksum that runs through every frame before it,
// seeded by the header's own checksum. SQLite checks that chain only when it recovers the
// WAL after a restart, and stops at the first frame that fails: it cannot tell a frame torn
// by a power loss (unsynced, never acknowledged) from a frame damaged later (synced,
// acknowledged, now silently dropped with everything after it).
//
// IsDamaged tells the two apart where it can. The store lets at most kMaxUnsyncedCommits
// commits go without an fsync of their own (storage/store.h): the only frames a power loss
// can leave invalid belong to the last kMaxUnsyncedCommits transactions, each with one
// commit frame. So the failing frame was synced, and is damaged, if the chain resumes right
// after it and runs through more than kMaxUnsyncedCommits commit frames, or through
// kMaxUnsyncedCommits when the failing frame is itself a commit frame of this WAL (its salts
// match). The chain may resume from the checksum stored in the failing frame's header or
// from one recomputed over its content, so that damage to either is seen. Damage inside the
// last kMaxUnsyncedCommits transactions stays indistinguishable from a torn write.
#ifndef RAFTBADGER_STORAGE_WAL_FRAMES_H_
#define RAFTBADGER_STORAGE_WAL_FRAMES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace rb::storage::wal {

inline constexpr uint64_t kHeaderBytes = 32;
inline constexpr uint64_t kFrameHeaderBytes = 24;

// How many commits at the WAL's end may lack an fsync at any moment, the one being written
// included. Two: a commit whose fsync was skipped (an apply that the log can rebuild), then
// a synced one whose fsync covers both. Each more widens, by one transaction, the end of the
// WAL where damage reads as a tear.
inline constexpr uint64_t kMaxUnsyncedCommits = 2;

struct Checksum {
  uint32_t s0 = 0;
  uint32_t s1 = 0;
  bool operator==(const Checksum& o) const { return s0 == o.s0 && s1 == o.s1; }
  bool operator!=(const Checksum& o) const { return !(*this == o); }
};

struct Header {
  bool big_endian = false;  // the checksum reads words in this order (from the magic)
  uint32_t page_bytes = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  Checksum stored;    // bytes 24..31
  Checksum computed;  // over bytes 0..23
  bool checksum_ok() const { return stored == computed; }
  uint64_t frame_bytes() const { return kFrameHeaderBytes + page_bytes; }
  // Offset of frame k (from 0).
  uint64_t frame_offset(uint64_t k) const { return kHeaderBytes + k * frame_bytes(); }
};

// Parses a WAL header. False if the magic or the page size is not SQLite's.
bool ParseHeader(const char* bytes /* kHeaderBytes */, Header* out);

// Extends a running checksum over n bytes. REQUIRES: n % 8 == 0.
Checksum Extend(Checksum c, bool big_endian, const char* data, size_t n);

struct FrameCheck {
  bool valid = false;        // salts match and the stored checksum is the chained one
  bool salts_match = false;  // the frame belongs to this WAL (not an older generation)
  bool commit = false;       // the frame ends a transaction (stored database size non-zero)
  Checksum stored;           // from the frame header
  Checksum computed;         // prev extended over the frame
};

// From a frame header: the page it holds, whether it ends a transaction, and the checksum
// it stores.
uint32_t PageNumber(const char* frame_header);
bool IsCommit(const char* frame_header);
// Whether the frame carries the header's salts: written since the WAL last restarted.
bool SaltsMatch(const Header& h, const char* frame_header);
Checksum StoredChecksum(const char* frame_header);

// Checks a whole frame (header and page) against the header and the checksum of what
// precedes it (the previous frame's stored checksum, or the header's for frame 0).
FrameCheck CheckFrame(const Header& h, Checksum prev, const char* frame);
// Same, for a frame header and its page held apart.
FrameCheck CheckFrame(const Header& h, Checksum prev, const char* frame_header, const char* page);

// Reads n bytes at offset into out; false if they are not all there.
using ReadFn = std::function<bool(uint64_t offset, size_t n, char* out)>;
// Reads from a WAL held in memory. REQUIRES: `bytes` outlives the ReadFn.
ReadFn MemoryReader(const std::string& bytes);

// Calls visit(k, frame, check) for each frame of the valid chain that starts at frame
// `first` with running checksum `prev` (for the whole log: 0 and the header's stored
// checksum), stopping at the first invalid frame or at file_bytes. `frame` holds the whole
// frame. Bounded by the number of frames in the file.
using FrameVisitor = std::function<void(uint64_t k, const char* frame, const FrameCheck& check)>;
void WalkChain(const Header& h, Checksum prev, uint64_t first, uint64_t file_bytes,
               const ReadFn& read, const FrameVisitor& visit);
// The number of commit frames in that chain.
uint64_t CommitsInChain(const Header& h, Checksum prev, uint64_t first, uint64_t file_bytes,
                        const ReadFn& read);

// After frame `bad` failed its check (`check`): the commits in the chain that resumes
// right after it, the larger of the two readings (stored or recomputed checksum).
uint64_t CommitsAfter(const Header& h, const FrameCheck& check, uint64_t bad, uint64_t file_bytes,
                      const ReadFn& read);
// Whether frame `bad`, which failed its check, was synced (see above): damage, not a tear.
// REQUIRES: the device does not pad transactions (SQLITE_IOCAP_POWERSAFE_OVERWRITE), so
// that each transaction has one commit frame.
bool IsDamaged(const Header& h, const FrameCheck& check, uint64_t bad, uint64_t file_bytes,
               const ReadFn& read);

}  // namespace rb::storage::wal

#endif  // RAFTBADGER_STORAGE_WAL_FRAMES_H_
