// SimDisk: a simulated disk for one node, holding files by path. A write reaches the
// medium only when its file is synced; until then it lives in the (simulated) OS cache:
// the process reads it back, but a power loss may lose it, keep it, or tear it (keep only
// some of its 512-byte physical sectors), each unsynced write independently. Creating and
// deleting a file is durable at once (the model does not simulate directory fsync).
//
// It also damages durable data on request (bit rot, a misdirected write), which the store
// must detect by checksum rather than serve.
//
// Deterministic: every choice comes from the Rng passed in; files are kept in path order.
// Sync costs O(1): the disk keeps the current image of each file plus an undo record per
// unsynced write, and rebuilds the durable image only when power is lost.
#ifndef RAFTBADGER_SIM_SIM_DISK_H_
#define RAFTBADGER_SIM_SIM_DISK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "raft/rng.h"

namespace rb::sim {

class SimDisk {
 public:
  static constexpr uint64_t kPhysicalSectorBytes = 512;
  // Bound on one file's size: the simulated stores stay far below it, and a runaway write
  // loop fails loudly instead of exhausting memory.
  static constexpr uint64_t kMaxFileBytes = uint64_t{1} << 30;

  struct CrashReport {
    uint64_t writes_lost = 0;
    uint64_t writes_kept = 0;
    uint64_t writes_torn = 0;
  };

  bool Exists(absl::string_view path) const;
  // Creates an empty file if there is none.
  void Create(absl::string_view path);
  // Returns whether the file existed.
  bool Delete(absl::string_view path);
  // Size as the process sees it (synced or not). REQUIRES: Exists(path).
  uint64_t Size(absl::string_view path) const;
  // Copies up to n bytes at offset into out; returns how many exist there.
  // REQUIRES: Exists(path).
  uint64_t Read(absl::string_view path, uint64_t offset, uint64_t n, char* out) const;
  // REQUIRES: Exists(path); offset + data.size() <= kMaxFileBytes.
  void Write(absl::string_view path, uint64_t offset, absl::string_view data);
  // REQUIRES: Exists(path).
  void Truncate(absl::string_view path, uint64_t size);
  // Makes every write to the file so far durable. REQUIRES: Exists(path).
  void Sync(absl::string_view path);

  // Power loss: each file falls back to its durable image plus a random subset of its
  // unsynced writes, some of them torn, applied in the order they were issued.
  CrashReport Crash(raft::Rng* rng);
  // A failed fsync of one file (Linux after a writeback error): the kernel wrote back a
  // random subset of the file's unsynced writes, each whole, and dropped the rest, marking
  // their pages clean. What it kept is durable now; what it dropped is gone, for the medium
  // and for the process's later reads alike (they see what was there before). Unlike a
  // power loss, nothing is torn: the page cache writes back whole pages or fails them.
  // REQUIRES: Exists(path).
  CrashReport FailSync(absl::string_view path, raft::Rng* rng);
  // Damage: flips one bit of the durable image (bit rot, a misdirected write).
  // REQUIRES: Exists(path), offset < Size(path), bit < 8, no unsynced writes to the file.
  void FlipBit(absl::string_view path, uint64_t offset, int bit);

  // While frozen, nothing reaches the medium: syncs, creations and deletions are ignored,
  // and writes and truncations are seen by the process (which does not know it is dead:
  // the simulator cannot stop it in the middle of an event) but discarded by Thaw() and
  // Crash(). A killed process cannot write, but closing its SQLite connections in the
  // simulator would: the simulator freezes the disk around that close.
  void Freeze() { frozen_ = true; }
  void Thaw();
  // The process dies in the middle of its I/O: the first ops-1 further changes (writes,
  // truncations, syncs) happen, then the disk freezes. REQUIRES: ops >= 1.
  void FreezeAfter(uint64_t ops);
  bool frozen() const { return frozen_; }
  // A full disk: while set, writes that would make a file larger fail (SimVfs reports
  // SQLITE_FULL); writes within a file's size, and truncations, still succeed.
  void set_full(bool full) { full_ = full; }
  bool full() const { return full_; }

  uint64_t unsynced_writes() const;
  // Read() calls so far (each a trip to the device: the simulator charges them time).
  uint64_t reads() const { return reads_; }
  std::vector<std::string> Paths() const;

 private:
  // Enough to undo one unsynced write or truncation.
  struct Undo {
    uint64_t offset = 0;    // where the write went (truncations: the new size)
    uint64_t new_size = 0;  // the file size after the operation
    uint64_t old_size = 0;  // the file size before it
    std::string old_bytes;  // what the write overwrote (within old_size)
    std::string new_bytes;  // what it wrote (empty for truncations)
    bool truncate = false;
    bool ghost = false;  // made while frozen: never reaches the medium
  };
  struct File {
    std::string data;  // what the process sees
    std::vector<Undo> unsynced;
  };
  File& Get(absl::string_view path);
  const File& Get(absl::string_view path) const;
  static void RollBack(File* f);
  static void Undo1(File* f, const Undo& u);
  // Undoes the changes made while frozen (always the last ones of each file).
  void DiscardGhosts();
  // Re-applies an undone write or truncation, or not (a power loss may also tear it).
  static void Replay(File* f, const Undo& u, raft::Rng* rng, CrashReport* report,
                     bool may_tear = true);

  std::map<std::string, File, std::less<>> files_;
  // Whether a change may proceed (counts down FreezeAfter).
  bool Proceed();

  bool frozen_ = false;
  bool full_ = false;
  mutable uint64_t reads_ = 0;     // counted by the const Read()
  uint64_t freeze_countdown_ = 0;  // 0: none
};

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_SIM_DISK_H_
