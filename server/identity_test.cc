#include "server/identity.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace rb::server {
namespace {

std::string TempDir(const std::string& name) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

TEST(IdentityTest, RoundTripsEveryField) {
  const std::string dir = TempDir("roundtrip");
  DataDirIdentity id{"replica4", RaftIdForName("replica4"), 42};
  id.peers_added = true;
  id.removed_at_index = 17;
  ASSERT_TRUE(WriteIdentity(dir, id).ok());
  auto back = ReadIdentity(dir);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->name, "replica4");
  EXPECT_EQ(back->cluster_id, 42u);
  EXPECT_TRUE(back->peers_added);
  EXPECT_EQ(back->removed_at_index, 17u);
}

TEST(IdentityTest, FreshDamagedAndForeignDirectories) {
  EXPECT_TRUE(absl::IsNotFound(ReadIdentity(TempDir("missing")).status()));
  const std::string foreign = TempDir("foreign");
  std::filesystem::create_directories(foreign);
  std::ofstream(foreign + "/other.db") << "x";
  EXPECT_TRUE(absl::IsFailedPrecondition(ReadIdentity(foreign).status()));
  const std::string damaged = TempDir("damaged");
  std::filesystem::create_directories(damaged);
  std::ofstream(damaged + "/" + kIdentityFileName) << "name=replica1\nraft_id=5\n";
  EXPECT_TRUE(absl::IsDataLoss(ReadIdentity(damaged).status()));
}

}  // namespace
}  // namespace rb::server
