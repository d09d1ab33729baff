// PageChecksumVfs: a SQLite VFS shim that keeps a checksum in every page of a database
// file and verifies it on every page read, so that a flipped bit below SQLite (on the disk,
// on the bus, in a read that came back wrong) is detected instead of parsed and served.
//
// SQLite itself has no page checksums. It can leave a few "reserved bytes" unused at the
// end of each page for extensions; the store creates its database with 8 of them
// (kPageChecksumBytes), and this shim fills them with XXH3-64 of the rest of the page when
// the page is written. On a page read whose checksum does not match, the shim reads the page
// again, up to kPageRereads times: a transient fault (the bytes on the disk are fine, the
// read was not) is repaired that way and counted. If every read disagrees, the damage is on
// the disk; the read fails with SQLITE_IOERR_DATA, which storage/ reports as DataLoss.
//
// The WAL carries SQLite's own frame checksums (storage/wal_frames.h), which SQLite checks
// only when it recovers the WAL at open. The shim checks them on every page read from the
// WAL too (a mismatch is read again, as above), and at recovery it tells a frame torn by a
// power loss from a damaged one where it can: a damaged frame fails the read with
// SQLITE_IOERR_DATA instead of silently ending the log there.
//
// Database files whose header does not declare 8 reserved bytes (foreign or older files,
// snapshot files) are passed through; the store refuses to open a database without them.
//
// Memory-mapped reads are turned off for checksummed files: they would bypass the check.
#ifndef RAFTBADGER_STORAGE_PAGE_CHECKSUM_VFS_H_
#define RAFTBADGER_STORAGE_PAGE_CHECKSUM_VFS_H_

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rb::storage {

inline constexpr int kPageChecksumBytes = 8;
// Extra reads of a page whose checksum does not match, before it is declared damaged.
inline constexpr int kPageRereads = 4;

class PageChecksumVfs {
 public:
  // Over database pages and WAL frames. A WAL frame that fails at recovery on every read
  // and is not judged damaged is where the log ends (a torn or stale frame): it is in none
  // of these.
  struct Counters {
    uint64_t pages_verified = 0;  // reads whose checksum matched the first time
    uint64_t mismatches = 0;      // reads that did not match (each read counts)
    uint64_t repaired = 0;        // pages or frames whose re-read matched: a transient fault
    uint64_t damaged = 0;         // never matched: reported as SQLITE_IOERR_DATA
  };

  // Registers a shim over `base` (not owned; it must stay registered while this exists)
  // under the name Name(base's name).
  static absl::StatusOr<std::unique_ptr<PageChecksumVfs>> Create(sqlite3_vfs* base);
  // The shim over SQLite's default VFS (the real disk): registered on first use, shared by
  // every store in the process and never unregistered.
  static absl::StatusOr<PageChecksumVfs*> Default();
  // The name a shim over the VFS `base_name` registers under.
  static std::string Name(absl::string_view base_name);
  // Whether `vfs_name` names a shim of this kind.
  static bool IsPageChecksumVfs(absl::string_view vfs_name);

  // REQUIRES: no file opened through this VFS is still open.
  ~PageChecksumVfs();
  PageChecksumVfs(const PageChecksumVfs&) = delete;
  PageChecksumVfs& operator=(const PageChecksumVfs&) = delete;

  const std::string& name() const { return name_; }
  sqlite3_vfs* base() const { return base_; }
  Counters counters() const;

  // Writes the checksum of page[0, size - kPageChecksumBytes) into its last bytes, and
  // checks it. Exposed for tests that inspect files. REQUIRES: size > kPageChecksumBytes.
  static void SealPage(char* page, size_t size);
  static bool PageIsSealed(const char* page, size_t size);

 private:
  friend struct PageChecksumFile;  // the file methods, in the .cc
  explicit PageChecksumVfs(sqlite3_vfs* base);
  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                  int* out_flags);

  sqlite3_vfs* base_;
  std::string name_;
  sqlite3_vfs vfs_{};
  // Atomic: the default shim is shared by stores on different threads.
  std::atomic<uint64_t> pages_verified_{0};
  std::atomic<uint64_t> mismatches_{0};
  std::atomic<uint64_t> repaired_{0};
  std::atomic<uint64_t> damaged_{0};
};

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_PAGE_CHECKSUM_VFS_H_
