#include "raft/inflights.h"

#include "gtest/gtest.h"

namespace rb::raft {
namespace {

TEST(InflightsTest, FullByCountThenFreedInOrder) {
  Inflights in(3, 0);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(5, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_EQ(in.Bytes(), 10u);
  EXPECT_FALSE(in.Full());
  in.Add(6, 1);  // wraps around the ring
  in.Add(7, 1);
  EXPECT_TRUE(in.Full());
  in.FreeLE(100);
  EXPECT_EQ(in.Count(), 0u);
  EXPECT_EQ(in.Bytes(), 0u);
}

TEST(InflightsTest, FullByBytes) {
  Inflights in(100, 25);
  in.Add(1, 10);
  in.Add(2, 10);
  EXPECT_FALSE(in.Full());
  in.Add(3, 10);
  EXPECT_TRUE(in.Full());
  in.FreeLE(1);
  EXPECT_FALSE(in.Full());
}

TEST(InflightsTest, CopyIsIndependent) {
  Inflights a(4, 0);
  a.Add(1, 1);
  Inflights b = a;
  b.FreeLE(1);
  EXPECT_EQ(a.Count(), 1u);
  EXPECT_EQ(b.Count(), 0u);
}

TEST(InflightsDeathTest, AddingToFullWindowCrashes) {
  Inflights in(1, 0);
  in.Add(1, 1);
  EXPECT_DEATH(in.Add(2, 1), "full inflights");
}

}  // namespace
}  // namespace rb::raft
