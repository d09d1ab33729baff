#include "base/logging.h"

#include "gtest/gtest.h"

namespace rb {
namespace {

TEST(LoggingDeathTest, CheckFailureNamesConditionAndMessage) {
  int next = 3, match = 5;
  EXPECT_DEATH(RB_CHECK(next > match, "next=", next, " match=", match),
               "check failed: next > match: next=3 match=5");
}

TEST(LoggingTest, CheckMessageIsNotEvaluatedWhenConditionHolds) {
  int evaluations = 0;
  auto message = [&] {
    ++evaluations;
    return "x";
  };
  RB_CHECK(true, message());
  EXPECT_EQ(evaluations, 0);
}

TEST(LoggingTest, BelowThresholdIsNotEvaluated) {
  SetMinLogSeverity(LogSeverity::kWarning);
  int evaluations = 0;
  auto value = [&] { return ++evaluations; };
  RB_LOG(INFO) << value();
  EXPECT_EQ(evaluations, 0);
  SetMinLogSeverity(LogSeverity::kInfo);
}

}  // namespace
}  // namespace rb
