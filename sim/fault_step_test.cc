#include "sim/fault_step.h"

#include "gtest/gtest.h"

namespace rb::sim {
namespace {

TEST(FaultStepTest, TextRoundTrips) {
  FaultStep step;
  step.chain = FaultStep::Chain::kDiskFull;
  step.at_us = 1234567;
  step.dropped = true;
  step.decisions = {{1, 1, FaultStream::kDiskFull}, {812345, 2, FaultStream::kMain}};
  step.stream_draws[0] = 9;
  step.stream_draws[3] = 3;
  step.description = "not written";
  const std::string text = FaultStepText(step);
  EXPECT_EQ(text, "disk_full at=1234567 dropped draws=9,0,0,3 decisions=1:1:3,812345:2:0");
  auto parsed = ParseFaultStep(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(FaultStepText(*parsed), text);
  EXPECT_TRUE(parsed->description.empty());
}

TEST(FaultStepTest, BadTextIsRefusedSayingWhat) {
  for (const char* bad :
       {"", "quake at=1 draws=0,0,0,0", "nemesis draws=0,0,0,0", "nemesis at=1 draws=0,0,0",
        "nemesis at=1 draws=0,0,0,0 decisions=1:1", "nemesis at=1 draws=0,0,0,0 decisions=1:1:9",
        "nemesis at=x draws=0,0,0,0", "nemesis at=1 draws=0,0,0,0 colour=red"}) {
    auto parsed = ParseFaultStep(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find("fault step"), std::string::npos);
  }
}

}  // namespace
}  // namespace rb::sim
