// Changing the membership of a running cluster of real processes: a node joins with JOIN
// and the leader is removed under a steady write load; a node down while it was removed
// stops once it is back; a RAFT_PEERS peer removed before it came is not added back; seed
// peers left when leadership moves are added through the new leader; the CLI's member,
// transfer-leader and snapshot commands; a joining node killed at each step and started
// again.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "tests/local_cluster.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;

// Waits until node i's own configuration (its Status) names it as a member.
bool AwaitSelfMember(const LocalCluster& c, int i, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto status = c.Status(i);
    if (status.ok()) {
      for (const v1::Member& m : status->members()) {
        if (m.raft_id() == status->raft_id()) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

RunResult Cli(const LocalCluster& c, std::vector<std::string> args) {
  std::string endpoints;
  for (const std::string& e : c.endpoints())
    absl::StrAppend(&endpoints, endpoints.empty() ? "" : ",", e);
  args.insert(args.begin(), "--endpoints=" + endpoints);
  return RunToCompletion(CliBinary(), args, {{"PATH", "/usr/bin:/bin"}}, c.root(),
                         absl::Seconds(30));
}

int CountMembersNamed(const v1::MemberListResponse& list, const std::string& name) {
  int n = 0;
  for (const v1::Member& m : list.members()) n += m.name() == name ? 1 : 0;
  return n;
}

// Writes keys k0, k1, ... one at a time through the client library until stopped,
// remembering which were acknowledged and how many failed (after the library's retries).
class Writer {
 public:
  explicit Writer(std::vector<std::string> endpoints)
      : thread_([this, endpoints = std::move(endpoints)] { Run(endpoints); }) {}
  ~Writer() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Waits until at least n more writes were acknowledged (the load is really running).
  bool AwaitMore(int n, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    const size_t want = acked_ + static_cast<size_t>(n);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return acked_ >= want; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  }
  size_t acked() {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  int failed() {
    absl::MutexLock lock(&mu_);
    return failed_;
  }
  std::string first_error() {
    absl::MutexLock lock(&mu_);
    return first_error_;
  }

 private:
  void Run(const std::vector<std::string>& endpoints) {
    client::Client client(client::ClientOptions{endpoints});
    for (int i = 0; !stop_.load(); ++i) {
      auto put = client.Put(absl::StrCat("k", i), absl::StrCat("v", i));
      absl::MutexLock lock(&mu_);
      if (!put.ok()) {
        ++failed_;
        first_error_ = put.status().ToString();
        return;  // keys k0 .. k(acked_-1) are the acknowledged ones
      }
      ++acked_;
    }
  }

  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  size_t acked_ ABSL_GUARDED_BY(mu_) = 0;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_error_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

TEST(MembershipTest, NodeJoinsAndLeaderIsRemovedUnderLoadWithoutFailedWrites) {
  LocalCluster c(3);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  Writer writer({c.endpoint(1), c.endpoint(2), c.endpoint(3)});
  ASSERT_TRUE(writer.AwaitMore(20, absl::Seconds(20))) << writer.first_error();

  const int joiner = c.AddSpare();
  ASSERT_TRUE(c.Start(joiner, {{"JOIN", c.endpoint(*leader == 2 ? 3 : 2)}}).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout).ok()) << c.Logs();
  ASSERT_TRUE(writer.AwaitMore(20, absl::Seconds(20))) << writer.first_error();

  // Removing the leader: it hands leadership over, then is removed, then stops.
  client::Client admin(client::ClientOptions{c.endpoints()});
  auto removed = admin.MemberRemove(c.name(*leader));
  ASSERT_TRUE(removed.ok()) << removed.status() << c.Logs();
  EXPECT_GT(removed->index(), 0u);
  EXPECT_EQ(removed->members_size(), 3);
  for (const v1::Member& m : removed->members()) EXPECT_NE(m.name(), c.name(*leader));
  EXPECT_EQ(c.WaitExit(*leader, absl::Seconds(10)), 0) << c.Log(*leader);
  EXPECT_NE(c.Log(*leader).find("handing leadership to"), std::string::npos);
  EXPECT_NE(c.Log(*leader).find("was removed from the cluster"), std::string::npos);
  std::vector<int> rest;
  for (int i = 1; i <= 4; ++i) {
    if (i != *leader) rest.push_back(i);
  }
  ASSERT_TRUE(c.AwaitAgreement(rest, 3, kFormTimeout).ok()) << c.Logs();
  ASSERT_TRUE(writer.AwaitMore(20, absl::Seconds(20))) << writer.first_error();
  writer.Stop();
  EXPECT_EQ(writer.failed(), 0) << writer.first_error();

  // Every acknowledged write is on the node that joined.
  ASSERT_TRUE(c.AwaitAgreement(rest, 3, kFormTimeout).ok()) << c.Logs();
  for (size_t i = 0; i < writer.acked(); ++i) {
    auto got = admin.Get(absl::StrCat("k", i), v1::STALE, c.endpoint(joiner));
    ASSERT_TRUE(got.ok()) << "k" << i << ": " << got.status();
    EXPECT_EQ(got->value, absl::StrCat("v", i));
  }

  // The removed node will not start over its old data, and says why.
  RunResult again =
      RunToCompletion(ServerBinary(), {}, c.Env(*leader), c.root(), absl::Seconds(10));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("was removed from cluster"), std::string::npos) << again.output;

  // Asked to, it wipes that data and joins again, as a new member.
  ASSERT_TRUE(c.Start(*leader, {{"JOIN", c.endpoint(joiner)},
                                {"WIPE_REMOVED_DATA", "true"},
                                {"BOOTSTRAP", "false"},
                                {"RAFT_PEERS", ""}})
                  .ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout).ok()) << c.Logs();
  EXPECT_NE(c.Log(*leader).find("deleting its old data"), std::string::npos);
  auto last = admin.Get(absl::StrCat("k", writer.acked() - 1), v1::STALE, c.endpoint(*leader));
  ASSERT_TRUE(last.ok()) << last.status();
}

// A node down while it was removed lags behind its own removal: the leader stopped
// replicating to it once the removal was applied, so it never gets that entry. Started
// again, it campaigns; the members tell it the index of its removal, and an election
// timeout later, still without it, it stops by itself and records the removal, as if it
// had applied it (found by the fault test: a
// node killed, restarted and removed while it was still catching up ran on for good).
TEST(MembershipTest, ANodeDownWhileItWasRemovedStopsOnceItIsBack) {
  LocalCluster c(3);
  c.StartAll();
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout).ok()) << c.Logs();
  // A node that joined: not one of RAFT_PEERS, which the leader would add back.
  const int target = c.AddSpare();
  const std::map<std::string, std::string> join = {{"JOIN", c.endpoint(1)}};
  ASSERT_TRUE(c.Start(target, join).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, target}, 4, kFormTimeout).ok()) << c.Logs();
  std::vector<std::string> others;
  for (int i = 1; i <= 3; ++i) others.push_back(c.endpoint(i));
  c.Signal(target, SIGKILL);
  ASSERT_TRUE(c.WaitExit(target, absl::Seconds(10)).has_value());
  client::Client admin(client::ClientOptions{others});
  auto removed = admin.MemberRemove(c.name(target));
  ASSERT_TRUE(removed.ok()) << removed.status() << c.Logs();
  // Later writes move the members' logs past the removal, as under any load.
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(admin.Put(absl::StrCat("after", i), "v").ok());

  ASSERT_TRUE(c.Start(target, join).ok());
  EXPECT_EQ(c.WaitExit(target, absl::Seconds(30)), 0) << c.Log(target);
  const std::string log = c.Log(target);
  EXPECT_NE(log.find(absl::StrCat("says this node was removed from the cluster at log index ",
                                  removed->index())),
            std::string::npos)
      << log;
  // Believed only once it still held an election timeout later (node::Node::HearRemoval).
  EXPECT_NE(log.find(absl::StrCat("still missing its removal at log index ", removed->index(),
                                  " an election timeout after being told of it")),
            std::string::npos)
      << log;
  // Recorded: it will not start over that data again.
  RunResult again = RunToCompletion(ServerBinary(), {}, c.Env(target), c.root(), absl::Seconds(10));
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("was removed from cluster"), std::string::npos) << again.output;
}

// A machine named in RAFT_PEERS never comes, and the operator removes it while the
// bootstrap node is still adding the seed peers. The bootstrap node must not add it back:
// seeding then ends with the peers that came, and the cluster runs without the removed one.
TEST(MembershipTest, ASeedPeerRemovedBeforeSeedingEndsIsNotAddedAgain) {
  LocalCluster c(3);
  ASSERT_TRUE(c.Start(1).ok());
  ASSERT_TRUE(c.Start(2).ok());  // node 3 never starts
  ASSERT_TRUE(c.AwaitAgreement({1, 2}, 2, kFormTimeout).ok()) << c.Logs();
  client::Client admin(client::ClientOptions{{c.endpoint(1), c.endpoint(2)}});
  // The bootstrap node adds node 3 as a learner once node 2 is a voter.
  const absl::Time deadline = absl::Now() + kFormTimeout;
  bool learner = false;
  while (!learner && absl::Now() < deadline) {
    auto list = admin.MemberList();
    if (list.ok()) {
      for (const v1::Member& m : list->members()) learner |= m.name() == c.name(3) && !m.voter();
    }
    if (!learner) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(learner) << c.Logs();
  auto removed = admin.MemberRemove(c.name(3));
  ASSERT_TRUE(removed.ok()) << removed.status() << c.Logs();

  // Seeding ends: every seed peer left is a voter (node 3 added again would keep it open).
  ASSERT_TRUE(c.AwaitLog(1, "every peer in RAFT_PEERS is a voter", kFormTimeout)) << c.Logs();
  const std::string told = absl::StrCat("not adding ", c.name(3), " from RAFT_PEERS: it was ",
                                        "removed from the cluster at log index ", removed->index());
  EXPECT_NE(c.Log(1).find(told), std::string::npos) << c.Log(1);
  ASSERT_TRUE(c.AwaitAgreement({1, 2}, 2, kFormTimeout).ok()) << c.Logs();
  auto list = admin.MemberList();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(CountMembersNamed(*list, c.name(3)), 0);
  EXPECT_EQ(list->members_size(), 2);
  ASSERT_TRUE(admin.Put("after", "v").ok());

  // What a bootstrap node that no longer leads asks for: an addition that a removal vetoes.
  auto seed = admin.MemberAdd(c.name(3), c.endpoint(3), /*unless_removed=*/true);
  ASSERT_TRUE(seed.ok()) << seed.status();
  EXPECT_EQ(seed->removed_at_index(), removed->index());
  EXPECT_EQ(seed->index(), 0u);
  EXPECT_EQ(seed->members_size(), 2);
}

// Leadership moves away from the bootstrap node after one RAFT_PEERS peer became a voter
// and before the next was added (by hand here; a restart or a stalled disk could do it).
// Only the bootstrap node knows RAFT_PEERS: it asks the new leader to add the rest, and
// seeding ends.
TEST(MembershipTest, SeedPeersLeftWhenLeadershipMovesAreAddedByTheNewLeader) {
  LocalCluster c(3);
  // The bootstrap node checks the membership every 4 s, not 300 ms: the test moves
  // leadership in the window between two of its changes.
  ASSERT_TRUE(c.Start(1, {{"MEMBERSHIP_CHECK_MS", "4000"}}).ok());
  ASSERT_TRUE(c.Start(2).ok());
  ASSERT_TRUE(c.Start(3).ok());
  // Node 1's own view, asked directly (the others know no leader until they are added).
  auto node1_has = [&](const std::string& name, bool want_voter) {
    auto status = c.Status(1);
    if (!status.ok()) return false;
    for (const v1::Member& m : status->members()) {
      if (m.name() == name && (!want_voter || m.voter())) return true;
    }
    return false;
  };
  const absl::Time deadline = absl::Now() + kFormTimeout;
  while (!node1_has(c.name(2), false) && absl::Now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(node1_has(c.name(2), false)) << c.Logs();
  // Node 2 was just added as a learner, and the keeper's next change is 4 s away. Promote
  // node 2 by hand as soon as it has caught up (the keeper would at its next check, unless
  // the learner's last answer was a moment too old: then it adds node 3 first), and hand
  // it leadership.
  client::Client admin(client::ClientOptions{{c.endpoint(1), c.endpoint(2)}});
  absl::StatusOr<v1::MemberChangeResponse> promoted = absl::UnknownError("not tried");
  while (absl::Now() < deadline) {
    promoted = admin.MemberPromote(c.name(2));
    if (promoted.ok() || !absl::IsFailedPrecondition(promoted.status())) break;  // caught up?
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(promoted.ok()) << promoted.status() << c.Logs();
  auto moved = admin.TransferLeader(c.name(2));
  ASSERT_TRUE(moved.ok()) << moved.status() << c.Logs();
  // Otherwise the window was missed and this test would prove nothing.
  ASSERT_FALSE(node1_has(c.name(3), false)) << c.Logs();

  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  EXPECT_EQ(*leader, 2);
  const std::string asked =
      absl::StrCat("asking the leader, ", c.name(2), ", to add ", c.name(3), " (");
  EXPECT_NE(c.Log(1).find(asked), std::string::npos) << c.Log(1);
  // Not by the bootstrap node itself: it no longer led.
  const std::string by_itself = absl::StrCat("adding ", c.name(3), " (");
  EXPECT_EQ(c.Log(1).find(by_itself), std::string::npos) << c.Log(1);
  // Seeding ends on the bootstrap node, although it follows.
  EXPECT_TRUE(c.AwaitLog(1, "every peer in RAFT_PEERS is a voter", kFormTimeout)) << c.Log(1);
  ASSERT_TRUE(admin.Put("after", "v").ok());
}

TEST(MembershipTest, CliAddsPromotesTransfersAndSnapshots) {
  LocalCluster c(3);
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  const int spare = c.AddSpare();

  // Added while it is not running: a learner, which is not promoted before it catches up.
  RunResult add = Cli(c, {"member", "add", c.name(spare), c.endpoint(spare)});
  EXPECT_EQ(add.exit_code, 0) << add.output;
  EXPECT_NE(add.output.find("committed and applied"), std::string::npos) << add.output;
  EXPECT_NE(add.output.find("learner"), std::string::npos) << add.output;
  RunResult early = Cli(c, {"member", "promote", c.name(spare)});
  EXPECT_EQ(early.exit_code, 3) << early.output;
  EXPECT_NE(early.output.find("has not caught up"), std::string::npos) << early.output;
  RunResult twice = Cli(c, {"member", "add", c.name(spare), c.endpoint(spare)});
  EXPECT_EQ(twice.exit_code, 0) << twice.output;
  EXPECT_NE(twice.output.find("nothing to change"), std::string::npos) << twice.output;
  RunResult moved = Cli(c, {"member", "add", c.name(spare), "localhost:1"});
  EXPECT_EQ(moved.exit_code, 3) << moved.output;
  EXPECT_NE(moved.output.find("is a member already"), std::string::npos) << moved.output;

  // Once it runs (no JOIN needed: it is a member), it catches up and is promoted.
  ASSERT_TRUE(c.Start(spare).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout).ok()) << c.Logs();
  RunResult promoted = Cli(c, {"member", "promote", c.name(spare)});
  EXPECT_EQ(promoted.exit_code, 0) << promoted.output;
  EXPECT_NE(promoted.output.find("already a voter"), std::string::npos) << promoted.output;

  // Leadership moves to the node named.
  RunResult transfer = Cli(c, {"transfer-leader", c.name(spare)});
  EXPECT_EQ(transfer.exit_code, 0) << transfer.output;
  auto now = c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(*now, spare);
  RunResult learner = Cli(c, {"transfer-leader", "nobody"});
  EXPECT_EQ(learner.exit_code, 3) << learner.output;

  // A snapshot on demand, below the size threshold that would take one by itself.
  const std::string snapshots = c.data_dir(2) + "/snapshots";
  auto files = [&] {
    if (!std::filesystem::exists(snapshots)) return 0;
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(snapshots)) n += e.is_regular_file();
    return n;
  };
  EXPECT_EQ(files(), 0);
  RunResult snap = Cli(c, {"snapshot", "--endpoint=" + c.endpoint(2)});
  EXPECT_EQ(snap.exit_code, 0) << snap.output;
  EXPECT_NE(snap.output.find("snapshot taken"), std::string::npos) << snap.output;
  EXPECT_GT(files(), 0);

  // A node that asks to join under a member's name at another address is refused, and
  // exits non-zero (a supervisor must not restart it in a loop).
  const int imposter_port = FreePort();
  RunResult imposter =
      RunToCompletion(ServerBinary(), {},
                      {{"NODE_ID", c.name(2)},
                       {"RAFT_ADDRESS", "localhost:" + std::to_string(imposter_port)},
                       {"PORT", std::to_string(imposter_port)},
                       {"LISTEN_HOST", "localhost"},
                       {"BADGER_DB_PATH", "./data/imposter"},
                       {"JOIN", c.endpoint(1)},
                       {"PATH", "/usr/bin:/bin"}},
                      c.root(), absl::Seconds(20));
  EXPECT_EQ(imposter.exit_code, 2) << imposter.output;
  EXPECT_NE(imposter.output.find("refused to add this node"), std::string::npos) << imposter.output;

  RunResult compact = Cli(c, {"compact", "--endpoint=" + c.endpoint(2)});
  EXPECT_EQ(compact.exit_code, 0) << compact.output;
  EXPECT_NE(compact.output.find("WAL checkpointed"), std::string::npos) << compact.output;
  EXPECT_NE(compact.output.find(", 0 after"), std::string::npos) << compact.output;

  RunResult list = Cli(c, {"member", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.output;
  for (int i = 1; i <= 4; ++i) EXPECT_NE(list.output.find(c.name(i)), std::string::npos);
  EXPECT_NE(list.output.find("replicate"), std::string::npos) << list.output;
}

// A node that joins is killed (SIGKILL) while it asks, and again once it is a learner;
// started again with the same command each time, it ends up one voter, added once.
TEST(MembershipTest, JoinRepeatedAfterCrashesAddsTheNodeOnce) {
  LocalCluster c(3, {{"SNAPSHOT_THRESHOLD", "20"}});
  c.StartAll();
  auto leader = c.AwaitAgreement({1, 2, 3}, 3, kFormTimeout);
  ASSERT_TRUE(leader.ok()) << leader.status() << c.Logs();
  client::Client client(client::ClientOptions{c.endpoints()});
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(client.Put(absl::StrCat("k", i), "v").ok()) << i;

  const int joiner = c.AddSpare();
  const std::map<std::string, std::string> join = {{"JOIN", c.endpoint(1)}};
  ASSERT_TRUE(c.Start(joiner, join).ok());
  ASSERT_TRUE(c.AwaitLog(joiner, "asking", absl::Seconds(10))) << c.Log(joiner);
  c.Signal(joiner, SIGKILL);
  ASSERT_TRUE(c.WaitExit(joiner, absl::Seconds(5)).has_value());

  ASSERT_TRUE(c.Start(joiner, join).ok());
  // It has applied its own addition: a learner, perhaps a voter already. Asked, not read
  // from its log: a node killed between applying an entry and logging it never logs it.
  ASSERT_TRUE(AwaitSelfMember(c, joiner, absl::Seconds(20))) << c.Logs() << c.Log(joiner);
  c.Signal(joiner, SIGKILL);
  ASSERT_TRUE(c.WaitExit(joiner, absl::Seconds(5)).has_value());

  ASSERT_TRUE(c.Start(joiner, join).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout).ok()) << c.Logs();
  auto list = client.MemberList();
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->members_size(), 4);
  EXPECT_EQ(CountMembersNamed(*list, c.name(joiner)), 1);
  EXPECT_NE(c.Log(joiner).find("received snapshot"), std::string::npos) << c.Log(joiner);
  auto got = client.Get("k59", v1::STALE, c.endpoint(joiner));
  ASSERT_TRUE(got.ok()) << got.status();

  // A member restarted after the join knows where the new node is (RAFT_PEERS does not
  // name it: the replicated member directory does).
  const int other = *leader == 2 ? 3 : 2;
  c.Signal(other, SIGTERM);
  ASSERT_EQ(c.WaitExit(other, absl::Seconds(10)), 0);
  ASSERT_TRUE(c.Start(other).ok());
  ASSERT_TRUE(c.AwaitAgreement({1, 2, 3, 4}, 4, kFormTimeout).ok()) << c.Logs();
  auto status = c.Status(other);
  ASSERT_TRUE(status.ok()) << status.status();
  bool found = false;
  for (const v1::Member& m : status->members()) {
    found = found || (m.name() == c.name(joiner) && m.address() == c.endpoint(joiner));
  }
  EXPECT_TRUE(found) << status->DebugString();
}

}  // namespace
}  // namespace rb::tests
