#include "storage/page_checksum_vfs.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "storage/checksum.h"
#include "storage/wal_frames.h"

namespace rb::storage {
namespace {

constexpr absl::string_view kNamePrefix = "rb-pagesum/";
constexpr char kMagic[] = "SQLite format 3";  // with its terminating NUL: 16 bytes
constexpr int kHeaderBytes = 100;
constexpr int kReservedBytesOffset = 20;  // header byte: reserved bytes at the end of a page
// Keeps page checksums apart from the row checksums of checksum.h.
constexpr uint64_t kPageSeed = 0x7061676573756d31;  // "pagesum1"

// SQLite reads and writes the main database file a whole page at a time, at page-aligned
// offsets (it also reads the 100-byte header alone, when it opens the file).
bool IsPage(int n, sqlite3_int64 offset) {
  return n >= 512 && n <= 65536 && (n & (n - 1)) == 0 && offset % n == 0;
}

bool IsHeader(const char* bytes, int n, sqlite3_int64 offset) {
  return offset == 0 && n >= kHeaderBytes && std::memcmp(bytes, kMagic, sizeof(kMagic)) == 0;
}

uint64_t LoadLittleEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

void StoreLittleEndian64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// A WAL frame header as written (or as recovery found it valid): verifying a page read from
// the WAL then costs no extra read.
struct FrameHeader {
  bool known = false;
  char bytes[wal::kFrameHeaderBytes];
};

// What SQLite allocates (vfs.szOsFile bytes) for a database or WAL file: this header, then
// the base VFS's file. Constructed in Open, destroyed in Close.
struct ShimFile {
  sqlite3_file file;  // first: what SQLite holds; pMethods points at this shim's methods
  PageChecksumVfs* owner = nullptr;
  const char* name = nullptr;  // SQLite keeps it valid while the file is open
  bool wal = false;            // else the main database file
  // Main database file: the header declares kPageChecksumBytes reserved bytes per page.
  bool sealed = false;
  // WAL: the header last read or written, and where its committed frames end (frames past
  // it belong to a transaction still being written; SQLite fixes their checksums at commit).
  bool has_header = false;
  bool powersafe = false;  // no sector padding: one commit frame per transaction
  wal::Header header;
  uint64_t committed_end = 0;
  // Indexed by frame; bounded by the WAL's size, which checkpoints keep small.
  std::vector<FrameHeader> frames;

  const FrameHeader* Frame(uint64_t k) const {
    return k < frames.size() && frames[k].known ? &frames[k] : nullptr;
  }
  void Remember(uint64_t k, const char* frame_header) {
    if (k >= frames.size()) frames.resize(k + 1);
    frames[k].known = true;
    std::memcpy(frames[k].bytes, frame_header, wal::kFrameHeaderBytes);
  }
  // A new WAL generation (its header written or read): nothing known yet.
  void Reset() {
    committed_end = wal::kHeaderBytes;
    frames.clear();
  }
};
constexpr size_t kLowerOffset = (sizeof(ShimFile) + 15) & ~size_t{15};

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* Lower(sqlite3_file* f) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kLowerOffset);
}
PageChecksumVfs* Owner(sqlite3_vfs* vfs) { return static_cast<PageChecksumVfs*>(vfs->pAppData); }
sqlite3_vfs* Base(sqlite3_vfs* vfs) { return Owner(vfs)->base(); }

// File methods other than Open/Read/Write pass through to the base VFS's file.
int Close(sqlite3_file* f) {
  const int rc = Lower(f)->pMethods->xClose(Lower(f));
  Shim(f)->~ShimFile();
  return rc;
}
int Sync(sqlite3_file* f, int flags) { return Lower(f)->pMethods->xSync(Lower(f), flags); }
int FileSize(sqlite3_file* f, sqlite3_int64* out) {
  return Lower(f)->pMethods->xFileSize(Lower(f), out);
}
int Lock(sqlite3_file* f, int level) { return Lower(f)->pMethods->xLock(Lower(f), level); }
int Unlock(sqlite3_file* f, int level) { return Lower(f)->pMethods->xUnlock(Lower(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) {
  return Lower(f)->pMethods->xCheckReservedLock(Lower(f), out);
}
int SectorSize(sqlite3_file* f) { return Lower(f)->pMethods->xSectorSize(Lower(f)); }
int DeviceCharacteristics(sqlite3_file* f) {
  return Lower(f)->pMethods->xDeviceCharacteristics(Lower(f));
}
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return Lower(f)->pMethods->xShmMap(Lower(f), region, size, extend, out);
}
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return Lower(f)->pMethods->xShmLock(Lower(f), offset, n, flags);
}
void ShmBarrier(sqlite3_file* f) { Lower(f)->pMethods->xShmBarrier(Lower(f)); }
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  return Lower(f)->pMethods->xShmUnmap(Lower(f), delete_flag);
}

int FileControl(sqlite3_file* f, int op, void* arg) {
  const int rc = Lower(f)->pMethods->xFileControl(Lower(f), op, arg);
  if (rc == SQLITE_OK && op == SQLITE_FCNTL_VFSNAME && arg != nullptr) {
    char** name = static_cast<char**>(arg);
    *name = sqlite3_mprintf("%s%z", std::string(kNamePrefix).c_str(), *name);
  }
  return rc;
}

// Never maps pages into memory: a mapped page would be used without its checksum checked.
int Fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
  *out = nullptr;
  return SQLITE_OK;
}
int Unfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) {
  return Lower(f)->pMethods->xUnfetch(Lower(f), offset, p);
}

struct RereadOutcome {
  int failed_reads = 0;  // reads whose bytes failed the check
  bool passed = false;   // the last read passed
  bool io_error = false;
};

// Checks what was read (passes()); while it fails, reads it again (reread(), false on an
// I/O error), up to kPageRereads times.
template <typename Passes, typename Reread>
RereadOutcome CheckWithRereads(const Passes& passes, const Reread& reread) {
  RereadOutcome out;
  for (int attempt = 0; attempt <= kPageRereads; ++attempt) {
    if (attempt > 0 && !reread()) {
      out.io_error = true;
      return out;
    }
    if (passes()) {
      out.passed = true;
      return out;
    }
    ++out.failed_reads;
  }
  return out;
}

}  // namespace

// The file methods that look at what passes: reads, writes and truncation.
struct PageChecksumFile {
  static int Read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset);
  static int Write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset);
  static int Truncate(sqlite3_file* f, sqlite3_int64 size);

 private:
  static int ReadDatabase(ShimFile* shim, char* bytes, int n, sqlite3_int64 offset);
  static int ReadWal(ShimFile* shim, char* bytes, int n, sqlite3_int64 offset);
  static int CheckWalHeader(ShimFile* shim, char* bytes);
  static int CheckRecoveredFrame(ShimFile* shim, char* frame, uint64_t k);
  static int CheckWalPage(ShimFile* shim, char* page, uint64_t k);
  // The running checksum before frame k: the header's, or frame k - 1's stored one.
  static bool ChecksumBefore(ShimFile* shim, uint64_t k, wal::Checksum* out);
  static bool ReadLower(ShimFile* shim, uint64_t offset, size_t n, char* out);
  static uint64_t LowerSize(ShimFile* shim);
  static int Damaged(ShimFile* shim, sqlite3_int64 offset, absl::string_view what);
  // Counts the outcome of a read that must pass (a page SQLite asked for): verified,
  // repaired by a reread, or damaged.
  static int MustHavePassed(ShimFile* shim, const RereadOutcome& outcome, sqlite3_int64 offset,
                            absl::string_view what);
  // Counts the outcome of a read that may legitimately fail (the end of the WAL): only a
  // reread that passed after failures is a fault.
  static void CountIfRepaired(ShimFile* shim, const RereadOutcome& outcome);
};

namespace {

// One table per version of the base file's methods: a version-1 file has no shared memory,
// and SQLite must see that (it then runs WAL in exclusive locking mode only).
template <int kVersion>
sqlite3_io_methods MakeMethods() {
  sqlite3_io_methods m{};
  m.iVersion = kVersion;
  m.xClose = Close;
  m.xRead = PageChecksumFile::Read;
  m.xWrite = PageChecksumFile::Write;
  m.xTruncate = PageChecksumFile::Truncate;
  m.xSync = Sync;
  m.xFileSize = FileSize;
  m.xLock = Lock;
  m.xUnlock = Unlock;
  m.xCheckReservedLock = CheckReservedLock;
  m.xFileControl = FileControl;
  m.xSectorSize = SectorSize;
  m.xDeviceCharacteristics = DeviceCharacteristics;
  if (kVersion >= 2) {
    m.xShmMap = ShmMap;
    m.xShmLock = ShmLock;
    m.xShmBarrier = ShmBarrier;
    m.xShmUnmap = ShmUnmap;
  }
  if (kVersion >= 3) {
    m.xFetch = Fetch;
    m.xUnfetch = Unfetch;
  }
  return m;
}

// VFS methods other than Open pass through to the base VFS.
int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return Base(vfs)->xDelete(Base(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return Base(vfs)->xAccess(Base(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return Base(vfs)->xFullPathname(Base(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return Base(vfs)->xDlOpen == nullptr ? nullptr : Base(vfs)->xDlOpen(Base(vfs), name);
}
void DlError(sqlite3_vfs* vfs, int n, char* out) {
  if (Base(vfs)->xDlError != nullptr) Base(vfs)->xDlError(Base(vfs), n, out);
}
void (*DlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return Base(vfs)->xDlSym == nullptr ? nullptr : Base(vfs)->xDlSym(Base(vfs), handle, symbol);
}
void DlClose(sqlite3_vfs* vfs, void* handle) {
  if (Base(vfs)->xDlClose != nullptr) Base(vfs)->xDlClose(Base(vfs), handle);
}
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xRandomness(Base(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int microseconds) { return Base(vfs)->xSleep(Base(vfs), microseconds); }
int CurrentTime(sqlite3_vfs* vfs, double* out) { return Base(vfs)->xCurrentTime(Base(vfs), out); }
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return Base(vfs)->xGetLastError == nullptr ? 0 : Base(vfs)->xGetLastError(Base(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return Base(vfs)->xCurrentTimeInt64(Base(vfs), out);
}

}  // namespace

void PageChecksumVfs::SealPage(char* page, size_t size) {
  RB_CHECK(size > kPageChecksumBytes, "page of ", size, " bytes");
  const size_t body = size - kPageChecksumBytes;
  StoreLittleEndian64(Checksum(absl::string_view(page, body), kPageSeed), page + body);
}

bool PageChecksumVfs::PageIsSealed(const char* page, size_t size) {
  RB_CHECK(size > kPageChecksumBytes, "page of ", size, " bytes");
  const size_t body = size - kPageChecksumBytes;
  return LoadLittleEndian64(page + body) == Checksum(absl::string_view(page, body), kPageSeed);
}

std::string PageChecksumVfs::Name(absl::string_view base_name) {
  return absl::StrCat(kNamePrefix, base_name);
}

bool PageChecksumVfs::IsPageChecksumVfs(absl::string_view vfs_name) {
  return absl::StartsWith(vfs_name, kNamePrefix);
}

PageChecksumVfs::PageChecksumVfs(sqlite3_vfs* base) : base_(base), name_(Name(base->zName)) {
  vfs_.iVersion = base->iVersion >= 2 ? 2 : 1;
  vfs_.szOsFile = static_cast<int>(kLowerOffset) + base->szOsFile;
  vfs_.mxPathname = base->mxPathname;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = Open;
  vfs_.xDelete = Delete;
  vfs_.xAccess = Access;
  vfs_.xFullPathname = FullPathname;
  vfs_.xDlOpen = DlOpen;
  vfs_.xDlError = DlError;
  vfs_.xDlSym = DlSym;
  vfs_.xDlClose = DlClose;
  vfs_.xRandomness = Randomness;
  vfs_.xSleep = Sleep;
  vfs_.xCurrentTime = CurrentTime;
  vfs_.xGetLastError = GetLastError;
  if (vfs_.iVersion >= 2) vfs_.xCurrentTimeInt64 = CurrentTimeInt64;
}

absl::StatusOr<std::unique_ptr<PageChecksumVfs>> PageChecksumVfs::Create(sqlite3_vfs* base) {
  if (base == nullptr) return absl::InvalidArgumentError("page checksum VFS: no base VFS");
  std::unique_ptr<PageChecksumVfs> shim(new PageChecksumVfs(base));
  if (sqlite3_vfs_find(shim->name_.c_str()) != nullptr) {
    return absl::AlreadyExistsError(absl::StrCat("VFS ", shim->name_, " is already registered"));
  }
  const int rc = sqlite3_vfs_register(&shim->vfs_, /*makeDflt=*/0);
  if (rc != SQLITE_OK) {
    return absl::InternalError(
        absl::StrCat("registering VFS ", shim->name_, ": ", sqlite3_errstr(rc)));
  }
  return shim;
}

absl::StatusOr<PageChecksumVfs*> PageChecksumVfs::Default() {
  // Created once (thread-safe static initialization) and kept for the process's lifetime.
  static absl::StatusOr<PageChecksumVfs*>* const shim = [] {
    auto created = Create(sqlite3_vfs_find(nullptr));
    if (!created.ok()) return new absl::StatusOr<PageChecksumVfs*>(created.status());
    return new absl::StatusOr<PageChecksumVfs*>(created->release());
  }();
  return *shim;
}

PageChecksumVfs::~PageChecksumVfs() { sqlite3_vfs_unregister(&vfs_); }

PageChecksumVfs::Counters PageChecksumVfs::counters() const {
  Counters c;
  c.pages_verified = pages_verified_.load(std::memory_order_relaxed);
  c.mismatches = mismatches_.load(std::memory_order_relaxed);
  c.repaired = repaired_.load(std::memory_order_relaxed);
  c.damaged = damaged_.load(std::memory_order_relaxed);
  return c;
}

int PageChecksumVfs::Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                          int* out_flags) {
  sqlite3_vfs* base = Base(vfs);
  // Journals and temporary files are the base VFS's own (the memory SQLite allocated is
  // larger than they need).
  const bool wal = (flags & SQLITE_OPEN_WAL) != 0;
  if ((flags & SQLITE_OPEN_MAIN_DB) == 0 && !wal) {
    return base->xOpen(base, name, file, flags, out_flags);
  }
  ShimFile* shim = new (file) ShimFile();
  shim->owner = Owner(vfs);
  shim->name = name;
  shim->wal = wal;
  sqlite3_file* lower = Lower(file);
  const int rc = base->xOpen(base, name, lower, flags, out_flags);
  if (rc != SQLITE_OK || lower->pMethods == nullptr) {
    if (lower->pMethods != nullptr) lower->pMethods->xClose(lower);
    file->pMethods = nullptr;  // SQLite must not call xClose on a file that did not open
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  shim->powersafe =
      (lower->pMethods->xDeviceCharacteristics(lower) & SQLITE_IOCAP_POWERSAFE_OVERWRITE) != 0;
  static const sqlite3_io_methods kMethods[] = {MakeMethods<1>(), MakeMethods<2>(),
                                                MakeMethods<3>()};
  const int version = std::min(std::max(lower->pMethods->iVersion, 1), 3);
  file->pMethods = &kMethods[version - 1];
  return SQLITE_OK;
}

bool PageChecksumFile::ReadLower(ShimFile* shim, uint64_t offset, size_t n, char* out) {
  sqlite3_file* lower = Lower(&shim->file);
  return lower->pMethods->xRead(lower, out, static_cast<int>(n),
                                static_cast<sqlite3_int64>(offset)) == SQLITE_OK;
}

uint64_t PageChecksumFile::LowerSize(ShimFile* shim) {
  sqlite3_file* lower = Lower(&shim->file);
  sqlite3_int64 size = 0;
  if (lower->pMethods->xFileSize(lower, &size) != SQLITE_OK || size < 0) return 0;
  return static_cast<uint64_t>(size);
}

int PageChecksumFile::Damaged(ShimFile* shim, sqlite3_int64 offset, absl::string_view what) {
  shim->owner->damaged_.fetch_add(1, std::memory_order_relaxed);
  RB_LOG(ERROR) << shim->name << ": " << what << " at offset " << offset
                << " is damaged on disk (it failed its checksum on " << kPageRereads + 1
                << " reads)";
  return SQLITE_IOERR_DATA;
}

int PageChecksumFile::Read(sqlite3_file* f, void* out, int n, sqlite3_int64 offset) {
  ShimFile* shim = Shim(f);
  sqlite3_file* lower = Lower(f);
  const int rc = lower->pMethods->xRead(lower, out, n, offset);
  if (rc != SQLITE_OK) return rc;  // including short reads past the end: nothing to check
  char* bytes = static_cast<char*>(out);
  return shim->wal ? ReadWal(shim, bytes, n, offset) : ReadDatabase(shim, bytes, n, offset);
}

int PageChecksumFile::ReadDatabase(ShimFile* shim, char* bytes, int n, sqlite3_int64 offset) {
  if (IsHeader(bytes, n, offset)) shim->sealed = bytes[kReservedBytesOffset] == kPageChecksumBytes;
  if (!shim->sealed || !IsPage(n, offset)) return SQLITE_OK;
  const RereadOutcome outcome =
      CheckWithRereads([&] { return PageChecksumVfs::PageIsSealed(bytes, n); },
                       [&] { return ReadLower(shim, offset, n, bytes); });
  return MustHavePassed(shim, outcome, offset, "the page");
}

int PageChecksumFile::MustHavePassed(ShimFile* shim, const RereadOutcome& outcome,
                                     sqlite3_int64 offset, absl::string_view what) {
  PageChecksumVfs* owner = shim->owner;
  owner->mismatches_.fetch_add(outcome.failed_reads, std::memory_order_relaxed);
  if (outcome.io_error) return SQLITE_IOERR_READ;
  if (!outcome.passed) return Damaged(shim, offset, what);
  if (outcome.failed_reads == 0) {
    owner->pages_verified_.fetch_add(1, std::memory_order_relaxed);
  } else {
    owner->repaired_.fetch_add(1, std::memory_order_relaxed);
    RB_LOG(WARNING) << shim->name << ": " << what << " at offset " << offset
                    << " failed its checksum, then read correctly (a transient read fault)";
  }
  return SQLITE_OK;
}

void PageChecksumFile::CountIfRepaired(ShimFile* shim, const RereadOutcome& outcome) {
  if (!outcome.passed || outcome.failed_reads == 0) return;
  shim->owner->mismatches_.fetch_add(outcome.failed_reads, std::memory_order_relaxed);
  shim->owner->repaired_.fetch_add(1, std::memory_order_relaxed);
}

int PageChecksumFile::ReadWal(ShimFile* shim, char* bytes, int n, sqlite3_int64 offset) {
  if (offset == 0 && n == static_cast<int>(wal::kHeaderBytes)) return CheckWalHeader(shim, bytes);
  if (!shim->has_header || offset < static_cast<sqlite3_int64>(wal::kHeaderBytes)) {
    return SQLITE_OK;
  }
  const wal::Header& h = shim->header;
  const uint64_t at = static_cast<uint64_t>(offset) - wal::kHeaderBytes;
  // Recovery reads whole frames, from the first on; later reads take one page out of one.
  if (static_cast<uint64_t>(n) == h.frame_bytes() && at % h.frame_bytes() == 0) {
    return CheckRecoveredFrame(shim, bytes, at / h.frame_bytes());
  }
  if (static_cast<uint64_t>(n) == h.page_bytes && at % h.frame_bytes() == wal::kFrameHeaderBytes &&
      static_cast<uint64_t>(offset) + n <= shim->committed_end) {
    return CheckWalPage(shim, bytes, at / h.frame_bytes());
  }
  return SQLITE_OK;
}

int PageChecksumFile::CheckWalHeader(ShimFile* shim, char* bytes) {
  shim->has_header = false;
  shim->Reset();
  wal::Header h;
  // Not a WAL header at all: SQLite ignores the file (a new WAL is about to be written).
  if (!wal::ParseHeader(bytes, &h)) return SQLITE_OK;
  bool parsed = true;
  const RereadOutcome outcome =
      CheckWithRereads([&] { return !parsed || h.checksum_ok(); },
                       [&] {
                         if (!ReadLower(shim, 0, wal::kHeaderBytes, bytes)) {
                           return false;
                         }
                         parsed = wal::ParseHeader(bytes, &h);
                         return true;
                       });
  if (outcome.io_error) return SQLITE_IOERR_READ;
  if (!parsed) return SQLITE_OK;
  CountIfRepaired(shim, outcome);
  if (!h.checksum_ok()) {
    // SQLite would ignore the whole WAL. Fine if no more commits follow than may lack an
    // fsync, which is what a header torn along with the first transactions after a reset
    // looks like.
    const auto read = [shim](uint64_t o, size_t n, char* out) {
      return ReadLower(shim, o, n, out);
    };
    const uint64_t size = LowerSize(shim);
    const uint64_t commits = std::max(wal::CommitsInChain(h, h.stored, 0, size, read),
                                      wal::CommitsInChain(h, h.computed, 0, size, read));
    if (shim->powersafe && commits > wal::kMaxUnsyncedCommits) {
      return Damaged(shim, 0, "the WAL header");
    }
    return SQLITE_OK;
  }
  shim->header = h;
  shim->has_header = true;
  return SQLITE_OK;
}

bool PageChecksumFile::ChecksumBefore(ShimFile* shim, uint64_t k, wal::Checksum* out) {
  if (k == 0) {
    *out = shim->header.stored;
    return true;
  }
  if (const FrameHeader* previous = shim->Frame(k - 1)) {
    *out = wal::StoredChecksum(previous->bytes);
    return true;
  }
  char previous[wal::kFrameHeaderBytes];
  if (!ReadLower(shim, shim->header.frame_offset(k - 1), sizeof(previous), previous)) return false;
  *out = wal::StoredChecksum(previous);
  return true;
}

int PageChecksumFile::CheckRecoveredFrame(ShimFile* shim, char* frame, uint64_t k) {
  const wal::Header& h = shim->header;
  const uint64_t offset = h.frame_offset(k);
  wal::Checksum prev;
  if (!ChecksumBefore(shim, k, &prev)) return SQLITE_IOERR_READ;
  wal::FrameCheck check;
  const RereadOutcome outcome = CheckWithRereads(
      [&] {
        check = wal::CheckFrame(h, prev, frame);
        return check.valid;
      },
      [&] {
        return ReadLower(shim, offset, h.frame_bytes(), frame) && ChecksumBefore(shim, k, &prev);
      });
  if (outcome.io_error) return SQLITE_IOERR_READ;
  CountIfRepaired(shim, outcome);
  if (check.valid) {
    shim->owner->pages_verified_.fetch_add(1, std::memory_order_relaxed);
    shim->Remember(k, frame);
    if (check.commit) shim->committed_end = offset + h.frame_bytes();
    return SQLITE_OK;
  }
  // The end of the log, where SQLite stops: a torn or stale frame, or damage.
  const auto read = [shim](uint64_t o, size_t n, char* out) { return ReadLower(shim, o, n, out); };
  if (shim->powersafe && wal::IsDamaged(h, check, k, LowerSize(shim), read)) {
    return Damaged(shim, static_cast<sqlite3_int64>(offset), "the WAL frame");
  }
  return SQLITE_OK;
}

int PageChecksumFile::CheckWalPage(ShimFile* shim, char* page, uint64_t k) {
  const wal::Header& h = shim->header;
  const uint64_t offset = h.frame_offset(k);
  // The frame's header and the checksum before it: remembered, or read again each time.
  char frame_header[wal::kFrameHeaderBytes];
  wal::Checksum prev;
  auto read_chain = [&] {
    if (const FrameHeader* known = shim->Frame(k)) {
      std::memcpy(frame_header, known->bytes, sizeof(frame_header));
    } else if (!ReadLower(shim, offset, sizeof(frame_header), frame_header)) {
      return false;
    }
    return ChecksumBefore(shim, k, &prev);
  };
  if (!read_chain()) return SQLITE_IOERR_READ;
  const RereadOutcome outcome = CheckWithRereads(
      [&] { return wal::CheckFrame(h, prev, frame_header, page).valid; },
      [&] {
        return ReadLower(shim, offset + wal::kFrameHeaderBytes, h.page_bytes, page) && read_chain();
      });
  return MustHavePassed(shim, outcome, static_cast<sqlite3_int64>(offset), "the WAL frame");
}

int PageChecksumFile::Write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  ShimFile* shim = Shim(f);
  sqlite3_file* lower = Lower(f);
  const char* bytes = static_cast<const char*>(data);
  if (shim->wal) {
    if (offset == 0 && n == static_cast<int>(wal::kHeaderBytes)) {
      // A new WAL (after a reset): no committed frame in it yet.
      shim->has_header = wal::ParseHeader(bytes, &shim->header);
      shim->Reset();
    } else if (shim->has_header && n == static_cast<int>(wal::kFrameHeaderBytes) &&
               offset >= static_cast<sqlite3_int64>(wal::kHeaderBytes) &&
               (offset - wal::kHeaderBytes) % shim->header.frame_bytes() == 0) {
      // A frame header; a commit frame's page follows at once, and the commit is synced
      // before SQLite reads any of it back.
      shim->Remember((offset - wal::kHeaderBytes) / shim->header.frame_bytes(), bytes);
      if (wal::IsCommit(bytes)) {
        shim->committed_end = static_cast<uint64_t>(offset) + shim->header.frame_bytes();
      }
    }
    return lower->pMethods->xWrite(lower, data, n, offset);
  }
  if (IsHeader(bytes, n, offset)) shim->sealed = bytes[kReservedBytesOffset] == kPageChecksumBytes;
  if (!shim->sealed || !IsPage(n, offset)) return lower->pMethods->xWrite(lower, data, n, offset);
  // A copy: the page belongs to SQLite's cache.
  thread_local std::string page;
  page.assign(bytes, n);
  PageChecksumVfs::SealPage(page.data(), page.size());
  return lower->pMethods->xWrite(lower, page.data(), n, offset);
}

int PageChecksumFile::Truncate(sqlite3_file* f, sqlite3_int64 size) {
  ShimFile* shim = Shim(f);
  if (shim->wal && size >= 0) {
    shim->committed_end = std::min(shim->committed_end, static_cast<uint64_t>(size));
    if (shim->has_header) {
      const uint64_t whole = static_cast<uint64_t>(size) < wal::kHeaderBytes
                                 ? 0
                                 : (size - wal::kHeaderBytes) / shim->header.frame_bytes();
      if (whole < shim->frames.size()) shim->frames.resize(whole);
    }
  }
  return Lower(f)->pMethods->xTruncate(Lower(f), size);
}

}  // namespace rb::storage
