#include "sim/sim_vfs.h"

#include <cstring>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace rb::sim {

// SQLite allocates szOsFile bytes per open file and hands them to Open(); this is what
// lives there. `path` is owned (freed in Close()).
struct SimVfs::File {
  sqlite3_file base;
  SimVfs* vfs;
  SimDisk* disk;
  std::string* path;
  bool delete_on_close;
  uint32_t flaky_reads_per_mille;  // at open, from SetFlakyReads
  uint32_t failing_syncs_per_10k;  // at open, from SetFailingSyncs
};

namespace {

// Process-wide, only to give each instance a distinct registration name; nothing a
// simulation observes depends on it.
uint64_t next_instance = 0;

SimVfs* Self(sqlite3_vfs* vfs) { return static_cast<SimVfs*>(vfs->pAppData); }

// 2026-01-01 as a Julian day in milliseconds: SQLite's "now" in the simulator is a fixed
// instant (the store never asks; SQL date functions would).
constexpr sqlite3_int64 kFixedNowMs = 212'633'985'600'000LL;

}  // namespace

const sqlite3_io_methods SimVfs::kIoMethods = {1,  // iVersion: no shared memory, no mmap
                                               &SimVfs::Close,
                                               &SimVfs::Read,
                                               &SimVfs::Write,
                                               &SimVfs::Truncate,
                                               &SimVfs::Sync,
                                               &SimVfs::FileSize,
                                               &SimVfs::Lock,
                                               &SimVfs::Unlock,
                                               &SimVfs::CheckReservedLock,
                                               &SimVfs::FileControl,
                                               &SimVfs::SectorSize,
                                               &SimVfs::DeviceCharacteristics,
                                               nullptr,
                                               nullptr,
                                               nullptr,
                                               nullptr,
                                               nullptr,
                                               nullptr};

SimVfs::SimVfs(uint64_t seed)
    : rng_(seed), fault_rng_(seed ^ 0x5eadfa017ULL), sync_fault_rng_(seed ^ 0x5f5c4fa11ULL) {
  name_ = absl::StrCat("raftbadger-sim-", next_instance++);
  vfs_.iVersion = 2;
  vfs_.szOsFile = sizeof(File);
  vfs_.mxPathname = 512;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = &SimVfs::Open;
  vfs_.xDelete = &SimVfs::Delete;
  vfs_.xAccess = &SimVfs::Access;
  vfs_.xFullPathname = &SimVfs::FullPathname;
  vfs_.xRandomness = &SimVfs::Randomness;
  vfs_.xSleep = &SimVfs::Sleep;
  vfs_.xCurrentTime = &SimVfs::CurrentTime;
  vfs_.xGetLastError = &SimVfs::GetLastError;
  vfs_.xCurrentTimeInt64 = &SimVfs::CurrentTimeInt64;
  const int rc = sqlite3_vfs_register(&vfs_, /*makeDflt=*/0);
  RB_CHECK(rc == SQLITE_OK, "cannot register the simulated VFS: ", sqlite3_errstr(rc));
  auto checked = storage::PageChecksumVfs::Create(&vfs_);
  RB_CHECK(checked.ok(), checked.status().ToString());
  checked_ = *std::move(checked);
}

SimVfs::~SimVfs() {
  checked_.reset();
  sqlite3_vfs_unregister(&vfs_);
}

void SimVfs::SetFlakyReads(absl::string_view path, uint32_t per_mille) {
  RB_CHECK(per_mille <= 1000, "per_mille ", per_mille);
  flaky_reads_per_mille_[std::string(path)] = per_mille;
}

void SimVfs::SetFailingSyncs(absl::string_view path, uint32_t per_10k) {
  RB_CHECK(per_10k <= 10000, "per_10k ", per_10k);
  failing_syncs_per_10k_[std::string(path)] = per_10k;
}

void SimVfs::Mount(absl::string_view disk_name, SimDisk* disk) {
  RB_CHECK(disk != nullptr);
  disks_[std::string(disk_name)] = disk;
}

SimDisk* SimVfs::DiskFor(absl::string_view path) const {
  if (path.empty() || path[0] != '/') return nullptr;
  const size_t end = path.find('/', 1);
  if (end == absl::string_view::npos) return nullptr;
  auto it = disks_.find(path.substr(1, end - 1));
  return it == disks_.end() ? nullptr : it->second;
}

int SimVfs::Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                 int* out_flags) {
  SimVfs* self = Self(vfs);
  std::string path;
  if (name == nullptr) {
    // A temporary file SQLite asks for without a name: on the first mounted disk.
    if (self->disks_.empty()) return SQLITE_CANTOPEN;
    path = absl::StrCat("/", self->disks_.begin()->first, "/.tmp-", self->temp_files_++);
  } else {
    path = name;
  }
  SimDisk* disk = self->DiskFor(path);
  if (disk == nullptr) return SQLITE_CANTOPEN;
  if (!disk->Exists(path)) {
    if ((flags & SQLITE_OPEN_CREATE) == 0) return SQLITE_CANTOPEN;
    disk->Create(path);
    if (!disk->Exists(path)) return SQLITE_CANTOPEN;  // frozen: a dead process creates nothing
  }
  auto* f = reinterpret_cast<File*>(file);
  f->vfs = self;
  f->disk = disk;
  f->path = new std::string(std::move(path));
  f->delete_on_close = name == nullptr || (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  auto flaky = self->flaky_reads_per_mille_.find(*f->path);
  f->flaky_reads_per_mille = flaky == self->flaky_reads_per_mille_.end() ? 0 : flaky->second;
  auto failing = self->failing_syncs_per_10k_.find(*f->path);
  f->failing_syncs_per_10k = failing == self->failing_syncs_per_10k_.end() ? 0 : failing->second;
  f->base.pMethods = &kIoMethods;
  if (out_flags != nullptr) *out_flags = flags;
  return SQLITE_OK;
}

int SimVfs::Delete(sqlite3_vfs* vfs, const char* name, int /*sync_dir*/) {
  SimDisk* disk = Self(vfs)->DiskFor(name);
  if (disk == nullptr || !disk->Delete(name)) return SQLITE_IOERR_DELETE_NOENT;
  return SQLITE_OK;
}

int SimVfs::Access(sqlite3_vfs* vfs, const char* name, int /*flags*/, int* out) {
  SimDisk* disk = Self(vfs)->DiskFor(name);
  *out = disk != nullptr && disk->Exists(name) ? 1 : 0;
  return SQLITE_OK;
}

int SimVfs::FullPathname(sqlite3_vfs* /*vfs*/, const char* name, int n, char* out) {
  const size_t len = strlen(name);
  if (len + 1 > static_cast<size_t>(n)) return SQLITE_CANTOPEN;
  memcpy(out, name, len + 1);
  return SQLITE_OK;
}

int SimVfs::Randomness(sqlite3_vfs* vfs, int n, char* out) {
  SimVfs* self = Self(vfs);
  for (int i = 0; i < n; ++i) out[i] = static_cast<char>(self->rng_.Next());
  return n;
}

int SimVfs::Sleep(sqlite3_vfs* /*vfs*/, int microseconds) { return microseconds; }

int SimVfs::CurrentTime(sqlite3_vfs* /*vfs*/, double* out) {
  *out = static_cast<double>(kFixedNowMs) / 86'400'000.0;
  return SQLITE_OK;
}

int SimVfs::CurrentTimeInt64(sqlite3_vfs* /*vfs*/, sqlite3_int64* out) {
  *out = kFixedNowMs;
  return SQLITE_OK;
}

int SimVfs::GetLastError(sqlite3_vfs* /*vfs*/, int /*n*/, char* /*out*/) { return 0; }

int SimVfs::Close(sqlite3_file* file) {
  auto* f = reinterpret_cast<File*>(file);
  if (f->delete_on_close) f->disk->Delete(*f->path);
  delete f->path;
  f->path = nullptr;
  return SQLITE_OK;
}

int SimVfs::Read(sqlite3_file* file, void* out, int n, sqlite3_int64 offset) {
  auto* f = reinterpret_cast<File*>(file);
  if (n < 0 || offset < 0) return SQLITE_IOERR_READ;
  char* buf = static_cast<char*>(out);
  const uint64_t got =
      f->disk->Read(*f->path, static_cast<uint64_t>(offset), static_cast<uint64_t>(n), buf);
  if (got < static_cast<uint64_t>(n)) {
    // SQLite requires the missing part zero-filled on a short read.
    memset(buf + got, 0, static_cast<size_t>(n) - got);
    return SQLITE_IOERR_SHORT_READ;
  }
  // Whole pages only (n a power of two from 512): the reads the page checksums cover.
  if (f->flaky_reads_per_mille > 0 && n >= 512 && (n & (n - 1)) == 0 &&
      f->vfs->fault_rng_.Chance(f->flaky_reads_per_mille, 1000)) {
    const uint64_t bit = f->vfs->fault_rng_.Uniform(static_cast<uint64_t>(n) * 8);
    buf[bit / 8] = static_cast<char>(buf[bit / 8] ^ (1 << (bit % 8)));
    ++f->vfs->read_faults_;
  }
  return SQLITE_OK;
}

int SimVfs::Write(sqlite3_file* file, const void* data, int n, sqlite3_int64 offset) {
  auto* f = reinterpret_cast<File*>(file);
  if (n < 0 || offset < 0) return SQLITE_IOERR_WRITE;
  if (static_cast<uint64_t>(offset) + static_cast<uint64_t>(n) > SimDisk::kMaxFileBytes) {
    return SQLITE_FULL;
  }
  if (f->disk->full() &&
      static_cast<uint64_t>(offset) + static_cast<uint64_t>(n) > f->disk->Size(*f->path)) {
    return SQLITE_FULL;  // no room to grow the file
  }
  f->disk->Write(*f->path, static_cast<uint64_t>(offset),
                 absl::string_view(static_cast<const char*>(data), static_cast<size_t>(n)));
  return SQLITE_OK;
}

int SimVfs::Truncate(sqlite3_file* file, sqlite3_int64 size) {
  auto* f = reinterpret_cast<File*>(file);
  if (size < 0) return SQLITE_IOERR_TRUNCATE;
  f->disk->Truncate(*f->path, static_cast<uint64_t>(size));
  return SQLITE_OK;
}

int SimVfs::Sync(sqlite3_file* file, int /*flags*/) {
  auto* f = reinterpret_cast<File*>(file);
  if (f->failing_syncs_per_10k > 0 && !f->vfs->sync_failures_stopped_ &&
      f->vfs->sync_fault_rng_.Chance(f->failing_syncs_per_10k, 10000)) {
    f->disk->FailSync(*f->path, &f->vfs->sync_fault_rng_);
    ++f->vfs->sync_failures_;
    return SQLITE_IOERR_FSYNC;
  }
  f->disk->Sync(*f->path);
  ++f->vfs->syncs_;
  return SQLITE_OK;
}

int SimVfs::FileSize(sqlite3_file* file, sqlite3_int64* out) {
  auto* f = reinterpret_cast<File*>(file);
  *out = static_cast<sqlite3_int64>(f->disk->Size(*f->path));
  return SQLITE_OK;
}

int SimVfs::Lock(sqlite3_file* /*file*/, int /*level*/) { return SQLITE_OK; }
int SimVfs::Unlock(sqlite3_file* /*file*/, int /*level*/) { return SQLITE_OK; }

int SimVfs::CheckReservedLock(sqlite3_file* /*file*/, int* out) {
  *out = 0;
  return SQLITE_OK;
}

int SimVfs::FileControl(sqlite3_file* /*file*/, int /*op*/, void* /*arg*/) {
  return SQLITE_NOTFOUND;
}

// As the unix VFS reports by default: 4 KiB sectors, and writing one range never damages
// bytes outside it (the disk model tears only within a write).
int SimVfs::SectorSize(sqlite3_file* /*file*/) { return 4096; }
int SimVfs::DeviceCharacteristics(sqlite3_file* /*file*/) {
  return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
}

}  // namespace rb::sim
