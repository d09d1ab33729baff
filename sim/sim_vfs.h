// SimVfs: a SQLite VFS whose files live on simulated disks (SimDisk), so that the real
// store (storage/Store, SQLite in WAL mode) runs inside the simulator and meets the same
// power losses, torn writes and corruption as the in-memory model.
//
// Paths are "/<disk>/<file>": the first path component names the disk mounted under it
// (one per simulated node). Nothing here touches the real file system, reads a clock or
// sleeps; SQLite's randomness (WAL salts) comes from a seeded generator.
//
// The files offer no shared-memory methods: SQLite then runs WAL only in exclusive locking
// mode, which is what the store uses. Locks always succeed (one process, one connection
// per file).
//
// Stores open it through a page checksum shim (storage/page_checksum_vfs.h), as in
// production; name() is the shim's. Reads of chosen database files can be made flaky: a
// page read then returns one flipped bit now and then, while the disk keeps the right
// bytes (a transient fault, which the shim must catch and repair by reading again).
#ifndef RAFTBADGER_SIM_SIM_VFS_H_
#define RAFTBADGER_SIM_SIM_VFS_H_

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "raft/rng.h"
#include "sim/sim_disk.h"
#include "storage/page_checksum_vfs.h"

namespace rb::sim {

class SimVfs {
 public:
  // Registers the VFS with SQLite under a name unique in this process.
  explicit SimVfs(uint64_t seed);
  // REQUIRES: no database opened through this VFS is still open.
  ~SimVfs();
  SimVfs(const SimVfs&) = delete;
  SimVfs& operator=(const SimVfs&) = delete;

  // The name to pass as StoreOptions::vfs: this VFS under page checksums.
  const std::string& name() const { return checked_->name(); }
  const storage::PageChecksumVfs& checksums() const { return *checked_; }
  // Files under "/<disk_name>/" live on `disk`, which must outlive every file opened there.
  void Mount(absl::string_view disk_name, SimDisk* disk);
  // From now on, each whole-page read of the database file at `path` flips one bit of what
  // it returns with probability per_mille / 1000 (drawn from this VFS's fault generator,
  // which is apart from the one behind SQLite's randomness).
  void SetFlakyReads(absl::string_view path, uint32_t per_mille);
  // From now on, each sync of the file at `path` (opened after this call) fails with
  // probability per_10k / 10000: the disk keeps a random part of the file's unsynced writes
  // and drops the rest (SimDisk::FailSync), and SQLite gets SQLITE_IOERR_FSYNC. Drawn from
  // a generator of its own, so that other faults draw what they drew before.
  void SetFailingSyncs(absl::string_view path, uint32_t per_10k);
  // From now on no sync fails (the simulator's faults have stopped).
  void StopSyncFailures() { sync_failures_stopped_ = true; }

  // Counters, for tests and traces.
  uint64_t syncs() const { return syncs_; }
  uint64_t read_faults() const { return read_faults_; }  // bits flipped by flaky reads
  uint64_t sync_failures() const { return sync_failures_; }

 private:
  struct File;
  SimDisk* DiskFor(absl::string_view path) const;

  static int Open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags,
                  int* out_flags);
  static int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir);
  static int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out);
  static int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out);
  static int Randomness(sqlite3_vfs* vfs, int n, char* out);
  static int Sleep(sqlite3_vfs* vfs, int microseconds);
  static int CurrentTime(sqlite3_vfs* vfs, double* out);
  static int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out);
  static int GetLastError(sqlite3_vfs* vfs, int n, char* out);

  static int Close(sqlite3_file* file);
  static int Read(sqlite3_file* file, void* out, int n, sqlite3_int64 offset);
  static int Write(sqlite3_file* file, const void* data, int n, sqlite3_int64 offset);
  static int Truncate(sqlite3_file* file, sqlite3_int64 size);
  static int Sync(sqlite3_file* file, int flags);
  static int FileSize(sqlite3_file* file, sqlite3_int64* out);
  static int Lock(sqlite3_file* file, int level);
  static int Unlock(sqlite3_file* file, int level);
  static int CheckReservedLock(sqlite3_file* file, int* out);
  static int FileControl(sqlite3_file* file, int op, void* arg);
  static int SectorSize(sqlite3_file* file);
  static int DeviceCharacteristics(sqlite3_file* file);

  static const sqlite3_io_methods kIoMethods;

  std::string name_;
  sqlite3_vfs vfs_{};
  raft::Rng rng_;
  raft::Rng fault_rng_;
  raft::Rng sync_fault_rng_;
  std::map<std::string, SimDisk*, std::less<>> disks_;
  std::map<std::string, uint32_t, std::less<>> flaky_reads_per_mille_;
  std::map<std::string, uint32_t, std::less<>> failing_syncs_per_10k_;
  std::unique_ptr<storage::PageChecksumVfs> checked_;  // over vfs_; unregistered first
  uint64_t temp_files_ = 0;
  uint64_t syncs_ = 0;
  uint64_t read_faults_ = 0;
  uint64_t sync_failures_ = 0;
  bool sync_failures_stopped_ = false;
};

}  // namespace rb::sim

#endif  // RAFTBADGER_SIM_SIM_VFS_H_
