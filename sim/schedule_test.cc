#include "sim/schedule.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/logging.h"
#include "gtest/gtest.h"
#include "sim/simulation.h"

namespace rb::sim {
namespace {

// The value of `name=` in the schedule text.
std::string Line(const std::string& text, const std::string& name) {
  const size_t at = text.find("\n" + name + "=");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 2;
  return text.substr(from, text.find('\n', from) - from);
}

std::string Replace(std::string text, const std::string& name, const std::string& value) {
  const std::string old = name + "=" + Line(text, name);
  return absl::StrReplaceAll(text, {{"\n" + old + "\n", "\n" + name + "=" + value + "\n"}});
}

TEST(ScheduleTest, ASavedRunReplaysExactly) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 11;
  o.clients = 4;
  o.pauses = false;
  o.one_read_round_in_flight = SimOptions::Draw::kAlways;
  o.large_values = SimOptions::Draw::kAlways;
  o.answer_writes_at_commit = SimOptions::Draw::kAlways;
  const SimResult original = RunSimulation(o);
  const std::string text = WriteSchedule(o, original);
  EXPECT_EQ(Line(text, "option.seed"), "11");
  EXPECT_EQ(Line(text, "option.clients"), "4");
  EXPECT_EQ(Line(text, "option.pauses"), "0");
  EXPECT_EQ(Line(text, "option.one_read_round_in_flight"), "always");
  EXPECT_EQ(Line(text, "scenario.one_read_round_in_flight"), "1");
  EXPECT_EQ(Line(text, "option.large_values"), "always");
  EXPECT_EQ(Line(text, "scenario.large_values"), "1");
  EXPECT_EQ(Line(text, "option.answer_writes_at_commit"), "always");
  EXPECT_EQ(Line(text, "scenario.answer_writes_at_commit"), "1");
  absl::StatusOr<SimOptions> read = ReadSchedule(text);
  ASSERT_TRUE(read.ok()) << read.status();
  const SimResult replay = RunSimulation(*read);
  EXPECT_EQ(replay.trace_hash, original.trace_hash);
  EXPECT_EQ(replay.scenario, original.scenario);
  EXPECT_EQ(replay.ok, original.ok);
  EXPECT_GT(replay.reads_queued, 0u);
  EXPECT_EQ(replay.reads_queued, original.reads_queued);
}

// Replaying a run's recorded fault steps runs the same events, on both back ends and
// whatever the steps were (crashes, partitions, pauses, membership changes, full disks).
TEST(ScheduleTest, RecordedFaultStepsReplayExactly) {
  SetMinLogSeverity(LogSeverity::kFatal);
  int steps = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SimOptions o;
    o.seed = seed;
    if (seed % 3 == 0) o.storage = SimOptions::Storage::kSqlite;
    const SimResult original = RunSimulation(o);
    SimOptions replay = o;
    replay.faults = original.faults;
    replay.replay_faults = true;
    const SimResult again = RunSimulation(replay);
    EXPECT_EQ(again.trace_hash, original.trace_hash) << "seed " << seed;
    EXPECT_EQ(again.fault_replay_mismatches, 0u) << "seed " << seed;
    EXPECT_EQ(again.faults.size(), original.faults.size()) << "seed " << seed;
    steps += static_cast<int>(original.faults.size());
  }
  EXPECT_GT(steps, 50);  // the seeds did inject faults
}

// A schedule's fault lines, not the generator, decide the faults: a step marked dropped
// does nothing, and the steps after it still run as recorded.
TEST(ScheduleTest, AFaultStepMarkedDroppedDoesNothingAndTheRestStayInLine) {
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 5;
  const SimResult original = RunSimulation(o);
  ASSERT_GE(original.faults.size(), 3u);
  const std::string first = FaultStepText(original.faults[0]);
  std::string text = WriteSchedule(o, original);
  const size_t at = text.find("fault=" + first);
  ASSERT_NE(at, std::string::npos);
  const std::string time = absl::StrCat(" at=", original.faults[0].at_us);
  text.insert(text.find(time, at) + time.size(), " dropped");
  absl::StatusOr<SimOptions> read = ReadSchedule(text);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_TRUE(read->replay_faults);
  const SimResult replay = RunSimulation(*read);
  ASSERT_EQ(replay.faults.size(), original.faults.size());
  EXPECT_TRUE(replay.faults[0].dropped);
  EXPECT_NE(replay.trace_hash, original.trace_hash);
  EXPECT_EQ(replay.fault_replay_mismatches, 0u);
  for (size_t i = 1; i < original.faults.size(); ++i) {
    EXPECT_EQ(replay.faults[i].at_us, original.faults[i].at_us) << "step " << i;
    EXPECT_EQ(FaultStepText(replay.faults[i]), FaultStepText(original.faults[i])) << "step " << i;
  }
  EXPECT_EQ(RunSimulation(*read).trace_hash, replay.trace_hash);  // deterministic
}

TEST(ScheduleTest, TheScheduleNotTheGeneratorDecidesTheScenario) {
  // A schedule whose scenario differs from what its seed draws runs its own: what a replay
  // sees after the generator's draws changed.
  SetMinLogSeverity(LogSeverity::kFatal);
  SimOptions o;
  o.seed = 12;
  const SimResult drawn = RunSimulation(o);
  std::string text = WriteSchedule(o, drawn);
  const std::string voters = Line(text, "scenario.voters");
  text = Replace(text, "scenario.voters", voters == "2" ? "4" : "2");
  text = Replace(text, "scenario.straggler_per_mille", "25");
  absl::StatusOr<SimOptions> read = ReadSchedule(text);
  ASSERT_TRUE(read.ok()) << read.status();
  const SimResult replay = RunSimulation(*read);
  EXPECT_NE(replay.scenario, drawn.scenario);
  EXPECT_NE(replay.scenario.find(voters == "2" ? "voters=4 " : "voters=2 "), std::string::npos)
      << replay.scenario;
  EXPECT_NE(replay.scenario.find("stragglers=25/1000"), std::string::npos) << replay.scenario;
  EXPECT_EQ(RunSimulation(*read).trace_hash, replay.trace_hash);
}

TEST(ScheduleTest, AFieldAnOlderScheduleLacksIsOff) {
  SimOptions o;
  o.seed = 13;
  const std::string text = WriteSchedule(o, RunSimulation(o));
  std::string older = Replace(text, "scenario.straggler_per_mille", "");
  older = absl::StrReplaceAll(older, {{"scenario.straggler_per_mille=\n", ""}});
  ASSERT_EQ(older.find("scenario.straggler_per_mille"), std::string::npos);
  absl::StatusOr<SimOptions> read = ReadSchedule(older);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_NE(RunSimulation(*read).scenario.find(" stragglers=0/1000"), std::string::npos);
}

// These options were off before they joined the default draw, and schedules written
// before they existed have no line for them: such a schedule reads them as off, as it
// ran; one that names them keeps what it names.
TEST(ScheduleTest, AnOptionAnOlderScheduleLacksIsOff) {
  SimOptions o;
  o.seed = 13;
  const std::string text = WriteSchedule(o, RunSimulation(o));
  ASSERT_EQ(Line(text, "option.one_read_round_in_flight"), "drawn");
  absl::StatusOr<SimOptions> current = ReadSchedule(text);
  ASSERT_TRUE(current.ok()) << current.status();
  EXPECT_EQ(current->batch_client_requests, SimOptions::Draw::kDrawn);
  EXPECT_EQ(current->deliver_removals, SimOptions::Draw::kDrawn);
  EXPECT_EQ(current->one_read_round_in_flight, SimOptions::Draw::kDrawn);
  EXPECT_EQ(current->answer_writes_at_commit, SimOptions::Draw::kDrawn);
  std::string older = text;
  for (const char* name : {"batch_client_requests", "deliver_removals", "one_read_round_in_flight",
                           "answer_writes_at_commit"}) {
    older = absl::StrReplaceAll(older, {{absl::StrCat("\noption.", name, "=drawn"), ""}});
  }
  ASSERT_EQ(older.find("option.one_read_round_in_flight"), std::string::npos);
  absl::StatusOr<SimOptions> read = ReadSchedule(older);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->batch_client_requests, SimOptions::Draw::kOff);
  EXPECT_EQ(read->deliver_removals, SimOptions::Draw::kOff);
  EXPECT_EQ(read->one_read_round_in_flight, SimOptions::Draw::kOff);
  EXPECT_EQ(read->answer_writes_at_commit, SimOptions::Draw::kOff);
}

// batch_client_requests was batch_client_writes until reads joined the batch: a schedule
// saved under the old name still loads, with the same setting.
TEST(ScheduleTest, AnOptionsOldNameStillLoads) {
  SimOptions o;
  o.seed = 13;
  o.batch_client_requests = SimOptions::Draw::kAlways;
  const std::string text = WriteSchedule(o, RunSimulation(o));
  ASSERT_EQ(Line(text, "option.batch_client_requests"), "always");
  const std::string older = absl::StrReplaceAll(
      text, {{"\noption.batch_client_requests=", "\noption.batch_client_writes="}});
  ASSERT_EQ(Line(older, "option.batch_client_writes"), "always");
  absl::StatusOr<SimOptions> read = ReadSchedule(older);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->batch_client_requests, SimOptions::Draw::kAlways);
}

TEST(ScheduleTest, BadSchedulesAreRefusedNamingTheLine) {
  SimOptions o;
  o.seed = 14;
  const std::string good = WriteSchedule(o, RunSimulation(o));
  ASSERT_TRUE(ReadSchedule(good).ok());
  struct Bad {
    std::string text;
    std::string says;
  } bad[] = {
      {"option.seed=1\n", "no version line"},
      {absl::StrReplaceAll(good, {{"version=1", "version=2"}}), "version 2"},
      {good + "option.colour=blue\n", "unknown option colour"},
      {good + "scenario.gremlins=3\n", "unknown scenario field gremlins"},
      {good + "nonsense\n", "no '='"},
      {Replace(good, "scenario.voters", "9"), "voters=9 is not 1 to 7"},
      {Replace(good, "option.storage", "tape"), "not memory or sqlite"},
      {Replace(good, "option.seed", "x"), "option.seed needs a number"},
      {good + "fault=nemesis at=1 draws=0,0,0\n", "a draw count per stream missing"},
      {good + "option.mutant=vote_ignores_log\n",
       mutation::kBuildHasMutants ? "" : "replay it with //sim:simulate_mutants"},
  };
  for (const Bad& b : bad) {
    absl::StatusOr<SimOptions> read = ReadSchedule(b.text);
    if (b.says.empty()) continue;  // (a mutant build accepts the mutant)
    ASSERT_FALSE(read.ok()) << b.says;
    EXPECT_NE(read.status().message().find(b.says), std::string::npos) << read.status();
  }
}

}  // namespace
}  // namespace rb::sim
