// Opening a data directory written by a build of schema version 1: the store upgrades it in
// place and reads it, and its older snapshot file, whole. The fixture was written by that
// build (storage/testdata/schema_v1/README.md says how).
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/kv_rows.h"
#include "storage/snapshot.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

// The fixture's values: small-<i> = s<i> and large-<i> = LargeValue(i) at index 13 (its
// snapshot); then large-0 = LargeValue(5), large-1 deleted, small-0 = "s-rewritten".
std::string LargeValue(int i) { return std::string(2000 + i, static_cast<char>('A' + i)); }

// A copy of the fixture, so that upgrading it leaves the checked-in files as they are.
std::string CopyOfFixture() {
  const std::string from =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/", std::getenv("TEST_WORKSPACE"),
                   "/storage/testdata/schema_v1");
  const std::string to = MakeTempDir();
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
  // Bazel's runfiles are read-only.
  for (const auto& entry : std::filesystem::recursive_directory_iterator(to)) {
    std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  }
  return to;
}

int64_t Query(const std::string& path, const std::string& sql) {
  auto db = SqliteDb::Open(path, SqliteOpenOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return -1;
  auto n = (*db)->QueryInt64(sql);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.value_or(-1);
}

void ExpectStateAt16(const Store& s) {
  EXPECT_EQ(s.applied_index(), 16u);
  EXPECT_EQ(**s.Get("small-0"), "s-rewritten");
  for (int i = 1; i < 10; ++i) EXPECT_EQ(**s.Get(absl::StrCat("small-", i)), absl::StrCat("s", i));
  EXPECT_EQ(**s.Get("large-0"), LargeValue(5));
  EXPECT_FALSE(s.Get("large-1")->has_value());
  EXPECT_EQ(**s.Get("large-2"), LargeValue(2));
  EXPECT_EQ(s.Scan("", 100)->size(), 12u);
}

TEST(StoreUpgradeTest, AVersionOneDirectoryIsUpgradedAndReadWhole) {
  const std::string dir = CopyOfFixture();
  const std::string db = absl::StrCat(dir, "/", kDatabaseFileName);
  ASSERT_EQ(Query(db, "PRAGMA user_version"), 1);
  auto s = OpenStore(dir);  // checks every row on the way
  ASSERT_NE(s, nullptr);
  ExpectStateAt16(*s);
  // A large value written now goes to kv_large; the ones from before stay inline.
  ASSERT_TRUE(s->Write([&](WriteTxn* t) -> absl::Status {
                 RETURN_IF_ERROR(t->AppendEntries(MakeEntries(21, 1, 1)));
                 RETURN_IF_ERROR(t->Put("large-3", LargeValue(3), 21));
                 return t->SetApplied(21, s->applied_conf_state());
               }).ok());
  s.reset();
  EXPECT_EQ(Query(db, "PRAGMA user_version"), kSchemaVersion);
  EXPECT_EQ(Query(db, "SELECT count(*) FROM kv_large"), 1);
  s = OpenStore(dir);  // an upgraded file opens as it is
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(**s->Get("large-3"), LargeValue(3));
  EXPECT_EQ(**s->Get("large-2"), LargeValue(2));
}

TEST(StoreUpgradeTest, ASnapshotFromVersionOneIsReadSentAndInstalled) {
  const std::string dir = CopyOfFixture();
  auto s = OpenStore(dir);
  ASSERT_NE(s, nullptr);
  auto snap = s->GetSnapshot();
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ((*snap)->metadata.index, 13u);
  auto descriptor = DecodeDescriptor(**snap);
  ASSERT_TRUE(descriptor.ok()) << descriptor.status();
  // As a backup would be verified.
  const std::string path = s->snapshot_path(descriptor->file_name());
  EXPECT_TRUE(VerifySnapshotCopy(path, *descriptor).ok()) << VerifySnapshotCopy(path, *descriptor);

  // Sent to a new node, which stores it in the split form.
  auto follower = OpenStore(MakeTempDir());
  const absl::Status sent = TransferSnapshot(*s, *follower, **snap, 4096);
  ASSERT_TRUE(sent.ok()) << sent;
  ASSERT_TRUE(follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(**snap); }).ok());

  // And installed from the old file itself, on the node that holds it.
  ASSERT_TRUE(s->Write([&](WriteTxn* t) { return t->InstallSnapshot(**snap); }).ok());
  for (Store* store : {s.get(), follower.get()}) {
    EXPECT_EQ(store->applied_index(), 13u);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(**store->Get(absl::StrCat("small-", i)), absl::StrCat("s", i));
    }
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(**store->Get(absl::StrCat("large-", i)), LargeValue(i));
    }
  }
}

}  // namespace
}  // namespace rb::storage
