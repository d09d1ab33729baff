#include "storage/test_util.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/snapshot.h"

namespace rb::storage {

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/store-XXXXXX");
  RB_CHECK(mkdtemp(pattern.data()) != nullptr, "mkdtemp ", pattern);
  return pattern;
}

std::unique_ptr<Store> OpenStore(const std::string& dir) {
  StoreOptions options;
  options.dir = dir;
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

std::vector<raft::Entry> MakeEntries(uint64_t first, uint64_t n, uint64_t term) {
  std::vector<raft::Entry> out;
  for (uint64_t i = first; i < first + n; ++i) {
    out.push_back(raft::Entry{term, i, raft::EntryType::kNormal, absl::StrCat("e", i)});
  }
  return out;
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

absl::Status FillSampleStore(const StoreOptions& options, bool checkpoint,
                             const std::function<void(const Store&)>& after_write) {
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(options));
  for (uint64_t batch = 0; batch < 30; ++batch) {
    RETURN_IF_ERROR(store->Write([&](WriteTxn* t) -> absl::Status {
      RETURN_IF_ERROR(t->AppendEntries(MakeEntries(1 + 10 * batch, 10, 1 + batch / 10)));
      for (uint64_t k = 0; k < 10; ++k) {
        const uint64_t key = (batch * 10 + k) % 200;
        RETURN_IF_ERROR(t->Put(absl::StrCat("key-", key),
                               absl::StrCat("value-", batch, "-", std::string(40, 'v')),
                               1 + 10 * batch + k));
      }
      RETURN_IF_ERROR(t->SetApplied(10 * (batch + 1), raft::ConfState{{1, 2, 3}}));
      return t->SetHardState(raft::HardState{1 + batch / 10, 2, 10 * (batch + 1)});
    }));
    if (batch == 19 && !checkpoint) RETURN_IF_ERROR(store->Checkpoint());
    if (after_write) after_write(*store);
  }
  RETURN_IF_ERROR(store->Write([](WriteTxn* t) { return t->Compact(50); }));
  if (after_write) after_write(*store);
  if (checkpoint) RETURN_IF_ERROR(store->Checkpoint());  // everything into the database file
  return absl::OkStatus();
}

absl::StatusOr<std::string> DumpStore(const Store& store) {
  std::string out;
  ASSIGN_OR_RETURN(raft::InitialState init, store.GetInitialState());
  absl::StrAppend(&out, "hs ", init.hard_state.term, " ", init.hard_state.vote, " ",
                  init.hard_state.commit, " voters ", init.conf_state.voters.size(), "\n");
  ASSIGN_OR_RETURN(uint64_t first, store.FirstIndex());
  ASSIGN_OR_RETURN(uint64_t last, store.LastIndex());
  absl::StrAppend(&out, "log ", first, "..", last, " applied ", store.applied_index(), "\n");
  std::vector<raft::Entry> entries;
  RETURN_IF_ERROR(store.Entries(first, last + 1, UINT64_MAX, &entries));
  for (const raft::Entry& e : entries) {
    absl::StrAppend(&out, e.index, "/", e.term, "/", static_cast<int>(e.type), "/", e.data.view(),
                    "\n");
  }
  ASSIGN_OR_RETURN(std::vector<KeyValue> rows, store.Scan("", 100000));
  for (const KeyValue& kv : rows)
    absl::StrAppend(&out, kv.key, "=", kv.value, "@", kv.mod_index, "\n");
  for (int k = 0; k < 200; k += 7) {
    ASSIGN_OR_RETURN(auto v, store.Get(absl::StrCat("key-", k)));
    absl::StrAppend(&out, "get ", k, " ", v.value_or("<none>"), "\n");
  }
  return out;
}

std::shared_ptr<const raft::Snapshot> TakeSnapshot(Store* store) {
  auto builder = SnapshotBuilder::Start(store);
  EXPECT_TRUE(builder.ok()) << builder.status();
  if (!builder.ok()) return nullptr;
  for (int i = 0; i < 100000; ++i) {  // bounded: a step copies up to 64 pages
    auto done = (*builder)->Step(64);
    EXPECT_TRUE(done.ok()) << done.status();
    if (!done.ok()) return nullptr;
    if (*done) break;
  }
  auto snap = (*builder)->Finish();
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : nullptr;
}

absl::Status TransferSnapshot(const Store& from, const Store& to, const raft::Snapshot& snap,
                              size_t max_bytes, int* chunks) {
  ASSIGN_OR_RETURN(auto reader, SnapshotReader::Open(from, snap));
  ASSIGN_OR_RETURN(auto receiver, SnapshotReceiver::Begin(to, snap));
  for (int i = 0; i < 100000; ++i) {  // bounded: at least one row a chunk
    ASSIGN_OR_RETURN(auto chunk, reader->Next(max_bytes));
    if (chunks != nullptr) ++*chunks;
    RETURN_IF_ERROR(receiver->Add(chunk));
    if (chunk.last()) break;
  }
  return receiver->Finish();
}

namespace {

absl::Status Errno(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

absl::Status WriteProcFile(const std::string& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const absl::Status s = ok ? absl::OkStatus() : Errno(absl::StrCat("write ", path));
  ::close(fd);
  return s;
}

}  // namespace

absl::Status EnterPrivateMountNamespace() {
  static bool entered = false;
  if (entered) return absl::OkStatus();
  if (::unshare(CLONE_NEWNS) != 0) {
    if (errno != EPERM) return Errno("unshare(CLONE_NEWNS)");
    // No CAP_SYS_ADMIN here: a user namespace gives it, over mounts of our own only.
    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
      return Errno("unshare(CLONE_NEWUSER | CLONE_NEWNS)");
    }
    RETURN_IF_ERROR(WriteProcFile("/proc/self/setgroups", "deny"));
    RETURN_IF_ERROR(WriteProcFile("/proc/self/uid_map", absl::StrCat(uid, " ", uid, " 1")));
    RETURN_IF_ERROR(WriteProcFile("/proc/self/gid_map", absl::StrCat(gid, " ", gid, " 1")));
  }
  // Mounts made from now on stay in this namespace.
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Errno("making / a private mount");
  }
  entered = true;
  return absl::OkStatus();
}

absl::Status MountTmpfs(const std::string& dir, uint64_t bytes) {
  RETURN_IF_ERROR(EnterPrivateMountNamespace());
  const std::string options = absl::StrCat("size=", bytes);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) != 0) {
    return Errno(absl::StrCat("mount a ", bytes, "-byte tmpfs at ", dir));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FillDisk(const std::string& path, uint64_t leave_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) return Errno(absl::StrCat("open ", path));
  const std::string chunk(64 << 10, '\0');
  uint64_t written = 0;
  absl::Status status;
  for (int i = 0; i < (1 << 20); ++i) {  // bounded: 64 GiB
    struct statvfs st {};
    if (::fstatvfs(fd, &st) != 0) {
      status = Errno("fstatvfs");
      break;
    }
    const uint64_t free = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (free <= leave_bytes) break;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(chunk.size(), free - leave_bytes));
    const ssize_t w = ::write(fd, chunk.data(), n);
    if (w < 0 && errno == ENOSPC) break;
    if (w <= 0) {
      status = Errno(absl::StrCat("write ", path));
      break;
    }
    written += static_cast<uint64_t>(w);
  }
  ::close(fd);
  if (!status.ok()) return status;
  return written;
}

}  // namespace rb::storage
