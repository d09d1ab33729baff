#include "storage/sqlite.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace rb::storage {
namespace {

TEST(SqliteDbTest, QueryTextAnswersTheFirstColumnOfTheFirstRowOrNothing) {
  const std::string path = std::string(testing::TempDir()) + "/query_text.db";
  std::filesystem::remove(path);
  auto db = SqliteDb::Open(path, SqliteOpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE(
      (*db)->Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('first'), ('second')").ok());
  auto first = (*db)->QueryText("SELECT v FROM t ORDER BY v");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, std::optional<std::string>("first"));
  auto none = (*db)->QueryText("SELECT v FROM t WHERE v = 'third'");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, std::nullopt);
  EXPECT_EQ(*(*db)->QueryText("PRAGMA quick_check"), std::optional<std::string>("ok"));
  EXPECT_FALSE((*db)->QueryText("SELECT nothing FROM nowhere").ok());
}

// Run keeps each statement prepared: BEGIN and COMMIT run again and again, in order, and
// say so when out of order.
TEST(SqliteDbTest, RunRunsACachedStatementAgainEachTime) {
  const std::string path = std::string(testing::TempDir()) + "/run.db";
  std::filesystem::remove(path);
  auto db = SqliteDb::Open(path, SqliteOpenOptions{});
  ASSERT_TRUE(db.ok()) << db.status();
  SqliteDb& d = **db;
  ASSERT_TRUE(d.Exec("CREATE TABLE t (v INTEGER)").ok());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(d.Run("BEGIN IMMEDIATE").ok()) << i;
    const absl::Status nested = d.Run("BEGIN IMMEDIATE");
    EXPECT_FALSE(nested.ok());
    EXPECT_NE(nested.message().find("within a transaction"), std::string::npos) << nested;
    ASSERT_TRUE(d.Exec(absl::StrCat("INSERT INTO t VALUES (", i, ")")).ok());
    ASSERT_TRUE(d.Run("COMMIT").ok()) << i;
    EXPECT_FALSE(d.Run("COMMIT").ok()) << "no transaction is open";
    EXPECT_EQ(*d.QueryInt64("SELECT count(*) FROM t"), i);
  }
  // Rolled back: the insert between them is gone.
  ASSERT_TRUE(d.Run("BEGIN IMMEDIATE").ok());
  ASSERT_TRUE(d.Exec("INSERT INTO t VALUES (4)").ok());
  ASSERT_TRUE(d.Run("ROLLBACK").ok());
  EXPECT_EQ(*d.QueryInt64("SELECT count(*) FROM t"), 3);
}

}  // namespace
}  // namespace rb::storage
