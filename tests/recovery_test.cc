// Disaster recovery on real processes: a 3-node cluster loses two nodes for good; the
// survivor is forced into a new one-voter cluster (FORCE_NEW_CLUSTER), two fresh nodes
// join it, and every write acknowledged before the loss is readable. An old member that
// comes back with its data is refused by the new cluster.
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

TEST(RecoveryTest, ForcedSurvivorKeepsEveryAcknowledgedWriteAndRefusesTheOldCluster) {
  LocalCluster c(3);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  client::Client before(client::ClientOptions{c.endpoints()});
  constexpr int kWrites = 40;
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_TRUE(before.Put(absl::StrCat("k", i), absl::StrCat("v", i)).ok()) << i;
  }
  // The leader and one follower are lost for good; the other follower survives. It is
  // the one an operator would choose, holding every write (docs/operations.md): a write
  // is acknowledged once on a majority, which need not include this follower.
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok()) << c.Logs();
  const int survivor = *leader == 3 ? 2 : 3;
  for (int i = 1; i <= 3; ++i) {
    if (i == survivor) continue;
    c.Signal(i, SIGKILL);
    ASSERT_TRUE(c.WaitExit(i, absl::Seconds(5)).has_value());
  }
  c.Signal(survivor, SIGKILL);
  ASSERT_TRUE(c.WaitExit(survivor, absl::Seconds(5)).has_value());

  ASSERT_TRUE(c.Start(survivor, {{"FORCE_NEW_CLUSTER", "true"}}).ok());
  ASSERT_TRUE(c.AwaitAgreement({survivor}, 1, kFormTimeout).ok()) << c.Log(survivor);
  EXPECT_NE(c.Log(survivor).find("FORCE_NEW_CLUSTER: new cluster"), std::string::npos);

  std::vector<int> members = {survivor};
  for (int k = 0; k < 2; ++k) {
    const int fresh = c.AddSpare();
    ASSERT_TRUE(c.Start(fresh, {{"JOIN", c.endpoint(survivor)}}).ok());
    members.push_back(fresh);
  }
  ASSERT_TRUE(c.AwaitAgreement(members, 3, kFormTimeout).ok()) << c.Logs();

  client::Client after(client::ClientOptions{{c.endpoint(members[1]), c.endpoint(members[2])}});
  for (int i = 0; i < kWrites; ++i) {
    auto got = after.Get(absl::StrCat("k", i));
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status();
    EXPECT_EQ(got->value, absl::StrCat("v", i));
    auto local = after.Get(absl::StrCat("k", i), v1::STALE, c.endpoint(members[2]));
    ASSERT_TRUE(local.ok()) << local.status();
  }
  ASSERT_TRUE(after.Put("after", "recovery").ok());

  // An old member comes back with its data: the new cluster refuses it and goes on.
  const int old = *leader;
  ASSERT_TRUE(c.Start(old).ok());
  EXPECT_TRUE(c.AwaitLog(survivor, "refusing messages from " + c.name(old), absl::Seconds(10)))
      << c.Log(survivor);
  ASSERT_TRUE(after.Put("still", "serving").ok());
  auto list = after.MemberList();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->members_size(), 3);
  for (const v1::Member& m : list->members()) EXPECT_NE(m.name(), c.name(old));
}

}  // namespace
}  // namespace rb::tests
