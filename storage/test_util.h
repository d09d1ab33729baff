// Helpers for storage tests: fresh temporary directories under Bazel's TEST_TMPDIR, stores
// opened in them, and log entries.
#ifndef RAFTBADGER_STORAGE_TEST_UTIL_H_
#define RAFTBADGER_STORAGE_TEST_UTIL_H_

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/types.h"
#include "storage/store.h"

namespace rb::storage {

// A new empty directory (mkdtemp) under TEST_TMPDIR or /tmp.
std::string MakeTempDir();
// Opens the store in dir with default options; on failure, records a test failure and
// returns null.
std::unique_ptr<Store> OpenStore(const std::string& dir);
// Entries index first..first+n-1, all of `term`, payload "e<index>".
std::vector<raft::Entry> MakeEntries(uint64_t first, uint64_t n, uint64_t term);
// A whole file's bytes (empty if it cannot be read), and replacing them: for tests that
// damage files behind the store's back.
std::string ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const std::string& bytes);

// Fills a new store at options.dir with a sample history: 300 entries over 30 writes and
// 3 terms, 200 keys rewritten in turn, compacted to index 50. With checkpoint, everything
// ends in the database file; without, the last ten writes stay in the WAL. after_write,
// if given, sees the store after each write (and the compaction).
absl::Status FillSampleStore(const StoreOptions& options, bool checkpoint,
                             const std::function<void(const Store&)>& after_write = nullptr);
// Everything a node reads from a store (hard state, configuration, log, rows, point
// reads), as one string, or the first read error: equal dumps, equal data.
absl::StatusOr<std::string> DumpStore(const Store& store);

// Builds a snapshot of store's state machine (SnapshotBuilder, 64 pages a step); on
// failure, records a test failure and returns null.
std::shared_ptr<const raft::Snapshot> TakeSnapshot(Store* store);
// Streams snap from `from` into `to`'s snapshot directory (SnapshotReader to
// SnapshotReceiver) in chunks of max_bytes, counting them in *chunks if given. The caller
// installs it.
absl::Status TransferSnapshot(const Store& from, const Store& to, const raft::Snapshot& snap,
                              size_t max_bytes, int* chunks = nullptr);

// Full-disk tests: small tmpfs file systems, mounted in a mount namespace of the test
// process's own, so that nothing outlives the test or shows outside it. Without the
// privilege to make one (CAP_SYS_ADMIN), it goes through a user namespace first, which
// only a single-threaded process may enter: a test that starts threads (gRPC) calls
// EnterPrivateMountNamespace from main() before anything else. Child processes inherit
// the namespace and see the mounts. An error says why the machine allows neither.
absl::Status EnterPrivateMountNamespace();
// REQUIRES: dir exists.
absl::Status MountTmpfs(const std::string& dir, uint64_t bytes);
// Writes a file of zeros at path until the file system has at most leave_bytes free (0:
// until it is full; ENOSPC ends it). Returns the bytes written.
absl::StatusOr<uint64_t> FillDisk(const std::string& path, uint64_t leave_bytes);

}  // namespace rb::storage

#endif  // RAFTBADGER_STORAGE_TEST_UTIL_H_
