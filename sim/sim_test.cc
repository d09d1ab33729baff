// Randomized fault scenarios under `bazel test`: a fixed range of seeds in chunks (gtest
// spreads the chunks over Bazel's test shards), plus every seed in regression_seeds.txt. A
// failing seed is printed with the command that replays it.
//
// RB_SIM_FRESH_SEEDS=N (via --test_env) also runs N fresh random seeds, for exploration.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "gtest/gtest.h"
#include "sim/schedule.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

constexpr uint64_t kChunks = 40;
constexpr uint64_t kSeedsPerChunk = 50;  // 2,000 seeds in all

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

// The flags that replay o's seed: each setting that differs from SimOptions' default.
std::string ReplayFlags(const SimOptions& o) {
  const SimOptions defaults;
  std::string flags;
  if (o.storage == SimOptions::Storage::kSqlite) flags += " --storage=sqlite";
  if (o.voters != 0) absl::StrAppend(&flags, " --voters=", o.voters);
  const std::pair<const char*, SimOptions::Draw SimOptions::*> draws[] = {
      {"leader_faults", &SimOptions::leader_faults},
      {"skip_broadcast_commit", &SimOptions::skip_broadcast_commit},
      {"batch_client_requests", &SimOptions::batch_client_requests},
      {"deliver_removals", &SimOptions::deliver_removals},
      {"one_read_round_in_flight", &SimOptions::one_read_round_in_flight},
      {"answer_writes_at_commit", &SimOptions::answer_writes_at_commit},
      {"large_values", &SimOptions::large_values},
  };
  for (const auto& [name, field] : draws) {
    if (o.*field != defaults.*field) absl::StrAppend(&flags, " --", name, "=", DrawName(o.*field));
  }
  return flags;
}

void ExpectSeedPasses(const SimOptions& o) {
  const SimResult r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << "seed " << o.seed << " failed: " << r.failure << "\n  " << r.scenario
                    << "\n  replay: bazel run //sim:simulate -- --seed=" << o.seed
                    << ReplayFlags(o);
}

// Runs chunk `chunk` of `per_chunk` seeds (from seed 1) with the settings of `base`,
// stopping at the first failing seed: one per chunk is enough to report.
void ExpectChunkPasses(uint64_t chunk, uint64_t per_chunk, SimOptions base = SimOptions()) {
  const uint64_t first = 1 + chunk * per_chunk;
  for (uint64_t seed = first; seed < first + per_chunk; ++seed) {
    base.seed = seed;
    ExpectSeedPasses(base);
    if (::testing::Test::HasFailure()) break;
  }
}

// Options with one scenario dimension pinned to `always`.
SimOptions Always(SimOptions::Draw SimOptions::*setting) {
  SimOptions o;
  o.*setting = SimOptions::Draw::kAlways;
  return o;
}

// Options as they were when the seeds pinned by the tests that use this were chosen: the
// server's loop rounds, told removals, one read round in flight and answers at commit not
// yet drawn. Drawing them moved every seed's events, and with them what a pinned seed
// happens to exercise.
SimOptions AsWhenSeedsWereChosen() {
  SimOptions o;
  o.batch_client_requests = SimOptions::Draw::kOff;
  o.deliver_removals = SimOptions::Draw::kOff;
  o.one_read_round_in_flight = SimOptions::Draw::kOff;
  o.answer_writes_at_commit = SimOptions::Draw::kOff;
  return o;
}

// Seed 7 on three voters with no faults at all. (A node whose disk fills stalls, and the
// burst of stale answers it sends when it resumes makes the leader resend its window, which
// would blur what the tests that use this count.)
SimOptions FaultFreeRun() {
  SimOptions o;
  o.seed = 7;
  o.voters = 3;
  o.network_faults = o.partitions = o.crashes = o.pauses = o.membership_changes = false;
  o.disk_full = false;
  return o;
}

// Runs o with `setting` off, then always on.
std::pair<SimResult, SimResult> OffThenAlways(SimOptions o, SimOptions::Draw SimOptions::*setting) {
  o.*setting = SimOptions::Draw::kOff;
  SimResult off = RunSimulation(o);
  o.*setting = SimOptions::Draw::kAlways;
  return {std::move(off), RunSimulation(o)};
}

// Both runs of OffThenAlways passed, and only the second one's scenario names the setting.
void ExpectBothPassAndOnlyOnNames(const SimResult& off, const SimResult& on, const char* name) {
  ASSERT_TRUE(off.ok) << off.failure;
  ASSERT_TRUE(on.ok) << on.failure;
  EXPECT_EQ(off.scenario.find(name), std::string::npos);
  EXPECT_NE(on.scenario.find(name), std::string::npos);
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { SetMinLogSeverity(LogSeverity::kError); }
};

class SeedChunkTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SeedChunkTest, AllSeedsPass) { ExpectChunkPasses(GetParam(), kSeedsPerChunk); }

INSTANTIATE_TEST_SUITE_P(Seeds, SeedChunkTest, ::testing::Range<uint64_t>(0, kChunks));

// Clusters that start from one voter and grow, shrink and replace members by membership
// changes: the path the seed-style server launch takes (one bootstrap voter, peers added
// later). The default draw gives it to only a seventh of the seeds, and its rare
// schedules (the sole voter replacing itself through a joint configuration, a removed
// leader handing over) hid a stale read and three wedges until run on its own: pin it.
// Two voters are pinned too: removing the leader of a two-voter cluster is the neighbour.
constexpr uint64_t kPinnedChunks = 16;
constexpr uint64_t kPinnedSeedsPerChunk = 250;  // 4,000 one-voter and 4,000 two-voter seeds

class PinnedVotersTest : public SimTest,
                         public ::testing::WithParamInterface<std::tuple<int, uint64_t>> {};

TEST_P(PinnedVotersTest, AllSeedsPass) {
  const auto [voters, chunk] = GetParam();
  SimOptions o;
  o.voters = voters;
  ExpectChunkPasses(chunk, kPinnedSeedsPerChunk, o);
}

INSTANTIATE_TEST_SUITE_P(Seeds, PinnedVotersTest,
                         ::testing::Combine(::testing::Values(1, 2),
                                            ::testing::Range<uint64_t>(0, kPinnedChunks)));

// The server's setting on every seed: leaders let a new commit index wait for the next
// append or heartbeat (raft::Config::skip_broadcast_commit). The default draw gives it to
// half the seeds; pinned, seeds 1 to 1,000 run it where they ran the broadcast before.
constexpr uint64_t kSkipChunks = 20;
constexpr uint64_t kSkipSeedsPerChunk = 50;  // 1,000 seeds

class SkipBroadcastCommitTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SkipBroadcastCommitTest, AllSeedsPass) {
  ExpectChunkPasses(GetParam(), kSkipSeedsPerChunk, Always(&SimOptions::skip_broadcast_commit));
}

INSTANTIATE_TEST_SUITE_P(Seeds, SkipBroadcastCommitTest,
                         ::testing::Range<uint64_t>(0, kSkipChunks));

// The server's loop round: client writes and reads that reach a node within a drawn window
// are one batch there, the writes proposed together and the linearizable reads on one
// ReadIndex round (node::Node::BeginBatch). The default draw gives it to half the seeds;
// pinned, seeds 1 to 600 run it on every one.
constexpr uint64_t kBatchChunks = 12;
constexpr uint64_t kBatchSeedsPerChunk = 50;  // 600 seeds

class BatchClientRequestsTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(BatchClientRequestsTest, AllSeedsPass) {
  ExpectChunkPasses(GetParam(), kBatchSeedsPerChunk, Always(&SimOptions::batch_client_requests));
}

INSTANTIATE_TEST_SUITE_P(Seeds, BatchClientRequestsTest,
                         ::testing::Range<uint64_t>(0, kBatchChunks));

// A member's word that a node was removed reaches that node, and one that believes it
// stops for good, as the server's does (Scenario::deliver_removals): removed nodes that
// missed their removal must be stopped once the cluster is healed. The default draw gives
// it to half the seeds; pinned, seeds 1 to 400 run it on every one.
constexpr uint64_t kRemovalChunks = 8;
constexpr uint64_t kRemovalSeedsPerChunk = 50;  // 400 seeds

class DeliverRemovalsTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(DeliverRemovalsTest, AllSeedsPass) {
  ExpectChunkPasses(GetParam(), kRemovalSeedsPerChunk, Always(&SimOptions::deliver_removals));
}

INSTANTIATE_TEST_SUITE_P(Seeds, DeliverRemovalsTest, ::testing::Range<uint64_t>(0, kRemovalChunks));

// Linearizable reads that reach a node while its last round for reads is out wait for the
// next, as the server's do (Scenario::one_read_round_in_flight), with and without the
// server's batches (drawn): a read answered by a round that began before it arrived could
// miss a write acknowledged in between. The default draw gives it to half the seeds;
// pinned, seeds 1 to 400 run it on every one.
constexpr uint64_t kOneRoundChunks = 8;
constexpr uint64_t kOneRoundSeedsPerChunk = 50;  // 400 seeds

class OneReadRoundInFlightTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(OneReadRoundInFlightTest, AllSeedsPass) {
  ExpectChunkPasses(GetParam(), kOneRoundSeedsPerChunk,
                    Always(&SimOptions::one_read_round_in_flight));
}

INSTANTIATE_TEST_SUITE_P(Seeds, OneReadRoundInFlightTest,
                         ::testing::Range<uint64_t>(0, kOneRoundChunks));

// Leaders answer plain puts (the old API's SaveEntries, which carries no session) once
// committed, before the apply, as the server's do (Scenario::answer_writes_at_commit): a
// write answered so must be neither lost nor missed by a read that starts after its
// answer. The default draw gives it to half the seeds; pinned, seeds 1 to 400 run it on
// every one.
constexpr uint64_t kAtCommitChunks = 8;
constexpr uint64_t kAtCommitSeedsPerChunk = 50;  // 400 seeds

class AnswerWritesAtCommitTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(AnswerWritesAtCommitTest, AllSeedsPass) {
  ExpectChunkPasses(GetParam(), kAtCommitSeedsPerChunk,
                    Always(&SimOptions::answer_writes_at_commit));
}

INSTANTIATE_TEST_SUITE_P(Seeds, AnswerWritesAtCommitTest,
                         ::testing::Range<uint64_t>(0, kAtCommitChunks));

// The setting reaches the nodes: with it, plain puts are answered at commit; without, none
// is; and the scenario says which.
TEST_F(SimTest, PlainPutsAreAnsweredAtCommit) {
  const auto [applied, at_commit] =
      OffThenAlways(FaultFreeRun(), &SimOptions::answer_writes_at_commit);
  ExpectBothPassAndOnlyOnNames(applied, at_commit, "answer_writes_at_commit");
  if (HasFatalFailure()) return;
  EXPECT_GT(at_commit.ops_completed, 100u);
  EXPECT_EQ(applied.writes_answered_at_commit, 0u);
  EXPECT_GT(at_commit.writes_answered_at_commit, 0u) << at_commit.scenario;
}

// The setting reaches the nodes: with it, gets that arrive while a round is out wait and
// go in the next; without, none does.
TEST_F(SimTest, ReadsArrivingWhileARoundIsOutWaitForTheNext) {
  SimOptions o = FaultFreeRun();
  o.clients = 8;
  const auto [alone, queued] = OffThenAlways(o, &SimOptions::one_read_round_in_flight);
  ExpectBothPassAndOnlyOnNames(alone, queued, "one_read_round_in_flight");
  if (HasFatalFailure()) return;
  EXPECT_GT(queued.ops_completed, 100u);
  EXPECT_EQ(alone.reads_queued, 0u);
  EXPECT_GT(queued.reads_queued, 0u) << queued.scenario;
}

// The setting reaches the nodes: with it, clients' writes are proposed together and their
// linearizable reads share rounds; without, none does (no partition strands writes in this
// run), and the scenario says which.
TEST_F(SimTest, BatchedClientRequestsAreProposedAndConfirmedTogether) {
  SimOptions o = FaultFreeRun();
  o.clients = 8;
  const auto [alone, batched] = OffThenAlways(o, &SimOptions::batch_client_requests);
  ExpectBothPassAndOnlyOnNames(alone, batched, "client_batch=");
  if (HasFatalFailure()) return;
  EXPECT_GT(batched.ops_completed, 100u);
  EXPECT_EQ(alone.writes_proposed_together, 0u);
  EXPECT_GT(batched.writes_proposed_together, 0u) << batched.scenario;
  EXPECT_EQ(alone.reads_joined, 0u);
  EXPECT_GT(batched.reads_joined, 0u) << batched.scenario;
}

// The same faults with the real SQLite store (node/SqliteNodeStore over storage::Store) in
// place of the in-memory model, on simulated disks: the production storage code under the
// simulator, with power losses (some inside a commit, tearing writes) and damaged sectors.
constexpr uint64_t kSqliteChunks = 8;
constexpr uint64_t kSqliteSeedsPerChunk = 40;  // 320 seeds

class SqliteSeedChunkTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SqliteSeedChunkTest, AllSeedsPass) {
  SimOptions o;
  o.storage = SimOptions::Storage::kSqlite;
  ExpectChunkPasses(GetParam(), kSqliteSeedsPerChunk, o);
}

INSTANTIATE_TEST_SUITE_P(SqliteSeeds, SqliteSeedChunkTest,
                         ::testing::Range<uint64_t>(0, kSqliteChunks));

// The same with a third of the values large (SimOptions::large_values), so that the store's
// table of large values (storage/kv_rows.h) lives through crashes, power losses, damaged
// and full disks: values move in and out of it, and snapshots carry it.
constexpr uint64_t kSqliteLargeChunks = 4;
constexpr uint64_t kSqliteLargeSeedsPerChunk = 30;  // 120 seeds

class SqliteLargeValuesTest : public SimTest, public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SqliteLargeValuesTest, AllSeedsPass) {
  SimOptions o = Always(&SimOptions::large_values);
  o.storage = SimOptions::Storage::kSqlite;
  ExpectChunkPasses(GetParam(), kSqliteLargeSeedsPerChunk, o);
}

INSTANTIATE_TEST_SUITE_P(SqliteLargeValues, SqliteLargeValuesTest,
                         ::testing::Range<uint64_t>(0, kSqliteLargeChunks));

// Pinned seeds known to draw each disk fault: if the fault injection stops working (or
// stops being survivable), this fails. If scenario drawing changes, pick new ones with
// `bazel run //sim:simulate -- --storage=sqlite --seed=1 --seeds=150`.
TEST_F(SimTest, SqliteDiskFaultsAreInjectedAndSurvived) {
  SimOptions o = AsWhenSeedsWereChosen();
  o.storage = SimOptions::Storage::kSqlite;
  o.disk_full = false;  // its own test below; its events would move these seeds' schedules
  o.seed = 97;          // a power loss damages a database; that node refuses to start
  SimResult r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.corrupted_disks, 1u);
  EXPECT_EQ(r.refused_starts, 1u);
  EXPECT_EQ(r.members_replaced, 1u) << "the operator did not replace the damaged member";
  o.seed = 1;  // a power loss inside a commit tears a write
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.power_losses, 0u);
  EXPECT_GT(r.torn_writes, 0u);
  o.seed = 63;  // a power loss damages a WAL frame before the last two transactions
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.damaged_wal_frames, 1u);
  EXPECT_EQ(r.refused_starts, 1u);
  EXPECT_EQ(r.members_replaced, 1u);
  o.seed = 13;  // a running node's page is damaged; it reads it, stops, and cannot restart
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_EQ(r.damaged_while_running, 1u);
  EXPECT_EQ(r.storage_failures, 1u);
  EXPECT_EQ(r.refused_starts, 1u);
  EXPECT_EQ(r.members_replaced, 1u);
  o.seed = 11;  // flaky page reads; the run itself checks that each one was caught
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.read_faults, 0u);
  EXPECT_GT(r.read_faults_repaired, 0u);
  o.seed = 7;  // an fsync fails: the node stops, restarts, and nothing acknowledged is lost
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.sync_failures, 0u);
  EXPECT_GT(r.storage_failures, 0u);  // (a failure inside an automatic checkpoint is not one)
}

// A pinned seed that fills disks (SimOptions::disk_full) on both back ends: the nodes
// stall on it, acknowledge nothing they could not write, and the run passes every check.
TEST_F(SimTest, FullDisksStallNodesAndTheyRecover) {
  for (SimOptions::Storage storage : {SimOptions::Storage::kMemory, SimOptions::Storage::kSqlite}) {
    SimOptions o;
    o.storage = storage;
    o.seed = 9;
    const SimResult r = RunSimulation(o);
    EXPECT_TRUE(r.ok) << r.failure;
    EXPECT_GT(r.disk_full_episodes, 0u);
    EXPECT_GT(r.disk_full_stalls, 0u);
    EXPECT_EQ(r.storage_failures, 0u);  // a full disk is not a storage failure
  }
}

// Pinned seeds in which removed nodes that missed their removal keep sending, and members
// tell them where they were removed (node::Transport::TellRemoved): each tell is compared
// with the committed log (Simulation::OnTellRemoved, fed by sim/membership_model), and on
// the memory back end the told node would believe most of them.
TEST_F(SimTest, RemovalsToldAreComparedWithTheCommittedLog) {
  SimOptions o = AsWhenSeedsWereChosen();
  o.seed = 12;
  SimResult r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.removals_told_checked, 0u);
  EXPECT_GT(r.removals_believed, 0u);
  EXPECT_EQ(r.removed_nodes_stopped, 0u) << "only checked: nothing is delivered";
  // Delivered, the same seed's node 4, removed at index 6 while it lagged, believes it
  // and stops for good; the run passes with it down.
  o.deliver_removals = SimOptions::Draw::kAlways;
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.removed_nodes_stopped, 0u) << r.scenario;
  o.deliver_removals = SimOptions::Draw::kOff;
  o.storage = SimOptions::Storage::kSqlite;
  o.seed = 14;
  r = RunSimulation(o);
  EXPECT_TRUE(r.ok) << r.failure;
  EXPECT_GT(r.removals_told_checked, 0u);
}

// Read-only spells (Scenario::read_spell_interval_us): every operation a client starts
// inside one is a read. (Writes started before it may still be retried in it.)
TEST_F(SimTest, ClientsOnlyReadDuringReadOnlySpells) {
  SimOptions o;
  o.seed = 3;                                        // draws spells
  o.skip_broadcast_commit = SimOptions::Draw::kOff;  // as when the seed was chosen
  std::ostringstream trace;
  o.trace = &trace;
  const SimResult r = RunSimulation(o);
  ASSERT_TRUE(r.ok) << r.failure;
  ASSERT_EQ(r.scenario.find("read_spell_interval=0us"), std::string::npos)
      << "seed 3 no longer draws read-only spells";
  std::vector<std::pair<uint64_t, uint64_t>> spells;  // [from, until) in us
  std::istringstream lines(trace.str());
  for (std::string line; std::getline(lines, line);) {
    uint64_t at = 0, until = 0;
    if (std::sscanf(line.c_str(), "%luus clients only read until %luus", &at, &until) == 2) {
      spells.emplace_back(at, until);
    }
  }
  ASSERT_GE(spells.size(), 2u) << "seed 3 no longer draws read-only spells";
  int reads_in_spells = 0, writes_outside = 0;
  for (const Operation& op : r.history) {
    bool in_spell = false;
    for (const auto& [from, until] : spells) in_spell |= op.call_us >= from && op.call_us < until;
    if (in_spell) {
      EXPECT_EQ(op.kind, OpKind::kGet)
          << "client " << op.client << " started " << OpKindName(op.kind) << " " << op.key << " at "
          << op.call_us << "us, inside a read-only spell";
      ++reads_in_spells;
    } else {
      writes_outside += op.kind != OpKind::kGet;
    }
  }
  EXPECT_GT(reads_in_spells, 20);
  EXPECT_GT(writes_outside, 20);  // the rest of the run still writes
}

// Every schedule in sim/regressions replays and passes: a schedule keeps its scenario
// whatever the generator draws today (sim/schedule.h).
TEST_F(SimTest, RegressionSchedules) {
  const std::filesystem::path dir = std::filesystem::path(std::getenv("TEST_SRCDIR")) /
                                    std::getenv("TEST_WORKSPACE") / "sim" / "regressions";
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".schedule") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // the directory's order varies
  ASSERT_FALSE(files.empty()) << "no schedules in " << dir;
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<SimOptions> o = ReadSchedule(text.str());
    ASSERT_TRUE(o.ok()) << path << ": " << o.status();
    const SimResult r = RunSimulation(*o);
    EXPECT_TRUE(r.ok)
        << path.filename() << " failed: " << r.failure
        << "\n  replay: bazel run -c opt //sim:simulate -- --schedule=sim/regressions/"
        << path.filename().string();
  }
}

TEST_F(SimTest, RegressionSeeds) {
  std::ifstream in(std::string(std::getenv("TEST_SRCDIR")) + "/" + std::getenv("TEST_WORKSPACE") +
                   "/sim/regression_seeds.txt");
  ASSERT_TRUE(in.good()) << "cannot read sim/regression_seeds.txt";
  // Each line: a seed, then optionally --voters=N, then a comment.
  std::string line;
  int seeds = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t seed = 0;
    if (line.empty() || line[0] == '#' || !(fields >> seed)) continue;
    int voters = 0;
    std::string option;
    if (fields >> option && option.rfind("--voters=", 0) == 0) {
      voters = std::atoi(option.c_str() + std::strlen("--voters="));
      ASSERT_GT(voters, 0) << "bad option in sim/regression_seeds.txt: " << line;
    }
    // As when the seeds were found (settings drawn since then off).
    SimOptions o = AsWhenSeedsWereChosen();
    o.seed = seed;
    o.voters = voters;
    ExpectSeedPasses(o);
    ++seeds;
  }
  EXPECT_GT(seeds, 0);
}

TEST_F(SimTest, FreshSeeds) {
  const int n = EnvInt("RB_SIM_FRESH_SEEDS", 0);
  if (n == 0) GTEST_SKIP() << "set --test_env=RB_SIM_FRESH_SEEDS=N to explore new seeds";
  // Only the choice of seeds is random; each run is a function of its seed.
  std::random_device entropy;
  for (int i = 0; i < n; ++i) {
    const uint64_t seed = (uint64_t{entropy()} << 32) | entropy();
    std::printf("fresh seed %llu\n", static_cast<unsigned long long>(seed));
    SimOptions o;
    o.seed = seed;
    ExpectSeedPasses(o);
  }
}

// The pinned setting reaches the nodes: the same seed, with the commit broadcast and
// without, delivers fewer messages without it (no append only to announce a commit), and
// says so in its scenario.
TEST_F(SimTest, SkippingTheCommitBroadcastSendsFewerMessages) {
  const auto [with, without] = OffThenAlways(FaultFreeRun(), &SimOptions::skip_broadcast_commit);
  ExpectBothPassAndOnlyOnNames(with, without, "skip_broadcast_commit");
  if (HasFatalFailure()) return;
  EXPECT_GT(with.ops_completed, 100u);
  EXPECT_GT(without.ops_completed, 100u);
  // Per completed operation, to be independent of how many the clients made.
  EXPECT_LT(static_cast<double>(without.messages_delivered) / without.ops_completed,
            0.9 * static_cast<double>(with.messages_delivered) / with.ops_completed)
      << "with the broadcast: " << with.messages_delivered << " messages for " << with.ops_completed
      << " operations; without: " << without.messages_delivered << " for " << without.ops_completed;
}

TEST_F(SimTest, RunsAreDeterministic) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 99, 1234}) {
    SimOptions o;
    o.seed = seed;
    EXPECT_EQ(CheckDeterminism(o), "") << "seed " << seed;
  }
  for (uint64_t seed : {11, 13, 66, 67, 76}) {  // the SQLite store on the simulated disk
    SimOptions o;
    o.seed = seed;
    o.storage = SimOptions::Storage::kSqlite;
    EXPECT_EQ(CheckDeterminism(o), "") << "sqlite seed " << seed;
  }
}

TEST_F(SimTest, DifferentSeedsDiffer) {
  SimOptions a, b;
  a.seed = 10;
  b.seed = 11;
  EXPECT_NE(RunSimulation(a).trace_hash, RunSimulation(b).trace_hash);
}

}  // namespace
}  // namespace rb::sim
