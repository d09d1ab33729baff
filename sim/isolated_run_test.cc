#include "sim/isolated_run.h"

#include <cstdlib>

#include "base/logging.h"
#include "gtest/gtest.h"

namespace rb::sim {
namespace {

TEST(IsolatedRunTest, ReturnsTheChildsResult) {
  auto r = RunIsolated([] { return std::string("result\0with a zero byte", 23); });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, std::string("result\0with a zero byte", 23));
}

TEST(IsolatedRunTest, AFailedCheckInTheChildIsAnErrorHere) {
  auto r = RunIsolated([]() -> std::string {
    RB_CHECK(false, "deliberately broken");
    return "unreachable";
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(r.status().message().find("signal 6"), std::string::npos) << r.status();
}

TEST(IsolatedRunTest, AnExitWithoutResultIsAnError) {
  auto r = RunIsolated([]() -> std::string { std::exit(7); });
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("status 7"), std::string::npos) << r.status();
  // And the caller goes on.
  auto again = RunIsolated([] { return std::string("next"); });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, "next");
}

}  // namespace
}  // namespace rb::sim
