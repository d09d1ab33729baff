// The short mutation self-test (the full one is bazel run -c opt //sim:mutants): each
// mutant below (base/mutation.h) was caught early on the default settings; it must still be
// caught within its seed budget, and its first failing seed must pass without it, so that
// the failure is the mutant's doing. A budget that stops being enough means the simulator
// lost power (a fault, workload or check got weaker), or the draws moved: rerun
// //sim:mutants and look before raising it.
#include <algorithm>
#include <ostream>
#include <string>

#include "base/logging.h"
#include "base/mutation.h"
#include "gtest/gtest.h"
#include "sim/mutant_run.h"
#include "sim/schedule.h"
#include "sim/shrink.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

using mutation::Mutant;

struct Case {
  Mutant mutant;
  uint64_t max_seeds;
  const char* checker = nullptr;  // the check that must catch it, if it matters which
};

// (How gtest names a failing case.)
void PrintTo(const Case& c, std::ostream* os) { *os << mutation::MutantName(c.mutant); }

class MutantsTest : public testing::TestWithParam<Case> {};

TEST_P(MutantsTest, CaughtWithinItsSeedBudget) {
  const Case& c = GetParam();
  SimOptions defaults;
  for (uint64_t seed = 1; seed <= c.max_seeds; ++seed) {
    const SeedVerdict v = RunSeedWithMutant(defaults, c.mutant, seed);
    if (!v.failed) continue;
    EXPECT_FALSE(v.checker.empty());
    EXPECT_FALSE(v.failure.empty());
    if (c.checker != nullptr) {
      EXPECT_EQ(v.checker, c.checker) << "seed " << seed << ": " << v.failure;
    }
    const SeedVerdict correct =
        RunSeedWithMutant(OptionsForMutant(defaults, c.mutant), Mutant::kNone, seed);
    EXPECT_FALSE(correct.failed) << "seed " << seed << " fails without the mutant too ("
                                 << correct.checker << "): " << correct.failure;
    return;
  }
  ADD_FAILURE() << "not caught within " << c.max_seeds << " seeds";
}

std::string Name(const testing::TestParamInfo<Case>& info) {
  return mutation::MutantName(info.param.mutant);
}

// Budgets: about twice the first failing seed of the last full run (docs/mutants.md).
// Drawing skip_broadcast_commit moved two first catches: lease_during_transfer from seed
// 14 to 42, read_index_before_term_commit from 8 to 29 (their rates over 300 seeds stayed
// within noise with it off, always or drawn). Drawing the server's loop rounds, told
// removals and one read round in flight as well (2026-12-07) moved
// heartbeat_commit_unbounded's from 8 to 15 and campaign_with_unapplied_conf's from 6 to
// 14.
INSTANTIATE_TEST_SUITE_P(
    EarlyCatches, MutantsTest,
    testing::Values(Case{Mutant::kSendBeforePersist, 10}, Case{Mutant::kSkipVotePersistence, 10},
                    Case{Mutant::kLeaderCountsUnstable, 10}, Case{Mutant::kStoreKeepsStaleTail, 85},
                    Case{Mutant::kVoteIgnoresLog, 10}, Case{Mutant::kVoteTwiceInTerm, 20},
                    Case{Mutant::kAppendSkipsPrevTermCheck, 30},
                    Case{Mutant::kTruncateOnMatchingAppend, 10},
                    Case{Mutant::kHeartbeatCommitUnbounded, 30},
                    Case{Mutant::kReadIndexWithoutQuorum, 90},
                    Case{Mutant::kSnapshotSkipsSessions, 10}, Case{Mutant::kSessionReapplies, 15}),
    Name);

// The lease mutants are caught by the lease checks themselves (no stale read needs to
// happen to be seen): a new leader elected while an older term's lease is held; and, at
// the root, a vote granted within an election timeout of hearing a leader
// (Simulation::DeliverVote), or a lease held after sending TimeoutNow
// (Simulation::CheckLease). Before the root checks, the last two were first caught at
// seeds 119 and 66.
INSTANTIATE_TEST_SUITE_P(Leases, MutantsTest,
                         testing::Values(Case{Mutant::kLeaseFromAck, 140, "leases"},
                                         Case{Mutant::kLeaseDuringTransfer, 85, "leases"},
                                         Case{Mutant::kVoteIgnoresLeaderLease, 10, "leases"}),
                         Name);

// Checks at the root: each rule below is one Raft's safety argument rests on, checked
// where it is kept or broken, not only through the disaster it may lead to (two leaders
// of a term, a lost committed entry, a stale read), which takes a rarer coincidence. Each
// of these mutants was caught at most 8 times in 1,000 default seeds before its check
// (the first at seeds 419, 88, 75, 216, 160, never, never, never), and not within its
// budget.
INSTANTIATE_TEST_SUITE_P(
    RootChecks, MutantsTest,
    testing::Values(
        // A leader was sent grants of its term by a quorum (Simulation::CheckElectedByQuorum).
        // A rare catch (24 and 25 in 1,000 seeds): when a cut-off leader's stranded writes
        // became one proposal, its first catch moved from seed 9 to 55.
        Case{Mutant::kTallyMixesTerms, 110, "elections"},
        // The healed cluster settles around one leader (Simulation::CheckSettled).
        Case{Mutant::kIgnoreHigherTermResponse, 60, "liveness"},
        // A read is answered at an index no lower than any commit index known when it was
        // asked (Simulation::OnReady).
        Case{Mutant::kReadIndexBeforeTermCommit, 60, "reads"},
        // No append from an older term changes a log (Simulation::Deliver).
        Case{Mutant::kAcceptStaleTermAppend, 25, "terms"},
        // A leader commits by counting only entries of its term (raft/invariants.h).
        Case{Mutant::kCommitByCounting, 10, "invariants"},
        // One configuration change at a time (Simulation::CheckOneConfChangeAtATime).
        Case{Mutant::kConfChangeWhilePending, 10, "membership"},
        // No campaign with a committed configuration change unapplied (raft/invariants.h).
        Case{Mutant::kCampaignWithUnappliedConf, 30, "invariants"},
        // An append raises the commit index no further than its last entry
        // (Simulation::Deliver).
        Case{Mutant::kCommitPastNewEntries, 10, "commit"},
        // Every member of the healed cluster catches up with the leader's commit index
        // (Simulation::CheckCaughtUp). Before that check, a follower left behind was seen
        // only when it stalled the clients: 59 of 300 seeds, the first at seed 11; with
        // it, 150 of 300, the first at seed 2.
        Case{Mutant::kHeartbeatRespKeepsPause, 10, "liveness"},
        // A node told it was removed is told where the committed log removed it
        // (Simulation::OnTellRemoved). The state digest compares tombstones between
        // replicas, so before this check a mistake every replica makes alike went unseen.
        Case{Mutant::kTombstoneAfterRemoval, 15, "membership"}),
    Name);

// A batch's linearizable reads share one ReadIndex round (node::Node::BeginBatch), a path
// only --batch_client_requests takes (OptionsForMutant turns it on). A read that joins a
// round whose heartbeats already left may miss a write completed meanwhile: the
// linearizability checker must see it. First caught at seed 5; 22 of seeds 1 to 500 (11
// stale reads, 11 reads stranded).
INSTANTIATE_TEST_SUITE_P(SharedReadRounds, MutantsTest,
                         testing::Values(Case{Mutant::kReadJoinsSentRound, 15, "linearizability"}),
                         Name);

// Reads that arrive while a node's round is out wait for the next
// (node::NodeOptions::one_read_round_in_flight), a path only --one_read_round_in_flight
// takes (OptionsForMutant turns it on, with 8 clients). A read that joins the round out
// instead was answered at an index fixed before it arrived: the linearizability checker
// must see the write it missed. First caught at seed 20; 61 of seeds 1 to 1,000 (55 by
// that check, 6 by the lease check: the read renewed the lease from its own arrival).
INSTANTIATE_TEST_SUITE_P(ReadRoundInFlight, MutantsTest,
                         testing::Values(Case{Mutant::kReadJoinsRoundInFlight, 40,
                                              "linearizability"}),
                         Name);

ShrinkResult ShrinkMutantRun(Mutant mutant, uint64_t seed) {
  SimOptions o;
  o.seed = seed;
  o.mutant = mutant;
  // The seeds below were chosen before these dimensions were drawn; pinned, they keep the
  // scenario they were chosen for.
  o.skip_broadcast_commit = SimOptions::Draw::kOff;
  o.batch_client_requests = SimOptions::Draw::kOff;
  o.deliver_removals = SimOptions::Draw::kOff;
  o.one_read_round_in_flight = SimOptions::Draw::kOff;
  o.answer_writes_at_commit = SimOptions::Draw::kOff;
  return Shrink(o);
}

// snapshot_match_by_index at seed 246, shrunk once for the tests that look at it.
const ShrinkResult& SnapshotMatchShrunk() {
  static const ShrinkResult* const r =
      new ShrinkResult(ShrinkMutantRun(Mutant::kSnapshotMatchByIndex, 246));
  return *r;
}

// The shrunk run's schedule, written down.
std::string ShrunkSchedule(const ShrinkResult& r) {
  return WriteSchedule(r.options, r.options.scenario, r.options.faults,
                       OutcomeLine(true, r.shrunk.checker, r.shrunk.failure));
}

// Shrinking a mutant's failing run: smaller, the same check, replayable from its
// schedule, and the same every time.
TEST(ShrinkTest, AMutantsFailureShrinksToASmallerRunThatFailsTheSameCheck) {
  const ShrinkResult r = ShrinkMutantRun(Mutant::kSessionReapplies, 2);
  ASSERT_TRUE(r.original.failed);
  ASSERT_TRUE(r.shrunk.failed);
  EXPECT_EQ(r.shrunk.checker, r.original.checker);
  EXPECT_FALSE(r.steps.empty()) << "nothing could be taken away";
  EXPECT_LE(r.shrunk.faults, r.original.faults);
  EXPECT_LT(r.shrunk.events, r.original.events);
  // Written down and read back, the shrunk run fails the same way.
  absl::StatusOr<SimOptions> replay = ReadSchedule(ShrunkSchedule(r));
  ASSERT_TRUE(replay.ok()) << replay.status();
  const RunSummary again = RunSummarized(*replay);
  EXPECT_TRUE(again.failed);
  EXPECT_EQ(again.checker, r.shrunk.checker);
  EXPECT_EQ(again.events, r.shrunk.events);
  // Deterministic.
  const ShrinkResult second = ShrinkMutantRun(Mutant::kSessionReapplies, 2);
  EXPECT_EQ(second.steps, r.steps);
  EXPECT_EQ(second.options.scenario, r.options.scenario);
}

// Fewer client operations: clients that pause longer between them, recorded in the
// schedule so that the shrunk run replays.
TEST(ShrinkTest, ClientsThatPauseLongerMakeFewerOperations) {
  const ShrinkResult& r = SnapshotMatchShrunk();
  ASSERT_TRUE(r.shrunk.failed);
  EXPECT_NE(
      std::find(r.steps.begin(), r.steps.end(), "clients that pause longer between operations"),
      r.steps.end());
  EXPECT_GT(r.options.client_think_us, 0u);
  EXPECT_LT(r.shrunk.ops, r.original.ops);
  absl::StatusOr<SimOptions> replay = ReadSchedule(ShrunkSchedule(r));
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(replay->client_think_us, r.options.client_think_us);
  const RunSummary again = RunSummarized(*replay);
  EXPECT_TRUE(again.failed);
  EXPECT_EQ(again.ops, r.shrunk.ops);
  EXPECT_EQ(again.events, r.shrunk.events);
}

// The second pass drops recorded fault steps: a run with many faults keeps only the few
// its failure needs, and the schedule lists what is left, in plain words.
TEST(ShrinkTest, FaultStepsTheFailureDoesNotNeedAreDropped) {
  const ShrinkResult& r = SnapshotMatchShrunk();
  ASSERT_TRUE(r.original.failed);
  ASSERT_TRUE(r.shrunk.failed);
  EXPECT_EQ(r.shrunk.checker, r.original.checker);
  EXPECT_LT(r.shrunk.faults, r.original.faults);
  ASSERT_FALSE(r.steps.empty());
  EXPECT_NE(r.steps.back().find("fault steps dropped"), std::string::npos) << r.steps.back();
  const std::string text = ShrunkSchedule(r);
  EXPECT_NE(text.find("(dropped)"), std::string::npos);
  absl::StatusOr<SimOptions> replay = ReadSchedule(text);
  ASSERT_TRUE(replay.ok()) << replay.status();
  const RunSummary again = RunSummarized(*replay);
  EXPECT_TRUE(again.failed);
  EXPECT_EQ(again.checker, r.shrunk.checker);
  EXPECT_EQ(again.events, r.shrunk.events);
  EXPECT_EQ(again.faults, r.shrunk.faults);
}

}  // namespace
}  // namespace rb::sim
