// The simulator's bounds: a run that cannot finish a check fails, naming the bound, rather
// than hanging or passing. Whether the checks catch real bugs is sim/mutants_test's
// business (the mutants of base/mutation.h).
#include <sstream>

#include "base/logging.h"
#include "gtest/gtest.h"
#include "sim/simulation.h"
#include "sim/timeline.h"

namespace rb::sim {
namespace {

TEST(CheckerTest, ARunPastItsEventBoundFailsNamingIt) {
  // A livelocked cluster keeps scheduling events forever; a bound far below a normal run's
  // count stands in for one. The run must fail, not hang, and say which bound it met.
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 1;
  o.max_events_per_node_tick = 1;
  SimResult r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("ran away"), std::string::npos) << r.failure;
  EXPECT_NE(r.failure.find("1 per node per tick"), std::string::npos) << r.failure;

  o.max_events_per_node_tick = 1000;
  o.max_pending_events = 5;
  r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.failure.find("events pending"), std::string::npos) << r.failure;

  // The default bounds leave a normal run alone.
  SimOptions normal;
  normal.seed = 1;
  r = RunSimulation(normal);
  EXPECT_TRUE(r.ok) << r.failure;
}

TEST(CheckerTest, AnUnfinishedLinearizabilityCheckFailsTheRun) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 1;
  o.max_linearizability_steps_per_key = 1;  // no history of this run settles in one step
  SimResult r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_TRUE(r.linearizability_inconclusive);
  EXPECT_NE(r.failure.find("could not finish"), std::string::npos) << r.failure;
}

TEST(CheckerTest, RecordingATimelineDoesNotChangeTheRun) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 7;
  const SimResult plain = RunSimulation(o);
  Timeline timeline;
  o.timeline = &timeline;
  const SimResult recorded = RunSimulation(o);
  EXPECT_EQ(plain.trace_hash, recorded.trace_hash);
  EXPECT_GT(timeline.events(), plain.messages_delivered);  // every message, and more
  std::ostringstream page;
  timeline.WriteHtml(recorded, o.seed, page);
  const std::string html = page.str();
  const size_t data = html.find("const DATA = {\"seed\":7,");
  ASSERT_NE(data, std::string::npos);
  const size_t data_end = html.find(";</script>", data);
  ASSERT_NE(data_end, std::string::npos);
  // The data is JSON, whose own syntax has no '<': one there came from a value that could
  // close the script element early.
  EXPECT_EQ(html.substr(data, data_end - data).find('<'), std::string::npos);
}

TEST(CheckerTest, AMutantIsRefusedByABuildWithoutMutants) {
  // Production builds carry no mutant (base/mutation.h): asking for one must not silently
  // run the correct code and report that the checks found nothing.
  SimOptions o;
  o.seed = 1;
  o.mutant = mutation::Mutant::kVoteIgnoresLog;
  const SimResult r = RunSimulation(o);
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.checker, "setup");
  EXPECT_NE(r.failure.find("carries none"), std::string::npos) << r.failure;
}

}  // namespace
}  // namespace rb::sim
