#include "storage/snapshot.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

raft::ConfState Voters(std::vector<uint64_t> ids) {
  raft::ConfState cs;
  cs.voters = std::move(ids);
  return cs;
}

// Applies `n` puts k<i> = v<i> at log indexes first..first+n-1 (term 1).
void ApplyPuts(Store* s, uint64_t first, uint64_t n, const std::string& prefix = "v") {
  ASSERT_TRUE(s->Write([&](WriteTxn* t) -> absl::Status {
                 RETURN_IF_ERROR(t->AppendEntries(MakeEntries(first, n, 1)));
                 for (uint64_t i = first; i < first + n; ++i) {
                   RETURN_IF_ERROR(t->Put(absl::StrCat("k", i % 1000), absl::StrCat(prefix, i), i));
                 }
                 return t->SetApplied(first + n - 1, Voters({1, 2, 3}));
               }).ok());
}

// The state ApplyPuts leaves after applying every index up to `index`.
std::map<std::string, std::string> ExpectedState(uint64_t index) {
  std::map<std::string, std::string> state;
  for (uint64_t i = 1; i <= index; ++i) {
    state[absl::StrCat("k", i % 1000)] = absl::StrCat(i <= 1000 ? "v" : "after", i);
  }
  return state;
}

TEST(SnapshotTest, ConsistentWhileWritesContinueBetweenSteps) {
  auto s = OpenStore(MakeTempDir());
  ApplyPuts(s.get(), 1, 1000);
  auto b = SnapshotBuilder::Start(s.get());
  ASSERT_TRUE(b.ok()) << b.status();
  bool done = false;
  uint64_t next = 1001;
  int steps = 0;
  for (; steps < 10000 && !done; ++steps) {
    auto step = (*b)->Step(1);  // one page at a time
    ASSERT_TRUE(step.ok()) << step.status();
    done = *step;
    if (!done) {
      ApplyPuts(s.get(), next, 20, "after");  // the store keeps taking writes meanwhile
      next += 20;
    }
  }
  ASSERT_TRUE(done);
  EXPECT_GT(steps, 5);  // writes really did interleave with the copy
  auto snap = (*b)->Finish();
  ASSERT_TRUE(snap.ok()) << snap.status();
  const uint64_t index = (*snap)->metadata.index;
  EXPECT_GE(index, 1000u);
  EXPECT_LE(index, next - 1);
  EXPECT_EQ((*snap)->metadata.term, 1u);
  EXPECT_EQ((*snap)->metadata.conf_state, Voters({1, 2, 3}));
  EXPECT_EQ((*s->GetSnapshot())->metadata.index, index);  // recorded as the latest

  // The rows are exactly the state machine at the snapshot's own index.
  std::map<std::string, std::string> rows;
  auto reader = SnapshotReader::Open(*s, **snap);
  ASSERT_TRUE(reader.ok()) << reader.status();
  for (int i = 0; i < 10000; ++i) {
    auto chunk = (*reader)->Next(4096);
    ASSERT_TRUE(chunk.ok()) << chunk.status();
    for (const auto& row : chunk->rows()) rows[row.key()] = row.value();
    if (chunk->last()) break;
  }
  EXPECT_EQ(rows, ExpectedState(index));
}

TEST(SnapshotTest, WalStaysBoundedAndWritesFlowDuringALongSnapshot) {
  StoreOptions options;
  options.dir = MakeTempDir();
  options.wal_autocheckpoint_pages = 50;
  auto s = *Store::Open(options);
  ApplyPuts(s.get(), 1, 1000);
  auto b = *SnapshotBuilder::Start(s.get());
  int64_t largest_wal = 0;
  uint64_t next = 1001;
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(b->Step(1).ok());  // a slow snapshot: one page per write
    ApplyPuts(s.get(), next, 5, "after");
    next += 5;
    largest_wal = std::max(largest_wal, *s->WalSizeBytes());
  }
  EXPECT_LT(largest_wal, 1 << 20);
  for (int i = 0; i < 100000 && !*b->Step(100); ++i) {
  }
  EXPECT_TRUE(b->Finish().ok());
}

// A store larger than the copy's WAL holds before it checkpoints (1,000 pages): found by the
// node benchmark, whose first snapshot came after 100,000 entries.
TEST(SnapshotTest, LargeStoreSnapshotsInOneCall) {
  auto s = OpenStore(MakeTempDir());
  const std::string payload(300, 'p');
  for (uint64_t first = 1; first <= 40000; first += 2000) {
    ASSERT_TRUE(s->Write([&](WriteTxn* t) -> absl::Status {
                   std::vector<raft::Entry> entries = MakeEntries(first, 2000, 1);
                   for (raft::Entry& e : entries) e.data = payload;
                   RETURN_IF_ERROR(t->AppendEntries(entries));
                   for (uint64_t i = first; i < first + 2000; ++i) {
                     RETURN_IF_ERROR(t->Put(absl::StrCat("k", i % 64), payload, i));
                   }
                   return t->SetApplied(first + 1999, Voters({1}));
                 }).ok());
  }
  auto b = SnapshotBuilder::Start(s.get());
  ASSERT_TRUE(b.ok()) << b.status();
  bool done = false;
  for (int i = 0; i < 1000 && !done; ++i) {
    auto step = (*b)->Step(1024);  // as SqliteNodeStore does
    ASSERT_TRUE(step.ok()) << step.status();
    done = *step;
  }
  auto snap = (*b)->Finish();
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ((*snap)->metadata.index, 40000u);
}

TEST(SnapshotTest, StreamAndInstallOnAnotherNode) {
  auto leader = OpenStore(MakeTempDir());
  ApplyPuts(leader.get(), 1, 300);
  auto snap = TakeSnapshot(leader.get());
  const std::string follower_dir = MakeTempDir();
  auto follower = OpenStore(follower_dir);
  ApplyPuts(follower.get(), 1, 5, "stale");  // older state to be replaced
  int chunks = 0;
  ASSERT_TRUE(TransferSnapshot(*leader, *follower, *snap, 1024, &chunks).ok());
  EXPECT_GT(chunks, 5);  // bounded chunks, not one blob
  ASSERT_TRUE(follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); }).ok());
  EXPECT_EQ(**follower->Get("k299"), "v299");
  EXPECT_EQ(follower->Scan("", 10000)->size(), 300u);
  EXPECT_EQ(follower->applied_index(), 300u);
  EXPECT_EQ(*follower->FirstIndex(), 301u);
  EXPECT_EQ(*follower->LastIndex(), 300u);
  EXPECT_EQ(*follower->Term(300), 1u);
  follower.reset();
  follower = OpenStore(follower_dir);  // survives a restart
  EXPECT_EQ(follower->applied_index(), 300u);
  EXPECT_EQ((*follower->GetSnapshot())->metadata.index, 300u);
  EXPECT_EQ(follower->GetInitialState()->conf_state, Voters({1, 2, 3}));
}

TEST(SnapshotTest, CorruptedTransferIsRejected) {
  auto leader = OpenStore(MakeTempDir());
  ApplyPuts(leader.get(), 1, 50);
  auto snap = TakeSnapshot(leader.get());
  auto follower = OpenStore(MakeTempDir());
  auto reader = *SnapshotReader::Open(*leader, *snap);
  auto receiver = *SnapshotReceiver::Begin(*follower, *snap);
  auto chunk = *reader->Next(1 << 20);
  ASSERT_TRUE(chunk.last());
  chunk.mutable_rows(7)->set_value("flipped");
  ASSERT_TRUE(receiver->Add(chunk).ok());
  absl::Status s = receiver->Finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  // The incomplete file is never installed.
  absl::Status install = follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); });
  EXPECT_FALSE(install.ok());
  EXPECT_EQ(follower->applied_index(), 0u);
}

TEST(SnapshotTest, InterruptedTransferLeavesOldStateUsable) {
  auto leader = OpenStore(MakeTempDir());
  ApplyPuts(leader.get(), 1, 100);
  auto snap = TakeSnapshot(leader.get());
  auto follower = OpenStore(MakeTempDir());
  ApplyPuts(follower.get(), 1, 3, "old");
  {
    auto reader = *SnapshotReader::Open(*leader, *snap);
    auto receiver = *SnapshotReceiver::Begin(*follower, *snap);
    ASSERT_TRUE(receiver->Add(*reader->Next(256)).ok());
    // The connection drops here: the receiver goes away without Finish().
  }
  absl::Status install = follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); });
  EXPECT_EQ(install.code(), absl::StatusCode::kFailedPrecondition) << install;
  EXPECT_EQ(**follower->Get("k1"), "old1");
  EXPECT_EQ(follower->applied_index(), 3u);
  // A retried transfer succeeds over the leftover.
  ASSERT_TRUE(TransferSnapshot(*leader, *follower, *snap, 512).ok());
  ASSERT_TRUE(follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); }).ok());
  EXPECT_EQ(**follower->Get("k1"), "v1");
}

TEST(SnapshotTest, FailureInsideInstallTransactionRollsBack) {
  auto leader = OpenStore(MakeTempDir());
  ApplyPuts(leader.get(), 1, 20);
  auto snap = TakeSnapshot(leader.get());
  auto follower = OpenStore(MakeTempDir());
  ApplyPuts(follower.get(), 1, 2, "old");
  ASSERT_TRUE(TransferSnapshot(*leader, *follower, *snap, 512).ok());
  absl::Status s = follower->Write([&](WriteTxn* t) -> absl::Status {
    RETURN_IF_ERROR(t->InstallSnapshot(*snap));
    return absl::InternalError("crash in the middle of the install");
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(**follower->Get("k1"), "old1");
  EXPECT_EQ(*follower->LastIndex(), 2u);
  EXPECT_EQ((*follower->GetSnapshot())->metadata.index, 0u);
  // The caller's own error does not mark the store failed: the next install works.
  ASSERT_TRUE(follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); }).ok());
  EXPECT_EQ(**follower->Get("k1"), "v1");
}

TEST(SnapshotTest, NothingAppliedMeansNoSnapshot) {
  auto s = OpenStore(MakeTempDir());
  EXPECT_EQ(SnapshotBuilder::Start(s.get()).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SnapshotTest, BadDescriptorIsRejected) {
  auto s = OpenStore(MakeTempDir());
  raft::Snapshot bogus;
  bogus.metadata.index = 5;
  bogus.metadata.term = 1;
  bogus.data = "not a descriptor";
  EXPECT_EQ(SnapshotReceiver::Begin(*s, bogus).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SnapshotTest, SnapshotAfterCompactionUsesDummyTerm) {
  auto s = OpenStore(MakeTempDir());
  ApplyPuts(s.get(), 1, 10);
  ASSERT_TRUE(s->Write([](WriteTxn* t) { return t->Compact(10); }).ok());
  auto snap = TakeSnapshot(s.get());
  EXPECT_EQ(snap->metadata.index, 10u);
  EXPECT_EQ(snap->metadata.term, 1u);
}

}  // namespace
}  // namespace rb::storage

namespace rb::storage {
namespace {

// A backup is a copy of a snapshot file: verified on its own, it passes intact and fails
// when one byte of a row's value changed (the page checksums catch that before the row
// checksums are reached) or when it is not a snapshot at all.
TEST(SnapshotCopyTest, VerifiesRowsAgainstTheFilesOwnDescriptor) {
  auto s = OpenStore(MakeTempDir());
  ApplyPuts(s.get(), 1, 50, "value-");
  auto snap = TakeSnapshot(s.get());
  auto d = DecodeDescriptor(*snap);
  ASSERT_TRUE(d.ok());
  const std::string path = s->snapshot_path(d->file_name());
  auto own = ReadSnapshotDescriptor(path);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->index(), 50u);
  EXPECT_EQ(own->row_count(), d->row_count());
  EXPECT_TRUE(VerifySnapshotCopy(path, *own).ok());

  std::string bytes = ReadFileBytes(path);
  const size_t at = bytes.find("value-17");
  ASSERT_NE(at, std::string::npos);
  bytes[at] = 'V';
  const std::string damaged = MakeTempDir() + "/damaged.db";
  WriteFileBytes(damaged, bytes);
  auto verdict = VerifySnapshotCopy(damaged, *own);
  EXPECT_TRUE(absl::IsDataLoss(verdict)) << verdict;

  EXPECT_FALSE(ReadSnapshotDescriptor(s->db_path()).ok()) << "the store itself is no backup";
}

}  // namespace
}  // namespace rb::storage
