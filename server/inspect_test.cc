#include "server/inspect.h"

#include "gtest/gtest.h"
#include "server/identity.h"
#include "storage/test_util.h"

namespace rb::server {
namespace {

std::string MakeDataDir() {
  const std::string dir = storage::MakeTempDir();
  auto store = storage::OpenStore(dir);
  raft::ConfState cs;
  cs.voters = {7, RaftIdForName("replica1")};  // sorted, as the store requires
  EXPECT_TRUE(store
                  ->Write([&](storage::WriteTxn* txn) -> absl::Status {
                    absl::Status s = txn->AppendEntries(storage::MakeEntries(1, 12, 2));
                    if (!s.ok()) return s;
                    s = txn->SetHardState(raft::HardState{2, 7, 10});
                    if (!s.ok()) return s;
                    for (int i = 0; i < 5; ++i) {
                      s = txn->Put("key" + std::to_string(i), "value", 3);
                      if (!s.ok()) return s;
                    }
                    s = txn->Put(std::string("\0member/0000000000000007", 24), "replica7 h:1", 4);
                    if (!s.ok()) return s;
                    return txn->SetApplied(10, cs);
                  })
                  .ok());
  store.reset();
  EXPECT_TRUE(WriteIdentity(dir, DataDirIdentity{"replica1", RaftIdForName("replica1"), 99}).ok());
  return dir;
}

TEST(InspectTest, ReportsWhatTheDirectoryHoldsAndChangesNothing) {
  const std::string dir = MakeDataDir();
  const std::string db = dir + "/raftbadger.db";
  const std::string before = storage::ReadFileBytes(db);
  auto report = InspectDataDir(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  for (const char* line :
       {"identity: name replica1", "cluster 99", "hard state: term 2, vote 7, commit 10",
        "log: entries 1 to 12 (12), last term 2", "snapshot: none", "applied: index 10",
        "state machine: 5 keys, 1 reserved rows", "  7 replica7 h:1", "checks: "}) {
    EXPECT_NE(report->find(line), std::string::npos) << line << "\n" << *report;
  }
  EXPECT_EQ(storage::ReadFileBytes(db), before);
}

TEST(InspectTest, DamageIsReportedAsDataLoss) {
  const std::string dir = MakeDataDir();
  const std::string db = dir + "/raftbadger.db";
  std::string bytes = storage::ReadFileBytes(db);
  ASSERT_GT(bytes.size(), 8192u);
  bytes[bytes.size() - 100] ^= 0x40;  // inside the last page
  storage::WriteFileBytes(db, bytes);
  auto report = InspectDataDir(dir);
  EXPECT_TRUE(absl::IsDataLoss(report.status())) << report.status();
}

}  // namespace
}  // namespace rb::server
