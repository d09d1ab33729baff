// The real binary under faults, checked the way the simulator checks its clusters: a 3-
// and a 5-node cluster of raftbadger processes, concurrent clients doing put, get
// (linearizable and lease) and compare-and-swap on a few keys through the client library,
// and a seeded schedule of kill -9 (the leader half the time), SIGSTOP pauses long enough
// to lose leadership, leader transfers, removal of a member (the leader half the time)
// that then joins again with its data wiped, and network partitions: each node in a network
// namespace of its own (netlab.h), cut from one peer both ways, from one peer one way, or
// from all of them (the leader half the time). One node runs on a skewed clock (Debian's
// libfaketime: its clocks up to 8% fast or slow, inside the 10% drift that lease reads
// allow for). Every call and return is recorded in the simulator's history format and
// checked with its linearizability checker (a call that failed may or may not have taken
// effect; an inconclusive search fails the test). Writes of unique keys that were
// acknowledged must all be readable at the end, and once the faults stop every node must
// name the same leader within kRecoveryBound (15 s), and a write be served within 5 s
// more.
//
// Short by default (part of `bazel test //...`); longer with
//   bazel test //tests:fault_test --test_env=RB_FAULT_TEST_SECONDS=600 --test_timeout=3600
// On failure the history, the fault schedule, every node's log and data directory are
// kept under the test's undeclared outputs (bazel-testlogs/tests/fault_test/.../outputs).
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "gtest/gtest.h"
#include "sim/history.h"
#include "sim/linearizability.h"
#include "tests/local_cluster.h"
#include "tests/netlab.h"

namespace rb::tests {
namespace {

namespace v1 = raftbadger::v1;
using sim::Operation;
using sim::OpKind;

constexpr absl::Duration kRecoveryBound = absl::Seconds(15);
constexpr int kClients = 4;
const std::vector<std::string> kKeys = {"a", "b", "c"};

absl::Duration RunLength() {
  const char* env = std::getenv("RB_FAULT_TEST_SECONDS");
  int seconds = 0;
  if (env != nullptr && absl::SimpleAtoi(env, &seconds) && seconds > 0) {
    return absl::Seconds(seconds);
  }
  return absl::Seconds(20);
}

// Microseconds since the run started: the history's clock.
class RunClock {
 public:
  uint64_t NowUs() const {
    return static_cast<uint64_t>(absl::ToInt64Microseconds(absl::Now() - start_));
  }

 private:
  const absl::Time start_ = absl::Now();
};

// Short timeouts, so that a call meeting a fault ends (as failed, outcome unknown)
// rather than stall the history.
client::ClientOptions FaultClientOptions(const std::vector<std::string>& endpoints) {
  client::ClientOptions options{endpoints};
  options.call_timeout = absl::Seconds(1);
  options.total_timeout = absl::Seconds(4);
  return options;
}

// One client: its own library instance (session, leader discovery, retries), its own
// part of the history.
void RunClient(int id, uint64_t seed, const std::vector<std::string>& endpoints,
               const RunClock& clock, const std::atomic<bool>& stop,
               std::vector<Operation>* history) {
  client::Client client(FaultClientOptions(endpoints));
  std::mt19937_64 rng(seed);
  std::map<std::string, std::optional<std::string>> last_read;
  for (uint64_t n = 0; !stop.load(); ++n) {
    Operation op;
    op.client = static_cast<uint64_t>(id);
    op.key = kKeys[rng() % kKeys.size()];
    const uint64_t pick = rng() % 10;
    op.call_us = clock.NowUs();
    if (pick < 4) {
      op.kind = OpKind::kPut;
      op.value = absl::StrCat("c", id, "-", n);
      op.completed = client.Put(op.key, op.value).ok();
    } else if (pick < 8) {
      op.kind = OpKind::kGet;
      op.read_mode = pick < 6 ? sim::ReadMode::kLinearizable : sim::ReadMode::kLease;
      auto got =
          client.Get(op.key, op.read_mode == sim::ReadMode::kLease ? v1::LEASE : v1::LINEARIZABLE);
      if (got.ok()) {
        op.completed = true;
        op.read = got->value;
      } else if (absl::IsNotFound(got.status())) {
        op.completed = true;
        op.read = std::nullopt;
      }
      if (op.completed) last_read[op.key] = op.read;
    } else {
      op.kind = OpKind::kCas;
      op.expected = last_read[op.key];
      op.value = absl::StrCat("c", id, "-", n);
      auto swapped = client.CompareAndSwap(op.key, op.expected, op.value);
      if (swapped.ok()) {
        op.completed = true;
        op.flag = swapped->swapped;
      }
    }
    op.return_us = op.completed ? clock.NowUs() : sim::kNeverReturned;
    history->push_back(std::move(op));
  }
}

// Writes keys w0, w1, ... once each; those acknowledged must be readable at the end.
void RunWitness(const std::vector<std::string>& endpoints, const RunClock& clock,
                const std::atomic<bool>& stop, std::vector<Operation>* history) {
  client::Client client(FaultClientOptions(endpoints));
  for (int i = 0; !stop.load(); ++i) {
    Operation op;
    op.client = 100;
    op.kind = OpKind::kPut;
    op.key = absl::StrCat("w", i);
    op.value = absl::StrCat("witness-", i);
    op.call_us = clock.NowUs();
    op.completed = client.Put(op.key, op.value).ok();
    op.return_us = op.completed ? clock.NowUs() : sim::kNeverReturned;
    history->push_back(std::move(op));
  }
}

// Waits until every node names the same leader and that node says it leads. (Under load,
// "every node applied the leader's commit index" is a moving target: that is checked once
// the clients stop.) Polls: the state is in other processes.
bool AwaitCommonLeader(const LocalCluster& c, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::string leader;
    bool agree = true;
    for (int i = 1; i <= c.size() && agree; ++i) {
      auto s = c.Status(i);
      agree = s.ok() && !s->leader_name().empty() && (leader.empty() || s->leader_name() == leader);
      if (agree) leader = s->leader_name();
      if (agree && s->name() == leader) agree = s->role() == "leader";
    }
    if (agree) return true;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

// The node that leads now, as the nodes say (0 if none answers as leader).
int CurrentLeader(const LocalCluster& c) {
  for (int i = 1; i <= c.size(); ++i) {
    auto s = c.Status(i);
    if (s.ok() && s->role() == "leader") return i;
  }
  return 0;
}

struct FaultCounts {
  int kills = 0;
  int kills_of_leader = 0;
  int pauses = 0;
  int pauses_of_leader = 0;
  int transfers = 0;
  int rejoins = 0;     // a member removed, then joined again with its data wiped
  int cuts = 0;        // two nodes, both ways
  int one_way = 0;     // one node drops what another sends
  int isolations = 0;  // one node from every other
  int isolations_of_leader = 0;
};

constexpr char kFaketime[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// The environment that runs a node on a skewed clock, or nothing without libfaketime.
std::map<std::string, std::string> SkewedClock(std::mt19937_64& rng, std::string* described) {
  if (!std::filesystem::exists(kFaketime)) {
    *described = "no clock skew: libfaketime is not installed";
    return {};
  }
  // A rate only: with an offset too, libfaketime delayed the node's gRPC waits (on the
  // realtime clock) by up to 2 s each. The wall clock still drifts apart, by up to 8% of
  // the time run.
  const int rate_permille = 920 + static_cast<int>(rng() % 161);  // 0.92 to 1.08
  const std::string spec =
      absl::StrFormat("+0 x%d.%03d", rate_permille / 1000, rate_permille % 1000);
  *described = absl::StrCat("FAKETIME=\"", spec, "\"");
  // Without shared memory: libfaketime's cross-process synchronization (which nothing
  // here needs) made each request to the node take up to 2 s.
  return {{"LD_PRELOAD", kFaketime}, {"FAKETIME", spec}, {"FAKETIME_DISABLE_SHM", "1"}};
}

// Keeps what a failure needs to be understood, and says where.
void KeepArtifacts(int nodes, const LocalCluster& c, const std::vector<Operation>& history,
                   const std::vector<std::string>& schedule) {
  const char* outputs = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  const std::string dir =
      absl::StrCat(outputs != nullptr ? outputs : c.root(), "/fault-", nodes, "-nodes");
  std::filesystem::create_directories(dir);
  std::ofstream h(dir + "/history.jsonl");
  sim::WriteHistoryJson(history, h);
  std::ofstream(dir + "/schedule.txt") << absl::StrJoin(schedule, "\n") << "\n";
  std::error_code ignored;
  std::filesystem::copy(c.root(), dir + "/cluster", std::filesystem::copy_options::recursive,
                        ignored);
  std::printf("fault test artifacts (history, schedule, logs, data): %s\n", dir.c_str());
}

class FaultTest : public ::testing::TestWithParam<int> {};

TEST_P(FaultTest, HistoriesAreLinearizableAndAcknowledgedWritesSurvive) {
  const int nodes = GetParam();
  // A new schedule each run; RB_FAULT_TEST_SEED replays one (as far as real processes and
  // their timing allow).
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("RB_FAULT_TEST_SEED"); env != nullptr) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &seed)) << "RB_FAULT_TEST_SEED=" << env;
  }
  std::printf("fault test: %d nodes, seed %llu\n", nodes, static_cast<unsigned long long>(seed));
  // The namespaces outlive the cluster: its processes must leave them before they go.
  auto lab = NetLab::Create(nodes);
  LocalCluster c(nodes);
  std::vector<std::string> schedule;
  std::vector<Operation> history;
  std::vector<std::vector<Operation>> parts(kClients + 1);
  // However the test ends (an ASSERT too), a failure keeps what explains it.
  struct KeepOnFailure {
    int nodes;
    const LocalCluster& c;
    const std::vector<Operation>& history;
    const std::vector<std::vector<Operation>>& parts;
    const std::vector<std::string>& schedule;
    ~KeepOnFailure() {
      if (!::testing::Test::HasFailure()) return;
      std::vector<Operation> all = history;
      if (all.empty()) {
        for (const auto& part : parts) all.insert(all.end(), part.begin(), part.end());
      }
      KeepArtifacts(nodes, c, all, schedule);
    }
  } keep{nodes, c, history, parts, schedule};
  if (lab.ok()) {
    std::vector<std::string> hosts;
    for (int i = 1; i <= nodes; ++i) hosts.push_back((*lab)->host(i));
    c.set_network(hosts, [&lab](int i) { return (*lab)->Launcher(i); });
  } else {
    std::printf("fault test: no partitions here: %s\n", lab.status().ToString().c_str());
  }
  std::mt19937_64 rng(seed ^ 0x6e656d65ULL);
  std::map<int, std::map<std::string, std::string>> node_env;
  const int skewed = 1 + static_cast<int>(rng() % nodes);
  std::string skew;
  node_env[skewed] = SkewedClock(rng, &skew);
  std::printf("fault test: %s runs with %s\n", c.name(skewed).c_str(), skew.c_str());
  for (int i = 1; i <= nodes; ++i) ASSERT_TRUE(c.Start(i, node_env[i]).ok());
  std::vector<int> all;
  for (int i = 1; i <= nodes; ++i) all.push_back(i);
  auto first = c.AwaitAgreement(all, nodes, kFormTimeout);
  ASSERT_TRUE(first.ok()) << first.status() << c.Logs();
  if (lab.ok()) {
    // The partitions are real: the others elect a new leader when the leader is cut off,
    // and the old one follows it once the network heals.
    ASSERT_TRUE((*lab)->Isolate(*first).ok());
    std::vector<int> others;
    for (int i : all) {
      if (i != *first) others.push_back(i);
    }
    // Until they name another leader (at first they still name the old one).
    const absl::Time give_up = absl::Now() + kFormTimeout;
    absl::StatusOr<int> second = absl::DeadlineExceededError("no other leader yet");
    while (absl::Now() < give_up) {
      auto agreed = c.AwaitAgreement(others, nodes, give_up - absl::Now());
      if (agreed.ok() && *agreed != *first) {
        second = agreed;
        break;
      }
      absl::SleepFor(absl::Milliseconds(100));  // polling other processes' state
    }
    ASSERT_TRUE(second.ok()) << c.name(*first) << " was cut off but no other node leads\n"
                             << c.Logs();
    ASSERT_TRUE((*lab)->Heal().ok());
    ASSERT_TRUE(c.AwaitAgreement(all, nodes, kFormTimeout).ok()) << c.Logs();
  }

  const RunClock clock;
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  // Stops and joins the clients however the test ends (a joinable thread must not be
  // destroyed).
  struct JoinOnExit {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinOnExit() {
      stop.store(true);
      for (std::thread& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_on_exit{stop, threads};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(RunClient, i, seed + static_cast<uint64_t>(i), c.endpoints(),
                         std::cref(clock), std::cref(stop), &parts[i]);
  }
  threads.emplace_back(RunWitness, c.endpoints(), std::cref(clock), std::cref(stop),
                       &parts[kClients]);

  // The nemesis: one fault at a time, from the seeded schedule.
  schedule.push_back(absl::StrCat(c.name(skewed), " runs with ", skew));
  FaultCounts counts;
  const absl::Time end = absl::Now() + RunLength();
  auto pause_for = [&](uint64_t lo_ms, uint64_t hi_ms) {
    // The schedule's own waits (not synchronization): how long a fault lasts.
    absl::SleepFor(absl::Milliseconds(lo_ms + rng() % (hi_ms - lo_ms)));
  };
  auto other_than = [&](int node) {  // any node but `node`, drawn from the schedule
    int other = 1 + static_cast<int>(rng() % (nodes - 1));
    return other >= node ? other + 1 : other;
  };
  auto client_options = [&](absl::Duration total_timeout) {
    client::ClientOptions options{c.endpoints()};
    options.total_timeout = total_timeout;
    return options;
  };
  bool first_fault = true;
  while (absl::Now() < end) {
    pause_for(1000, 2500);
    const int leader = CurrentLeader(c);
    const bool at_leader = leader != 0 && rng() % 2 == 0;
    const int target = at_leader ? leader : 1 + static_cast<int>(rng() % nodes);
    // 2 kills, 2 pauses, 1 transfer or removal and, with namespaces, 3 partitions in 8.
    // The first fault is a kill or a pause: drawn freely, about 1 run in 140 drew only
    // partitions, and the run then tested no process fault at all.
    const uint64_t kind = first_fault ? rng() % 4 : rng() % (lab.ok() ? 8 : 5);
    first_fault = false;
    if (kind >= 5) {
      NetLab& net = **lab;
      const int other = other_than(target);
      absl::Status cut;
      if (kind == 5) {
        schedule.push_back(
            absl::StrCat(clock.NowUs(), "us cut ", c.name(target), " <-> ", c.name(other)));
        cut = net.Cut(target, other);
        ++counts.cuts;
      } else if (kind == 6) {
        schedule.push_back(
            absl::StrCat(clock.NowUs(), "us ", c.name(target), " drops all from ", c.name(other)));
        cut = net.DropFrom(target, other);
        ++counts.one_way;
      } else {
        schedule.push_back(absl::StrCat(clock.NowUs(), "us isolate ", c.name(target),
                                        at_leader ? " (leader)" : ""));
        cut = net.Isolate(target);
        ++counts.isolations;
        counts.isolations_of_leader += at_leader;
      }
      ASSERT_TRUE(cut.ok()) << cut;
      pause_for(1500, 3500);
      schedule.push_back(absl::StrCat(clock.NowUs(), "us heal the network"));
      ASSERT_TRUE(net.Heal().ok());
    } else if (kind == 4 && rng() % 2 == 0) {
      // A membership change under load: the target is removed (a leader hands over first),
      // must stop by itself, and joins again as a new member with its old data wiped. Its
      // later restarts keep joining (an empty node that bootstrapped would start a cluster
      // of its own).
      schedule.push_back(
          absl::StrCat(clock.NowUs(), "us remove ", c.name(target), at_leader ? " (leader)" : ""));
      client::Client admin(client_options(absl::Seconds(10)));
      auto removed = admin.MemberRemove(c.name(target));
      schedule.push_back(absl::StrCat(
          clock.NowUs(), "us remove: ", removed.ok() ? "done" : removed.status().ToString()));
      if (!removed.ok()) {  // refused (another change pending, no leader): no fault
        std::printf("fault test: removing %s refused: %s\n", c.name(target).c_str(),
                    removed.status().ToString().c_str());
        continue;
      }
      const std::optional<int> exited = c.WaitExit(target, absl::Seconds(20));
      ASSERT_TRUE(exited.has_value()) << c.name(target) << " was removed but still runs\n"
                                      << c.Log(target);
      EXPECT_EQ(*exited, 0) << c.Log(target);
      const int contact = other_than(target);
      auto& env = node_env[target];
      env["JOIN"] = c.endpoint(contact);
      env["BOOTSTRAP"] = "false";
      env["RAFT_PEERS"] = "";
      env["WIPE_REMOVED_DATA"] = "true";
      schedule.push_back(
          absl::StrCat(clock.NowUs(), "us rejoin ", c.name(target), " through ", c.name(contact)));
      ASSERT_TRUE(c.Start(target, env).ok());
      ++counts.rejoins;
    } else if (kind == 4) {
      // A leadership transfer under load, through the admin API.
      schedule.push_back(absl::StrCat(clock.NowUs(), "us transfer leadership to ", c.name(target)));
      client::Client admin(client_options(absl::Seconds(5)));
      auto moved = admin.TransferLeader(c.name(target));
      schedule.push_back(absl::StrCat(
          clock.NowUs(), "us transfer: ", moved.ok() ? "done" : moved.status().ToString()));
      ++counts.transfers;
    } else if (kind < 2) {
      schedule.push_back(
          absl::StrCat(clock.NowUs(), "us kill -9 ", c.name(target), at_leader ? " (leader)" : ""));
      c.Signal(target, SIGKILL);
      ASSERT_TRUE(c.WaitExit(target, absl::Seconds(5)).has_value());
      ++counts.kills;
      counts.kills_of_leader += at_leader;
      pause_for(500, 2000);
      schedule.push_back(absl::StrCat(clock.NowUs(), "us restart ", c.name(target)));
      ASSERT_TRUE(c.Start(target, node_env[target]).ok());
    } else {
      schedule.push_back(
          absl::StrCat(clock.NowUs(), "us SIGSTOP ", c.name(target), at_leader ? " (leader)" : ""));
      c.Signal(target, SIGSTOP);
      ++counts.pauses;
      counts.pauses_of_leader += at_leader;
      pause_for(1500, 3500);  // longer than an election timeout (1 to 2 s)
      schedule.push_back(absl::StrCat(clock.NowUs(), "us SIGCONT ", c.name(target)));
      c.Signal(target, SIGCONT);
    }
  }
  schedule.push_back(absl::StrCat(clock.NowUs(), "us faults stop"));
  auto progress = [&](const char* what) {
    std::printf("fault test: %.1f s: %s\n", clock.NowUs() / 1e6, what);
    std::fflush(stdout);
  };
  progress("faults stop");

  // Liveness: every node agrees on a leader within the bound, then a write is served.
  const absl::Time healed = absl::Now();
  EXPECT_TRUE(AwaitCommonLeader(c, kRecoveryBound))
      << "the nodes did not agree on a leader within " << kRecoveryBound << " of healing";
  {
    client::Client probe(client_options(absl::Seconds(5)));
    EXPECT_TRUE(probe.Put("after-faults", "ok").ok())
        << "no write served within 5 s of agreeing, " << (absl::Now() - healed) << " after healing";
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  threads.clear();
  progress("clients stopped");
  ASSERT_TRUE(c.AwaitAgreement(all, nodes, kRecoveryBound).ok()) << c.Logs();

  // Final linearizable reads of every key, and of every witness key written.
  for (auto& part : parts) history.insert(history.end(), part.begin(), part.end());
  client::Client reader(client::ClientOptions{c.endpoints()});
  std::vector<std::string> keys = kKeys;
  int acknowledged = 0;
  for (const Operation& op : parts[kClients]) {
    keys.push_back(op.key);
    acknowledged += op.completed;
  }
  int verified = 0;
  for (const std::string& key : keys) {
    Operation op;
    op.client = 200;
    op.kind = OpKind::kGet;
    op.key = key;
    op.call_us = clock.NowUs();
    auto got = reader.Get(key);
    ASSERT_TRUE(got.ok() || absl::IsNotFound(got.status())) << key << ": " << got.status();
    op.completed = true;
    if (got.ok()) op.read = got->value;
    op.return_us = clock.NowUs();
    history.push_back(op);
  }
  for (const Operation& op : parts[kClients]) {
    if (!op.completed) continue;
    auto got = reader.Get(op.key, v1::STALE, c.endpoint(1 + verified % nodes));
    EXPECT_TRUE(got.ok() && got->value == op.value)
        << "acknowledged write of " << op.key << " lost: " << got.status();
    ++verified;
  }

  progress("final reads done");
  const sim::LinearizabilityResult result = sim::CheckLinearizable(history);
  progress("history checked");
  EXPECT_FALSE(result.inconclusive)
      << "the search gave up on key " << result.inconclusive_key << ": not a pass";
  EXPECT_TRUE(result.linearizable) << "key " << result.failed_key << ": " << result.explanation;
  int completed = 0;
  for (const Operation& op : history) completed += op.completed;
  std::printf(
      "fault test: %d nodes, %zu operations (%d completed), %d kills (%d of the leader), %d "
      "pauses (%d of the leader), %d leader transfers, %d removals and rejoins, partitions: %d "
      "cuts, %d one-way, %d isolations (%d of the leader); %s on %s; %d acknowledged unique "
      "writes verified (read from the nodes in turn), %llu search steps\n",
      nodes, history.size(), completed, counts.kills, counts.kills_of_leader, counts.pauses,
      counts.pauses_of_leader, counts.transfers, counts.rejoins, counts.cuts, counts.one_way,
      counts.isolations, counts.isolations_of_leader, skew.c_str(), c.name(skewed).c_str(),
      verified, static_cast<unsigned long long>(result.steps));
  EXPECT_EQ(verified, acknowledged);
  EXPECT_GT(counts.kills + counts.pauses + counts.transfers + counts.rejoins, 0);
}

INSTANTIATE_TEST_SUITE_P(ClusterSizes, FaultTest, ::testing::Values(3, 5),
                         [](const auto& info) { return absl::StrCat(info.param, "Nodes"); });

}  // namespace
}  // namespace rb::tests
