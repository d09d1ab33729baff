#include "server/disk_space.h"

#include "gtest/gtest.h"

namespace rb::server {
namespace {

TEST(DiskSpaceTest, BelowTheReserveIsResourceExhaustedAndSaysHowMuch) {
  EXPECT_TRUE(CheckFreeSpace(64 << 20, 64 << 20).ok());
  const absl::Status low = CheckFreeSpace(12 << 20, 64 << 20);
  EXPECT_EQ(low.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(low.message().find("12.0 MiB free"), std::string::npos) << low;
  EXPECT_NE(low.message().find("64.0 MiB kept"), std::string::npos) << low;
  EXPECT_TRUE(CheckFreeSpace(5, 0).ok());  // no reserve
}

TEST(DiskSpaceTest, FreeBytesOfARealDirectoryAndAMissingOne) {
  auto free = FreeBytes(".");
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_GT(*free, 0u);
  auto missing = FreeBytes("/no/such/dir/anywhere");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/no/such/dir/anywhere"), std::string::npos);
}

}  // namespace
}  // namespace rb::server
