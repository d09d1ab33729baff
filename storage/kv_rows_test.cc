// Large values in their own table (kv_rows.h), through the store and its snapshots.
#include "storage/kv_rows.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "gtest/gtest.h"
#include "storage/snapshot.h"
#include "storage/test_util.h"

namespace rb::storage {
namespace {

std::string Value(char c, size_t bytes) { return std::string(bytes, c); }

// Appends log entry `index` and applies it as one put (or delete, for nullopt).
// REQUIRES: the store's log ends at index - 1.
absl::Status Apply(Store* s, uint64_t index, absl::string_view key,
                   std::optional<std::string> value) {
  return s->Write([&](WriteTxn* t) -> absl::Status {
    RETURN_IF_ERROR(t->AppendEntries(MakeEntries(index, 1, 1)));
    if (value) {
      RETURN_IF_ERROR(t->Put(key, *value, index));
    } else {
      RETURN_IF_ERROR(t->Delete(key).status());
    }
    raft::ConfState cs;
    cs.voters = {1};
    return t->SetApplied(index, cs);
  });
}

// A query's one number, on a store's file while no store has it open.
int64_t Query(const std::string& dir, const std::string& sql) {
  auto db = SqliteDb::Open(dir + "/" + kDatabaseFileName, SqliteOpenOptions{});
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return -1;
  auto n = (*db)->QueryInt64(sql);
  EXPECT_TRUE(n.ok()) << n.status();
  return n.value_or(-1);
}

int64_t LargeRows(const std::string& dir) { return Query(dir, "SELECT count(*) FROM kv_large"); }

void RawSql(const std::string& dir, const std::string& sql) {
  auto db = SqliteDb::Open(dir + "/" + kDatabaseFileName, SqliteOpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Exec(sql).ok());
}

TEST(KvRowsTest, ValuesOverTheInlineLimitLiveInTheirOwnTable) {
  const std::string dir = MakeTempDir();
  const std::string at_limit = Value('a', kMaxInlineValueBytes);
  const std::string over = Value('b', kMaxInlineValueBytes + 1);
  const std::string big = Value('c', 64 << 10);
  auto s = OpenStore(dir);
  ASSERT_TRUE(Apply(s.get(), 1, "k1", at_limit).ok());
  ASSERT_TRUE(Apply(s.get(), 2, "k2", over).ok());
  ASSERT_TRUE(Apply(s.get(), 3, "k3", big).ok());
  // Grown and shrunk again in the session that wrote the first large value.
  ASSERT_TRUE(Apply(s.get(), 4, "k5", over).ok());
  ASSERT_TRUE(Apply(s.get(), 5, "k5", "tiny").ok());
  EXPECT_EQ(**s->Get("k5"), "tiny");
  EXPECT_EQ(**s->Get("k1"), at_limit);
  EXPECT_EQ(**s->Get("k2"), over);
  EXPECT_EQ(**s->Get("k3"), big);
  auto rows = s->Scan("k", 10);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[1].value, over);
  EXPECT_EQ((*rows)[2].value, big);
  EXPECT_EQ((*rows)[2].mod_index, 3u);
  s.reset();
  EXPECT_EQ(LargeRows(dir), 2);
  EXPECT_EQ(Query(dir, "SELECT count(*) FROM kv WHERE large"), 2);
  EXPECT_EQ(Query(dir, "SELECT max(length(value)) FROM kv"), int64_t{kMaxInlineValueBytes});

  // A value that shrinks leaves kv_large; one that grows enters it; a delete takes it out.
  s = OpenStore(dir);
  ASSERT_TRUE(Apply(s.get(), 6, "k2", "small now").ok());
  ASSERT_TRUE(Apply(s.get(), 7, "k1", big).ok());
  ASSERT_TRUE(Apply(s.get(), 8, "k3", std::nullopt).ok());
  ASSERT_TRUE(Apply(s.get(), 9, "k4", over).ok());
  ASSERT_TRUE(Apply(s.get(), 10, "k4", big).ok());  // large to large
  const std::string big_too = Value('d', big.size());
  ASSERT_TRUE(Apply(s.get(), 11, "k4", big_too).ok());  // the same size, overwritten in place
  EXPECT_EQ(**s->Get("k1"), big);
  EXPECT_EQ(**s->Get("k2"), "small now");
  EXPECT_FALSE(s->Get("k3")->has_value());
  EXPECT_EQ(**s->Get("k4"), big_too);
  s.reset();
  EXPECT_EQ(LargeRows(dir), 2);  // k1 and k4

  // Everything again after a reopen that checks every row.
  s = OpenStore(dir);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(**s->Get("k1"), big);
  EXPECT_EQ(**s->Get("k4"), big_too);
  EXPECT_EQ(s->Scan("", 10)->size(), 4u);
}

TEST(KvRowsTest, ADamagedOrLostLargeValueIsDataLoss) {
  for (const char* damage : {"UPDATE kv_large SET value = x'00'", "DELETE FROM kv_large"}) {
    SCOPED_TRACE(damage);
    const std::string dir = MakeTempDir();
    auto s = OpenStore(dir);
    ASSERT_TRUE(Apply(s.get(), 1, "k", Value('v', 4096)).ok());
    s.reset();
    RawSql(dir, damage);
    StoreOptions options;
    options.dir = dir;
    auto opened = Store::Open(options);
    EXPECT_TRUE(absl::IsDataLoss(opened.status())) << opened.status();
    options.verify_on_open = false;
    opened = Store::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_TRUE(absl::IsDataLoss((*opened)->Get("k").status()));
    EXPECT_TRUE(absl::IsDataLoss((*opened)->Scan("", 10).status()));
  }
}

TEST(KvRowsTest, ALargeValueNoKeyPointsToFailsOpen) {
  const std::string dir = MakeTempDir();
  auto s = OpenStore(dir);
  ASSERT_TRUE(Apply(s.get(), 1, "k", Value('v', 4096)).ok());
  s.reset();
  RawSql(dir, "DELETE FROM kv WHERE key = x'6b'");  // 'k'; its large row stays behind
  StoreOptions options;
  options.dir = dir;
  auto opened = Store::Open(options);
  EXPECT_TRUE(absl::IsDataLoss(opened.status())) << opened.status();
  EXPECT_NE(opened.status().message().find("kv_large"), std::string::npos) << opened.status();
}

TEST(KvRowsTest, LargeValuesTravelInSnapshots) {
  auto leader = OpenStore(MakeTempDir());
  for (uint64_t i = 1; i <= 20; ++i) {
    ASSERT_TRUE(
        Apply(leader.get(), i, absl::StrCat("k", i), Value('a' + i, i % 2 ? 100 : 5000 + i)).ok());
  }
  auto snap = TakeSnapshot(leader.get());
  ASSERT_NE(snap, nullptr);
  const std::string follower_dir = MakeTempDir();
  auto follower = OpenStore(follower_dir);
  ASSERT_TRUE(Apply(follower.get(), 1, "k2", "stale").ok());
  ASSERT_TRUE(TransferSnapshot(*leader, *follower, *snap, 8192).ok());
  ASSERT_TRUE(follower->Write([&](WriteTxn* t) { return t->InstallSnapshot(*snap); }).ok());
  for (uint64_t i = 1; i <= 20; ++i) {
    EXPECT_EQ(**follower->Get(absl::StrCat("k", i)), Value('a' + i, i % 2 ? 100 : 5000 + i));
  }
  follower.reset();
  EXPECT_EQ(LargeRows(follower_dir), 10);
}

}  // namespace
}  // namespace rb::storage
