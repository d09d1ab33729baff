#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "sim/cluster.h"

namespace rb::sim::internal {

// Every field of Scenario, in declaration order: ScenarioText writes them all.
// (Not clang-formatted: it reflowed this list differently on every pass.)
// clang-format off
#define RB_SCENARIO_FIELDS(X) \
  X(voters) \
  X(pre_vote) \
  X(check_quorum) \
  X(snapshot_every) \
  X(max_msg_bytes) \
  X(min_delay_us) \
  X(max_delay_us) \
  X(drop_per_mille) \
  X(duplicate_per_mille) \
  X(fault_interval_us) \
  X(crash_weight) \
  X(partition_weight) \
  X(clog_weight) \
  X(pause_weight) \
  X(membership_weight) \
  X(max_drift_permille) \
  X(max_disk_latency_us) \
  X(power_loss_per_mille) \
  X(mid_io_per_mille) \
  X(corruption_per_mille) \
  X(new_leader_crash_per_mille) \
  X(flaky_read_per_mille) \
  X(flaky_read_nodes) \
  X(failing_sync_per_10k) \
  X(failing_sync_nodes) \
  X(max_read_latency_us) \
  X(straggler_per_mille) \
  X(disk_full_interval_us) \
  X(handover_pause_per_mille) \
  X(read_spell_interval_us) \
  X(read_round_pause_per_mille) \
  X(conf_split_per_mille) \
  X(max_apply_batch_bytes) \
  X(vote_straggler_per_mille) \
  X(skip_broadcast_commit) \
  X(client_batch_us) \
  X(deliver_removals) \
  X(one_read_round_in_flight) \
  X(answer_writes_at_commit) \
  X(large_values)
// clang-format on

std::string ScenarioText(const Scenario& s) {
  std::string out;
#define RB_WRITE_FIELD(f) absl::StrAppend(&out, #f, "=", static_cast<uint64_t>(s.f), "\n");
  RB_SCENARIO_FIELDS(RB_WRITE_FIELD)
#undef RB_WRITE_FIELD
  return out;
}

absl::StatusOr<Scenario> ParseScenarioText(absl::string_view text) {
  Scenario s;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    const size_t eq = line.find('=');
    uint64_t v = 0;
    if (eq == absl::string_view::npos || !absl::SimpleAtoi(line.substr(eq + 1), &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario line \"", line, "\" is not name=number"));
    }
    const absl::string_view name = line.substr(0, eq);
    bool known = false;
#define RB_READ_FIELD(f)                                                \
  if (name == #f) {                                                     \
    s.f = static_cast<decltype(s.f)>(v);                                \
    known = static_cast<uint64_t>(s.f) == v;                            \
    if (!known) {                                                       \
      return absl::InvalidArgumentError(                                \
          absl::StrCat("scenario ", name, "=", v, " is out of range")); \
    }                                                                   \
  }
    RB_SCENARIO_FIELDS(RB_READ_FIELD)
#undef RB_READ_FIELD
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown scenario field ", name));
  }
  if (s.voters < 1 || s.voters > 7) {
    return absl::InvalidArgumentError(absl::StrCat("scenario voters=", s.voters, " is not 1 to 7"));
  }
  if (s.min_delay_us > s.max_delay_us || s.max_msg_bytes == 0) {
    return absl::InvalidArgumentError("scenario delays or message size are inconsistent");
  }
  return s;
}

Scenario DrawScenario(const SimOptions& o, raft::Rng* rng) {
  Scenario s;
  if (o.voters > 0) {
    s.voters = o.voters;
  } else {
    static constexpr int kSizes[] = {1, 2, 3, 3, 3, 4, 5, 5, 5, 6, 7};
    s.voters = kSizes[rng->Uniform(sizeof(kSizes) / sizeof(kSizes[0]))];
  }
  s.pre_vote = rng->Chance(2, 3);
  s.check_quorum = rng->Chance(2, 3);
  static constexpr uint64_t kSnapshotEvery[] = {0, 20, 100};
  s.snapshot_every = kSnapshotEvery[rng->Uniform(3)];
  static constexpr uint64_t kMaxMsgBytes[] = {1, 300, 64 << 10};
  s.max_msg_bytes = kMaxMsgBytes[rng->Uniform(3)];  // drawn even when pinned: same stream
  if (o.max_msg_bytes > 0) s.max_msg_bytes = o.max_msg_bytes;
  if (o.network_faults) {
    s.min_delay_us = rng->Range(50, 2'000);
    s.max_delay_us = s.min_delay_us + rng->Range(0, 40'000);
    s.drop_per_mille = static_cast<uint32_t>(rng->Chance(1, 3) ? 0 : rng->Range(1, 200));
    s.duplicate_per_mille = static_cast<uint32_t>(rng->Chance(1, 2) ? 0 : rng->Range(1, 50));
    s.clog_weight = static_cast<uint32_t>(rng->Range(0, 3));
  }
  if (o.crashes) s.crash_weight = static_cast<uint32_t>(rng->Range(0, 3));
  if (o.pauses) s.pause_weight = static_cast<uint32_t>(rng->Range(0, 2));
  if (o.membership_changes) s.membership_weight = static_cast<uint32_t>(rng->Range(0, 2));
  // A removed node that never learns of its removal campaigns forever with ever higher
  // terms; without PreVote every campaign deposes the leader (Raft thesis 4.2.3). Clusters
  // that change membership run with PreVote, as etcd's defaults do.
  if (s.membership_weight > 0) s.pre_vote = true;
  if (o.clock_drift) s.max_drift_permille = static_cast<uint32_t>(rng->Range(0, 100));
  if (o.partitions) s.partition_weight = static_cast<uint32_t>(rng->Range(0, 3));
  if (s.crash_weight + s.partition_weight + s.clog_weight + s.pause_weight + s.membership_weight >
          0 &&
      !rng->Chance(1, 6)) {
    s.fault_interval_us = rng->Range(100'000, 2'000'000);
  }
  if (o.disk_latency) s.max_disk_latency_us = rng->Range(10, 20'000);
  // Drawn last, and only for the SQLite back end, so that in-memory seeds keep drawing
  // exactly what they drew before these faults existed.
  if (o.storage == SimOptions::Storage::kSqlite && o.crashes && o.power_loss) {
    s.power_loss_per_mille = static_cast<uint32_t>(rng->Range(0, 1000));
    s.mid_io_per_mille = static_cast<uint32_t>(rng->Range(0, 1000));
    if (o.disk_corruption && rng->Chance(1, 2)) {
      s.corruption_per_mille = static_cast<uint32_t>(rng->Range(100, 1000));
    }
  }
  // Also drawn last (after the SQLite faults), for the same reason.
  if (o.crashes && o.leader_faults != SimOptions::LeaderFaults::kOff) {
    const bool drawn = rng->Chance(1, 2);
    const auto per_mille = static_cast<uint32_t>(rng->Range(100, 700));
    if (drawn || o.leader_faults == SimOptions::LeaderFaults::kAlways) {
      s.new_leader_crash_per_mille = per_mille;
    }
  }
  // From a generator of their own, so that adding them changed no other draw.
  if (o.storage == SimOptions::Storage::kSqlite && o.read_faults) {
    raft::Rng own(o.seed ^ 0x7265616466617573ULL);  // "readfaus"
    if (own.Chance(1, 2)) {
      // At most 2%: a page then fails all of its kPageRereads + 1 reads about once in 3e8
      // reads, far beyond what a run does (a real disk that bad is replaced, not repaired).
      s.flaky_read_per_mille = static_cast<uint32_t>(own.Range(1, 20));
      s.flaky_read_nodes = static_cast<int>(own.Range(1, std::max(1, (s.voters - 1) / 2)));
    }
  }
  if (o.storage == SimOptions::Storage::kSqlite && o.sync_failures) {
    raft::Rng own(o.seed ^ 0x73796e636661696cULL);  // "syncfail"
    if (own.Chance(1, 2)) {
      s.failing_sync_per_10k = static_cast<uint32_t>(own.Range(1, 30));
      s.failing_sync_nodes = static_cast<int>(own.Range(1, std::max(1, s.voters / 2)));
    }
  }
  if (o.storage == SimOptions::Storage::kSqlite && o.disk_latency) {
    raft::Rng own(o.seed ^ 0x726561646c617473ULL);  // "readlats"
    if (own.Chance(1, 2)) s.max_read_latency_us = own.Range(10, 2'000);
  }
  if (o.network_faults) {
    raft::Rng own(o.seed ^ 0x766f746573747264ULL);  // "votestrd"
    if (own.Chance(1, 2)) s.vote_straggler_per_mille = static_cast<uint32_t>(own.Range(50, 300));
  }
  if (o.network_faults) {
    raft::Rng own(o.seed ^ 0x737472616767646cULL);  // "straggdl"
    if (own.Chance(1, 2)) s.straggler_per_mille = static_cast<uint32_t>(own.Range(1, 30));
  }
  if (o.disk_full) {
    raft::Rng own(o.seed ^ 0x6469736b66756c6cULL);  // "diskfull"
    if (own.Chance(1, 3)) s.disk_full_interval_us = own.Range(500'000, 4'000'000);
  }
  // Production applies up to a MiB per Ready. One entry per Ready (as a 1-byte message
  // limit would give) made a new sole voter apply a 240-entry backlog one disk write at a
  // time, past the liveness bound (seed 3323 with --voters=1).
  s.max_apply_batch_bytes = std::max<uint64_t>(s.max_msg_bytes, 4096);
  if (o.pauses) {
    s.handover_pause_per_mille = 500;
    raft::Rng own(o.seed ^ 0x7265616470617573ULL);  // "readpaus"
    if (own.Chance(1, 2)) s.read_round_pause_per_mille = static_cast<uint32_t>(own.Range(1, 30));
  }
  if (o.partitions && o.membership_changes) {
    raft::Rng own(o.seed ^ 0x636f6e6673706c74ULL);  // "confsplt"
    if (own.Chance(2, 3)) s.conf_split_per_mille = static_cast<uint32_t>(own.Range(300, 1000));
  }
  {
    raft::Rng own(o.seed ^ 0x7265616473706c6cULL);  // "readspll"
    if (own.Chance(1, 2)) s.read_spell_interval_us = own.Range(1'000'000, 4'000'000);
  }
  {
    // The server's setting, drawn for about half the seeds so that both ways stay proven.
    raft::Rng own(o.seed ^ 0x736b697062636d74ULL);  // "skipbcmt"
    const bool drawn = own.Chance(1, 2);
    s.skip_broadcast_commit = o.skip_broadcast_commit == SimOptions::Draw::kAlways ||
                              (o.skip_broadcast_commit == SimOptions::Draw::kDrawn && drawn);
  }
  {
    // The server's loop round, up to 2 ms of virtual time.
    raft::Rng own(o.seed ^ 0x636c6e7462617463ULL);  // "clntbatc"
    const bool drawn = own.Chance(1, 2);
    const uint64_t window_us = own.Range(1, 2000);
    if (o.batch_client_requests == SimOptions::Draw::kAlways ||
        (o.batch_client_requests == SimOptions::Draw::kDrawn && drawn)) {
      s.client_batch_us = window_us;
    }
  }
  {
    raft::Rng own(o.seed ^ 0x72656d6f76656473ULL);  // "removeds"
    const bool drawn = own.Chance(1, 2);
    s.deliver_removals = o.deliver_removals == SimOptions::Draw::kAlways ||
                         (o.deliver_removals == SimOptions::Draw::kDrawn && drawn);
  }
  {
    raft::Rng own(o.seed ^ 0x6f6e65726f756e64ULL);  // "oneround"
    const bool drawn = own.Chance(1, 2);
    s.one_read_round_in_flight = o.one_read_round_in_flight == SimOptions::Draw::kAlways ||
                                 (o.one_read_round_in_flight == SimOptions::Draw::kDrawn && drawn);
  }
  {
    raft::Rng own(o.seed ^ 0x616e737761746377ULL);  // "answatcw"
    const bool drawn = own.Chance(1, 2);
    s.answer_writes_at_commit = o.answer_writes_at_commit == SimOptions::Draw::kAlways ||
                                (o.answer_writes_at_commit == SimOptions::Draw::kDrawn && drawn);
  }
  {
    raft::Rng own(o.seed ^ 0x6c61726765766c73ULL);  // "largevls"
    const bool drawn = own.Chance(1, 2);
    s.large_values = o.large_values == SimOptions::Draw::kAlways ||
                     (o.large_values == SimOptions::Draw::kDrawn && drawn);
  }
  return s;
}

}  // namespace rb::sim::internal
