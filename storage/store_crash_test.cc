// kill -9 test: a child process writes batches through Store::Write and reports each batch
// whose Write returned OK; the parent kills it with SIGKILL at random points, reopens the
// store and checks the durability contract:
//   - every acknowledged entry is present and intact;
//   - no partial batch is visible (the hard state's commit, the last entry and the
//     state-machine values written in the same transaction all agree, among them one
//     that moves in and out of the large-value table, kv_rows.h);
//   - the store reopens cleanly every time.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "raft/rng.h"
#include "storage/store.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

constexpr int kKills = 60;

std::string Payload(uint64_t index) {
  return absl::StrCat("entry-", index, "-", std::string(64 + index % 200, 'p'));
}

// The value of key "sized" after the batch ending at `last`: inline or large (over
// kMaxInlineValueBytes, up to 64 KiB) by turns, so that batches move it between the tables.
std::string SizedValue(uint64_t last) {
  const size_t bytes = last % 3 == 0 ? last % 200 : 600 + (last * 7919) % (64 << 10);
  return absl::StrCat(last, "-", std::string(bytes, 'v'));
}

// The child: appends batches forever, acknowledging each durable one on `ack_fd`.
[[noreturn]] void Writer(const std::string& dir, uint64_t seed, int ack_fd) {
  StoreOptions options;
  options.dir = dir;
  auto store = Store::Open(options);
  if (!store.ok()) _exit(2);
  raft::Rng rng(seed);
  for (int batch = 0; batch < 1000000; ++batch) {
    const uint64_t first = *(*store)->LastIndex() + 1;
    const uint64_t n = rng.Range(1, 40);
    absl::Status s = (*store)->Write([&](WriteTxn* t) -> absl::Status {
      std::vector<raft::Entry> entries;
      for (uint64_t i = first; i < first + n; ++i) {
        entries.push_back(raft::Entry{1, i, raft::EntryType::kNormal, Payload(i)});
      }
      RETURN_IF_ERROR(t->AppendEntries(entries));
      RETURN_IF_ERROR(t->Put("last", absl::StrCat(first + n - 1), first + n - 1));
      RETURN_IF_ERROR(t->Put("sized", SizedValue(first + n - 1), first + n - 1));
      return t->SetHardState(raft::HardState{1, 1, first + n - 1});
    });
    if (!s.ok()) _exit(3);
    const uint64_t last = first + n - 1;
    if (write(ack_fd, &last, sizeof(last)) != sizeof(last)) _exit(4);
  }
  _exit(0);
}

TEST(StoreCrashTest, AcknowledgedBatchesSurviveSigkill) {
  const std::string dir = MakeTempDir();
  raft::Rng rng(20261126);
  uint64_t acknowledged = 0;
  for (int kill = 0; kill < kKills; ++kill) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      Writer(dir, rng.Next(), fds[1]);
    }
    close(fds[1]);
    // Wait for a random number of acknowledgments, then kill mid-stream.
    const uint64_t wanted = rng.Range(1, 25);
    uint64_t got = 0;
    uint64_t last = 0;
    while (got < wanted && read(fds[0], &last, sizeof(last)) == sizeof(last)) {
      acknowledged = std::max(acknowledged, last);
      ++got;
    }
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << WEXITSTATUS(status);
    // Acknowledgments written before the kill still count.
    while (read(fds[0], &last, sizeof(last)) == sizeof(last)) {
      acknowledged = std::max(acknowledged, last);
    }
    close(fds[0]);

    StoreOptions options;
    options.dir = dir;
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << "reopen after kill " << kill << ": " << store.status();
    const uint64_t last_index = *(*store)->LastIndex();
    ASSERT_GE(last_index, acknowledged) << "lost acknowledged entries after kill " << kill;
    EXPECT_EQ((*store)->hard_state().commit, last_index) << "partial batch visible";
    EXPECT_EQ(**(*store)->Get("last"), absl::StrCat(last_index)) << "partial batch visible";
    EXPECT_EQ(**(*store)->Get("sized"), SizedValue(last_index)) << "partial batch visible";
    std::vector<raft::Entry> all;
    ASSERT_TRUE((*store)->Entries(1, last_index + 1, raft::kNoLimit, &all).ok());
    ASSERT_EQ(all.size(), last_index);
    for (const raft::Entry& e : all) {
      ASSERT_EQ(e.data, Payload(e.index)) << "entry " << e.index << " damaged";
    }
  }
  EXPECT_GT(acknowledged, static_cast<uint64_t>(kKills));
}

}  // namespace
}  // namespace rb::storage
