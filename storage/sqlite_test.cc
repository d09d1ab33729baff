#include "storage/sqlite.h"

#include <filesystem>

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

}  // namespace
}  // namespace rb::storage
