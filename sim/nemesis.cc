#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "sim/cluster.h"
#include "storage/store.h"
#include "storage/wal_frames.h"

namespace rb::sim::internal {
namespace {

// "name address", as server/identity.h's MemberContext writes it.
std::string MemberContextFor(uint64_t id) { return absl::StrCat("n", id, " sim:", id); }

}  // namespace

bool Simulation::BeginFaultStep(FaultStep::Chain chain, std::function<void()> next) {
  faults_.Begin(chain, now_);
  if (!faults_.dropped()) return true;
  const uint64_t next_us = faults_.SkipDropped();
  faults_.End(&result_.faults);
  Schedule(next_us, std::move(next));
  return false;
}

void Simulation::InjectFault() {
  const uint32_t total = scenario_.crash_weight + scenario_.partition_weight +
                         scenario_.clog_weight + scenario_.pause_weight +
                         scenario_.membership_weight;
  // (A shrunk scenario may have turned every kind off.)
  if (now_ >= options_.fault_phase_us || total == 0) return;
  if (!BeginFaultStep(FaultStep::Chain::kNemesis, [this] { InjectFault(); })) return;
  ++result_.faults_injected;
  uint64_t pick = faults_.Uniform(FaultStream::kMain, total);
  std::vector<uint64_t> ids;
  uint64_t leader = 0;
  for (auto& [id, n] : nodes_) {
    ids.push_back(id);
    if (n.node != nullptr && n.node->is_leader()) leader = id;
  }
  // Half the faults aim at the leader, as a nemesis would: that is where the interesting
  // schedules start (a leader dying with entries half replicated, Figure 8).
  const bool at_leader = leader != 0 && faults_.Chance(FaultStream::kMain, 1, 2);
  if (pick < scenario_.crash_weight) {
    CrashFault(
        &NodeById(at_leader ? leader : ids[faults_.Uniform(FaultStream::kMain, ids.size())]));
  } else if ((pick -= scenario_.crash_weight) < scenario_.partition_weight) {
    Partition(ids, at_leader ? leader : 0, leader);
  } else if ((pick -= scenario_.partition_weight) < scenario_.clog_weight) {
    const uint64_t a = ids[faults_.Uniform(FaultStream::kMain, ids.size())],
                   b = ids[faults_.Uniform(FaultStream::kMain, ids.size())];
    links_.clogged_until(a, b) = now_ + faults_.Range(FaultStream::kMain, 100'000, 2'000'000);
    Trace(8, a, b, 0, [&] { return absl::StrCat("clog link ", a, "->", b); });
  } else if ((pick -= scenario_.clog_weight) < scenario_.membership_weight) {
    ChangeMembership(leader);
  } else {
    // A stopped process (GC pause, SIGSTOP, a stalled VM): it neither ticks nor reads.
    SimNode& n =
        NodeById(at_leader ? leader : ids[faults_.Uniform(FaultStream::kMain, ids.size())]);
    n.paused_until = now_ + faults_.Range(FaultStream::kMain, 50'000, 2'000'000);
    Trace(14, n.id, n.paused_until, 0,
          [&] { return absl::StrCat("node ", n.id, " paused until ", n.paused_until, "us"); });
  }
  // The step's last decision: the delay to the next (a dropped step replays it).
  const uint64_t next_us = faults_.Range(FaultStream::kMain, scenario_.fault_interval_us / 2,
                                         scenario_.fault_interval_us * 3 / 2);
  faults_.End(&result_.faults);
  Schedule(next_us, [this] { InjectFault(); });
}

void Simulation::CrashFault(SimNode* n) {
  if (n->node == nullptr || n->crash_armed) return;
  const bool power_loss = n->disk != nullptr &&
                          faults_.Chance(FaultStream::kMain, scenario_.power_loss_per_mille, 1000);
  if (power_loss && faults_.Chance(FaultStream::kMain, scenario_.mid_io_per_mille, 1000)) {
    // Power fails during one of the node's next disk operations, which may be in the
    // middle of a commit; CrashFrozenNodes() takes it down when that happens.
    const uint64_t ops = faults_.Range(FaultStream::kMain, 1, 16);
    n->disk->FreezeAfter(ops);
    n->crash_armed = true;
    Trace(21, n->id, ops, 0, [&] {
      return absl::StrCat("node ", n->id, " will lose power at its disk operation ", ops);
    });
    return;
  }
  Crash(n, power_loss);
  ScheduleRestart(n->id);
}

void Simulation::StrandWrites(uint64_t leader) {
  SimNode& n = NodeById(leader);
  if (n.node == nullptr || !n.node->is_leader()) return;
  const uint64_t count = faults_.Range(FaultStream::kStrand, 10, 100);
  n.node->BeginBatch();
  for (uint64_t i = 0; i < count; ++i) {
    raftbadger::kvpb::Command cmd;
    cmd.mutable_put()->set_key(absl::StrCat("stranded/", ++stranded_writes_));
    cmd.mutable_put()->set_value(absl::StrCat("from ", leader));
    n.node->Write(std::move(cmd), [](const absl::StatusOr<raftbadger::kvpb::CommandResult>&) {});
  }
  n.node->EndBatch();
  Trace(30, leader, count, 0,
        [&] { return absl::StrCat(count, " writes stranded at cut-off leader ", leader); });
}

void Simulation::Partition(const std::vector<uint64_t>& ids, uint64_t leader,
                           uint64_t current_leader) {
  const size_t n = ids.size();
  // (Patterns 0 to 2 keep the meaning they had before one link down joined as 3 and 4:
  // schedules recorded then replay the same partitions.)
  const uint64_t pattern = leader != 0 ? 0 : faults_.Uniform(FaultStream::kMain, 5);
  std::string what;
  if (pattern >= 3 && n >= 3) {
    // One link down, both ways (a flaky switch port, a firewall rule): the two nodes each
    // still reach the others. Half the time one end is the leader: the other stops hearing
    // it while the rest still acknowledge it, and campaigns.
    const uint64_t a = current_leader != 0 && faults_.Chance(FaultStream::kMain, 1, 2)
                           ? current_leader
                           : ids[faults_.Uniform(FaultStream::kMain, n)];
    uint64_t b = ids[faults_.Uniform(FaultStream::kMain, n - 1)];
    if (b == a) b = ids[n - 1];  // (a uniform pick among the n - 1 others)
    links_.Cut(a, b);
    links_.Cut(b, a);
    what = absl::StrCat("link ", a, "<->", b, " down");
  } else if (pattern == 2 && n >= 4) {
    // Majorities ring: each node hears only its two neighbours, so several overlapping
    // majorities each see part of the cluster.
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < n; ++j) {
        const size_t d = (i + n - j) % n;
        if (i != j && d != 1 && d != n - 1) links_.Cut(ids[i], ids[j]);
      }
    }
    what = "majorities ring";
  } else if (pattern == 1 && n >= 3) {
    // Bridge: two halves that only one node (the bridge) connects.
    const uint64_t bridge = ids[faults_.Uniform(FaultStream::kMain, n)];
    std::set<uint64_t> half;
    for (uint64_t id : ids) {
      if (id != bridge && faults_.Chance(FaultStream::kMain, 1, 2)) half.insert(id);
    }
    for (uint64_t a : ids) {
      for (uint64_t b : ids) {
        if (a != bridge && b != bridge && half.count(a) != half.count(b)) links_.Cut(a, b);
      }
    }
    what = absl::StrCat("bridge through ", bridge, ", halves {", absl::StrJoin(half, ","), "}");
  } else {
    // Two sides, symmetric or one-way; aimed at the leader: it alone or with one follower.
    std::set<uint64_t> side;
    if (leader != 0) {
      side.insert(leader);
      if (n > 2 && faults_.Chance(FaultStream::kMain, 1, 2))
        side.insert(ids[faults_.Uniform(FaultStream::kMain, n)]);
    } else {
      for (uint64_t id : ids) {
        if (faults_.Chance(FaultStream::kMain, 1, 2)) side.insert(id);
      }
    }
    const bool one_way = faults_.Chance(FaultStream::kMain, 1, 4);
    CutSide(side, one_way);
    what = absl::StrCat("split {", absl::StrJoin(side, ","), "}", one_way ? " one-way" : "");
  }
  Trace(6, pattern, links_.cut_count(), 0, [&] { return "partition: " + what; });
  if (leader != 0 && faults_.Chance(FaultStream::kStrand, 1, 2)) StrandWrites(leader);
  HealPartitionIn(faults_.Range(FaultStream::kMain, 200'000, 3'000'000));
}

void Simulation::CutSide(const std::set<uint64_t>& side, bool one_way) {
  for (const auto& [a, unused_a] : nodes_) {
    for (const auto& [b, unused_b] : nodes_) {
      if (side.count(a) > 0 && side.count(b) == 0) {
        links_.Cut(a, b);
        if (!one_way) links_.Cut(b, a);
      }
    }
  }
}

void Simulation::HealPartitionIn(uint64_t delay_us) {
  Schedule(delay_us, [this] {
    links_.RestoreAll();
    Trace(7, 0, 0, 0, [] { return std::string("partition healed"); });
  });
}

void Simulation::SplitAtConfChange(uint64_t leader) {
  // The leader knows the change is committed; its followers learn it from its next
  // message, which now never comes. Each side goes on with the configuration it applied.
  // Aimed at the members the change touches, as a nemesis would: those it adds stay with
  // the leader, those it removes go to the other side, the rest go either way.
  SimNode& l = NodeById(leader);
  std::set<uint64_t> side = {leader};
  for (auto& [id, n] : nodes_) {
    if (id == leader || l.conf_split_removed.count(id) > 0) continue;
    if (l.conf_split_added.count(id) > 0 || conf_split_rng_.Chance(1, 2)) side.insert(id);
  }
  if (side.size() == nodes_.size())
    side.erase(*side.begin() != leader ? side.begin() : std::next(side.begin()));
  CutSide(side, /*one_way=*/false);
  Trace(6, 4, links_.cut_count(), 0, [&] {
    return absl::StrCat("partition at a configuration change: split {", absl::StrJoin(side, ","),
                        "}");
  });
  HealPartitionIn(conf_split_rng_.Range(200'000, 3'000'000));
}

std::string Simulation::DamageDisk(SimNode* n, raft::Rng* rng, bool running) {
  if (rng->Chance(1, 2)) {
    std::string what = DamageWal(n, rng, running);
    if (!what.empty()) return what;
  }
  return DamageDatabase(n, rng);
}

std::string Simulation::DamageWal(SimNode* n, raft::Rng* rng, bool running) {
  const std::string path = absl::StrCat(n->dir, "/", storage::kDatabaseFileName, "-wal");
  if (!n->disk->Exists(path) || n->disk->Size(path) < storage::wal::kHeaderBytes) return "";
  std::string wal(n->disk->Size(path), '\0');
  n->disk->Read(path, 0, wal.size(), wal.data());
  storage::wal::Header h;
  if (!storage::wal::ParseHeader(wal.data(), &h) || !h.checksum_ok()) return "";
  // The frames SQLite will replay, and where its transactions end.
  std::vector<uint64_t> commits;
  std::map<uint32_t, uint64_t> latest;  // page number -> its last frame
  storage::wal::WalkChain(
      h, h.stored, 0, wal.size(), storage::wal::MemoryReader(wal),
      [&](uint64_t k, const char* frame, const storage::wal::FrameCheck& check) {
        if (check.commit) commits.push_back(k);
        latest[storage::wal::PageNumber(frame)] = k;
      });
  // Only frames before the last kMaxUnsyncedCommits transactions: damage to them looks like
  // a torn write, which the store cannot tell apart (storage/wal_frames.h). Nor can it when
  // the commit frame just before them loses its commit mark or salts: that frame is
  // damaged in its page only.
  constexpr uint64_t kTail = storage::wal::kMaxUnsyncedCommits;
  if (commits.size() < kTail + 1) return "";
  const uint64_t page_only = commits[commits.size() - kTail - 1];
  const uint64_t frames = page_only + 1;
  // A running node reads a page from the newest frame that holds it, and checks that
  // frame's page against the header it wrote: damage it can meet is in such a page.
  std::vector<uint64_t> candidates;
  for (uint64_t k = 0; k < frames; ++k) {
    if (!running || latest[storage::wal::PageNumber(wal.data() + h.frame_offset(k))] == k) {
      candidates.push_back(k);
    }
  }
  if (candidates.empty()) return "";
  const uint64_t frame = candidates[rng->Uniform(candidates.size())];
  const uint64_t offset =
      h.frame_offset(frame) + (running || frame == page_only
                                   ? storage::wal::kFrameHeaderBytes + rng->Uniform(h.page_bytes)
                                   : rng->Uniform(h.frame_bytes()));
  const int bit = static_cast<int>(rng->Uniform(8));
  n->disk->FlipBit(path, offset, bit);
  ++result_.damaged_wal_frames;
  return absl::StrCat(path, " frame ", frame, " byte ", offset, " bit ", bit, " (",
                      candidates.size(), " candidate frames before the last ", kTail,
                      " transactions)");
}

std::string Simulation::DamageDatabase(SimNode* n, raft::Rng* rng) {
  const std::string db = absl::StrCat(n->dir, "/", storage::kDatabaseFileName);
  if (!n->disk->Exists(db) || n->disk->Size(db) < 100) return "";
  // SQLite's file format (sqlite.org/fileformat.html): the page size is at byte 16 of the
  // database header. WAL frames carrying the header's salts belong to the live WAL.
  char header[100];
  n->disk->Read(db, 0, sizeof(header), header);
  uint64_t page_bytes =
      (uint64_t{static_cast<uint8_t>(header[16])} << 8) | static_cast<uint8_t>(header[17]);
  if (page_bytes == 1) page_bytes = 65536;
  if (page_bytes < 512) return "";
  std::set<uint64_t> superseded;
  const std::string wal = db + "-wal";
  char wal_header[storage::wal::kHeaderBytes];
  storage::wal::Header h;
  if (n->disk->Exists(wal) && n->disk->Size(wal) >= sizeof(wal_header)) {
    n->disk->Read(wal, 0, sizeof(wal_header), wal_header);
    const bool parsed = storage::wal::ParseHeader(wal_header, &h);
    for (uint64_t k = 0; parsed && h.frame_offset(k) + h.frame_bytes() <= n->disk->Size(wal); ++k) {
      char frame[storage::wal::kFrameHeaderBytes];
      n->disk->Read(wal, h.frame_offset(k), sizeof(frame), frame);
      if (storage::wal::SaltsMatch(h, frame)) superseded.insert(storage::wal::PageNumber(frame));
    }
  }
  std::vector<uint64_t> pages;
  for (uint64_t page = 1; page * page_bytes <= n->disk->Size(db); ++page) {
    if (superseded.count(page) == 0) pages.push_back(page);
  }
  if (pages.empty()) return "";
  const uint64_t page = pages[rng->Uniform(pages.size())];
  const uint64_t offset = (page - 1) * page_bytes + rng->Uniform(page_bytes);
  const int bit = static_cast<int>(rng->Uniform(8));
  n->disk->FlipBit(db, offset, bit);
  return absl::StrCat(db, " page ", page, " byte ", offset, " bit ", bit, " (", pages.size(),
                      " of ", n->disk->Size(db) / page_bytes, " pages not superseded by the WAL)");
}

void Simulation::DamageRunningNode(uint64_t id, raft::Rng* rng, int attempts_left) {
  if (result_.corrupted_disks > 0 || healed_) return;
  SimNode& n = NodeById(id);
  // Only bytes that reached the medium can rot: none of its writes may be in flight.
  std::string what;
  if (n.node != nullptr && !n.disk->frozen() && n.disk->unsynced_writes() == 0) {
    what = DamageDisk(&n, rng, /*running=*/true);
  }
  if (what.empty()) {
    if (attempts_left > 0) {
      Schedule(50'000,
               [this, id, rng, attempts_left] { DamageRunningNode(id, rng, attempts_left - 1); });
    }
    return;
  }
  ++result_.corrupted_disks;
  ++result_.damaged_while_running;
  n.disk_corrupted = true;
  // Memory pressure empties its page cache: what it reads next comes from the disk.
  n.sqlite->store().ReleaseMemory();
  Trace(28, id, 0, 0,
        [&] { return absl::StrCat("node ", id, " disk damaged while it runs: ", what); });
}

void Simulation::WatchLeaders() {
  auto watch = [this](SimNode& n) {
    if (n.node == nullptr || !n.node->is_leader()) return;
    const raft::Raft& raft = n.node->raw().raft();
    const uint64_t term = raft.term();
    if (term == n.doomed_term && raft.log().committed() > n.doomed_after_commit && !healed_) {
      // The moment it advances its commit index, before any follower has heard of it: the
      // commit is known to the leader alone, and entries of earlier terms may be among it.
      n.doomed_term = 0;
      const uint64_t id = n.id;
      if (doomed_rng_.Chance(1, 2)) {
        // Or it lives a little longer, cut off from its followers: it applies the entries
        // and answers its clients, whose writes are then done while no other node knows
        // they are committed. The next leader must not serve a read before it learns so.
        for (auto& [other, unused] : nodes_) {
          if (other != id) links_.Cut(id, other);
        }
        Schedule(doomed_rng_.Range(5'000, 50'000), [this, id] {
          for (auto& [other, unused] : nodes_) links_.Restore(id, other);
          SimNode& d = NodeById(id);
          if (d.node == nullptr || healed_) return;
          Crash(&d);
          ScheduleRestart(id);
        });
        return;
      }
      Crash(&n);
      ScheduleRestart(id);
      return;
    }
    if (term <= n.led_term) return;
    n.led_term = term;
    if (healed_ || !rng_.Chance(scenario_.new_leader_crash_per_mille, 1000)) return;
    const uint64_t id = n.id;
    if (rng_.Chance(1, 2)) {
      n.doomed_term = term;
      n.doomed_after_commit = raft.log().committed();
      Trace(22, id, term, 0, [&] {
        return absl::StrCat("node ", id, " leads term ", term,
                            "; it will crash as soon as it commits");
      });
      return;
    }
    // Its first appends (its new-term entry among them) never leave: it keeps entries
    // nobody else has, and a later election may put it back in charge of them.
    for (auto& [other, unused] : nodes_) {
      if (other != id) links_.Cut(id, other);
    }
    const uint64_t heal_us = rng_.Range(10'000, 1'000'000);
    Trace(23, id, term, heal_us, [&] {
      return absl::StrCat("node ", id, " leads term ", term, "; its sends are cut for ", heal_us,
                          "us");
    });
    Schedule(heal_us, [this, id] {
      for (auto& [other, unused] : nodes_) links_.Restore(id, other);
    });
  };
  if (touched_ != 0) {
    watch(NodeById(touched_));
  } else {
    for (auto& [id, n] : nodes_) watch(n);
  }
}

void Simulation::ReplaceMember(uint64_t dead) {
  // What an operator does with a member whose disk is damaged: replace it, through the
  // leader, by a node outside the configuration (never by wiping it and bringing it back
  // under the same id, which could forget a vote or an acknowledged entry).
  auto retry = [this, dead] { Schedule(kReplaceRetryUs, [this, dead] { ReplaceMember(dead); }); };
  SimNode* leader = nullptr;
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr && n.node->is_leader()) leader = &n;
  }
  if (leader == nullptr) return retry();
  const raft::TrackerConfig& config = leader->node->raw().raft().tracker().config;
  if (!config.voters.Contains(dead) && !config.learners.Contains(dead)) {
    ++result_.members_replaced;
    Trace(26, dead, leader->id, 0, [&] {
      return absl::StrCat("node ", dead, " is no longer a member (leader ", leader->id, ")");
    });
    return;
  }
  if (config.voters.IsJoint()) return retry();  // a change is under way: wait for it
  uint64_t spare = 0;
  for (auto& [id, n] : nodes_) {
    if (!n.down_for_good() && !config.voters.Contains(id) && !config.learners.Contains(id)) {
      spare = id;
      break;
    }
  }
  if (spare == 0) {
    Trace(24, dead, 0, 0, [&] {
      return absl::StrCat("no spare node to replace node ", dead, ": it stays a dead member");
    });
    return;
  }
  raft::ConfChange cc;
  cc.transition = raft::ConfChangeTransition::kAuto;
  cc.changes.push_back({raft::ConfChangeType::kRemoveNode, dead});
  if (config.voters.Contains(dead)) cc.changes.push_back({raft::ConfChangeType::kAddNode, spare});
  cc.context = MemberContextFor(cc.changes.back().node_id);
  const absl::Status s = leader->node->ProposeConfChange(cc);
  Trace(25, dead, spare, s.ok(), [&] {
    return absl::StrCat("operator: replace damaged node ", dead, " by ", spare, " through leader ",
                        leader->id, s.ok() ? "" : " (refused, will retry)");
  });
  if (s.ok()) ++result_.replacements_proposed;
  retry();  // until the leader's configuration no longer holds it
}

void Simulation::DeliverRemovalLater(uint64_t from, uint64_t to, uint64_t removed_at) {
  auto describe = [&] { return absl::StrCat(from, "->", to, " you were removed at ", removed_at); };
  const std::optional<uint64_t> delay = LinkDelayUs(from, to);
  if (!delay) {
    Trace(34, from, to, 0, [&] { return "drop " + describe(); });
    return;
  }
  Trace(34, from, to, *delay, [&] { return "send " + describe(); });
  Schedule(*delay, [this, from, to, removed_at] { DeliverRemoval(from, to, removed_at); });
}

void Simulation::DeliverRemoval(uint64_t from, uint64_t to, uint64_t removed_at) {
  touched_ = to;
  SimNode& n = NodeById(to);
  if (n.node == nullptr) return;  // lost with the process, as its messages are
  if (n.paused(now_)) {
    Schedule(n.paused_until - now_ + ResumeJitterUs(n, from),
             [this, from, to, removed_at] { DeliverRemoval(from, to, removed_at); });
    return;
  }
  const bool missed = n.node->MissedItsRemovalAt(removed_at);
  Trace(35, to, from, removed_at * 2 + missed, [&] {
    return absl::StrCat("node ", to, missed ? " weighs" : " does not believe", " node ", from,
                        "'s word that it was removed at ", removed_at);
  });
  // Believed, or not, an election timeout of its ticks later (TickNode, StopRemoved).
  n.node->HearRemoval(removed_at);
}

void Simulation::StopRemoved(SimNode* n, uint64_t removed_at) {
  ++result_.removed_nodes_stopped;
  // Added again since (by a change it has not received): the case the design accepts,
  // since stopping is always safe. A member is then down for good, as one whose disk was
  // damaged is, and the operator replaces it the same way.
  const bool member =
      !model_lost_ && membership_.RemovedAt(n->id, membership_.applied_index()) == 0;
  Trace(36, n->id, removed_at, member, [&] {
    return absl::StrCat("node ", n->id, " stops: an election timeout after it was told, it still ",
                        "misses its removal at ", removed_at,
                        member ? " (it has been added again since)" : "");
  });
  Crash(n, /*power_loss=*/false);
  n->stopped_removed = true;
  if (member) {
    ++result_.members_stopped_removed;
    const uint64_t dead = n->id;
    Schedule(kReplaceRetryUs, [this, dead] { ReplaceMember(dead); });
  }
}

void Simulation::ScheduleRestart(uint64_t id) {
  const uint64_t delay_us = faults_.Range(FaultStream::kMain, 50'000, 3'000'000);
  // Once the faults stopped, the operator restarts it at once, as HealAll does: a node
  // whose storage failure came to light only after healing (it was stopped meanwhile)
  // otherwise stayed down for up to 3 s of the liveness bound's 4 (seed 9300103460
  // --storage=sqlite --voters=1).
  Schedule(healed_ ? 50'000 : delay_us, [this, id] {
    SimNode& again = NodeById(id);
    if (again.node == nullptr && !again.down_for_good()) StartNode(&again);
  });
}

void Simulation::ChangeMembership(uint64_t leader, bool second) {
  if (leader == 0) return;
  node::Node& l = *NodeById(leader).node;
  const raft::ProgressTracker& tracker = l.raw().raft().tracker();
  std::vector<uint64_t> voters = tracker.config.voters.incoming.ids();
  std::vector<uint64_t> learners = tracker.config.learners.ids();
  std::vector<uint64_t> others;  // known nodes outside the configuration
  for (auto& [id, n] : nodes_) {
    // (An operator would not add back a node that refused to start over a damaged disk.)
    if (!tracker.config.voters.Contains(id) && !tracker.config.learners.Contains(id) &&
        !n.down_for_good()) {
      others.push_back(id);
    }
  }
  auto pick = [this](const std::vector<uint64_t>& from) {
    return from[faults_.Uniform(FaultStream::kMain, from.size())];
  };
  raft::ConfChange cc;
  std::string what;
  if (tracker.config.voters.IsJoint()) {
    what = "leave joint configuration";  // an explicit joint change waits for this
  } else {
    switch (faults_.Uniform(FaultStream::kMain, 5)) {
      case 0:
        if (others.empty()) return;
        cc.changes.push_back({raft::ConfChangeType::kAddLearnerNode, pick(others)});
        what = absl::StrCat("add learner ", cc.changes[0].node_id);
        break;
      case 1:
        if (learners.empty()) return;
        cc.changes.push_back({raft::ConfChangeType::kAddNode, pick(learners)});
        what = absl::StrCat("promote ", cc.changes[0].node_id);
        break;
      case 2:
        // Keep a cluster that tolerates a failure; one that started with one or two voters
        // never did, and shrinking it (removing a two-voter cluster's leader, say) is the
        // path a small deployment takes.
        if (voters.size() <= (scenario_.voters <= 2 ? 1u : 3u)) return;
        cc.changes.push_back({raft::ConfChangeType::kRemoveNode, pick(voters)});
        what = absl::StrCat("remove ", cc.changes[0].node_id);
        break;
      case 3: {
        // Replace a voter through joint consensus (left automatically, or explicitly).
        std::vector<uint64_t> candidates = learners;
        candidates.insert(candidates.end(), others.begin(), others.end());
        if (candidates.empty()) return;
        cc.transition = faults_.Chance(FaultStream::kMain, 1, 2)
                            ? raft::ConfChangeTransition::kAuto
                            : raft::ConfChangeTransition::kJointExplicit;
        cc.changes.push_back({raft::ConfChangeType::kRemoveNode, pick(voters)});
        cc.changes.push_back({raft::ConfChangeType::kAddNode, pick(candidates)});
        what = absl::StrCat("replace ", cc.changes[0].node_id, " by ", cc.changes[1].node_id,
                            " (joint)");
        break;
      }
      default: {
        const uint64_t target = pick(voters);
        Trace(16, leader, target, 0,
              [&] { return absl::StrCat("transfer leadership ", leader, " -> ", target); });
        l.TransferLeader(target);
        return;
      }
    }
  }
  // As the server does: the context says where the node the change is about listens, and
  // every replica records it in its member directory (compared by the state digest).
  if (!cc.changes.empty()) cc.context = MemberContextFor(cc.changes.back().node_id);
  const absl::Status s = l.ProposeConfChange(cc);
  SimNode& proposer = NodeById(leader);
  if (s.ok()) {
    if (proposer.conf_split_index == 0) {
      proposer.conf_split_index = l.raw().raft().log().LastIndex();
      proposer.conf_split_added.clear();
      proposer.conf_split_removed.clear();
    }
    for (const raft::ConfChangeSingle& c : cc.changes) {
      if (c.type == raft::ConfChangeType::kAddNode) proposer.conf_split_added.insert(c.node_id);
      if (c.type == raft::ConfChangeType::kRemoveNode)
        proposer.conf_split_removed.insert(c.node_id);
    }
  }
  Trace(17, leader, cc.changes.size(), s.ok(), [&] {
    return absl::StrCat("leader ", leader, " proposes: ", what,
                        s.ok() ? "" : absl::StrCat(" (refused: ", s.message(), ")"));
  });
  if (!s.ok() || second || !faults_.Chance(FaultStream::kBurst, 1, 3)) return;
  ChangeMembership(leader, /*second=*/true);
  if (options_.crashes && faults_.Chance(FaultStream::kBurst, 1, 3)) {
    Schedule(faults_.Range(FaultStream::kBurst, 1'000, 50'000),
             [this, leader] { CrashFault(&NodeById(leader)); });
  }
}

void Simulation::DiskFullFault() {
  if (now_ >= options_.fault_phase_us) return;
  if (!BeginFaultStep(FaultStep::Chain::kDiskFull, [this] { DiskFullFault(); })) return;
  std::vector<uint64_t> ids;
  uint64_t leader = 0;
  for (auto& [id, n] : nodes_) {
    ids.push_back(id);
    if (n.node != nullptr && n.node->is_leader()) leader = id;
  }
  SimNode& n = NodeById(leader != 0 && faults_.Chance(FaultStream::kDiskFull, 1, 2)
                            ? leader
                            : ids[faults_.Uniform(FaultStream::kDiskFull, ids.size())]);
  // From a couple of ticks (a log rotation freeing space at once) to ten election
  // timeouts (an operator paged to clean up).
  const uint64_t until =
      now_ + faults_.Range(FaultStream::kDiskFull, 2 * kTickUs, 10 * kElectionTicks * kTickUs);
  if (!n.disk_full) {
    ++result_.disk_full_episodes;
    SetDiskFull(&n, true);
    Trace(31, n.id, until, 0,
          [&] { return absl::StrCat("node ", n.id, "'s disk is full until ", until, "us"); });
    const uint64_t id = n.id;
    Schedule(until - now_, [this, id] { SetDiskFull(&NodeById(id), false); });
  }
  const uint64_t next_us =
      faults_.Range(FaultStream::kDiskFull, scenario_.disk_full_interval_us / 2,
                    scenario_.disk_full_interval_us * 3 / 2);
  faults_.End(&result_.faults);
  Schedule(next_us, [this] { DiskFullFault(); });
}

void Simulation::SetDiskFull(SimNode* n, bool full) {
  if (n->disk_full == full) return;
  n->disk_full = full;
  if (n->memory != nullptr) {
    n->memory->set_disk_full(full);
  } else {
    n->disk->set_full(full);
  }
  if (!full)
    Trace(32, n->id, 0, 0, [&] { return absl::StrCat("node ", n->id, "'s disk has room"); });
}

void Simulation::HealAll() {
  healed_ = true;
  healed_at_ = now_;
  links_.RestoreAll();
  links_.Unclog();
  scenario_.drop_per_mille = 0;
  scenario_.duplicate_per_mille = 0;
  scenario_.straggler_per_mille = 0;
  if (vfs_ != nullptr) vfs_->StopSyncFailures();
  Trace(9, 0, 0, 0, [] { return std::string("faults stop; everything healed"); });
  for (auto& [id, n] : nodes_) {
    n.paused_until = 0;
    SetDiskFull(&n, false);
    if (n.crash_armed && !n.disk->frozen()) {
      n.disk->Thaw();  // disarm a power loss still waiting for I/O
      n.crash_armed = false;
    }
    // A node that refused to start over a damaged disk, or stopped on learning it was
    // removed, stays down: only an operator, who replaces it, could bring it back.
    if (n.node == nullptr && !n.down_for_good()) StartNode(&n);
  }
  Schedule(kLivenessBoundUs, [this] { CheckSettled(); });
}

const raft::Raft* Simulation::LongRunningMember(uint64_t id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end() || it->second.node == nullptr ||
      now_ < it->second.started_us + 2 * kElectionTicks * kTickUs) {
    return nullptr;
  }
  return &it->second.node->raw().raft();
}

void Simulation::CheckSettled() {
  std::vector<std::string> leaders;
  SimNode* leader = nullptr;
  for (auto& [id, n] : nodes_) {
    if (n.node != nullptr && n.node->is_leader()) {
      leaders.push_back(absl::StrCat(id, " (term ", n.node->raw().raft().term(), ")"));
      leader = &n;
    }
  }
  // A second node that still believes it leads (say, one that never learned of a newer
  // term) would keep its clients waiting forever.
  if (leaders.size() != 1) {
    Fail("liveness", leaders.empty()
                         ? absl::StrCat("no leader ", kLivenessElectionTimeouts,
                                        " election timeouts after the cluster was healed")
                         : absl::StrCat("nodes ", absl::StrJoin(leaders, " and "), " all lead ",
                                        kLivenessElectionTimeouts,
                                        " election timeouts after the cluster was healed"));
    return;
  }
  // A member left at a higher term than the leader's, or campaigning in vain, is lost
  // capacity: the leader commits without it only while every other member stays up, and
  // it serves no reads. In a healed network it hears the leader within a heartbeat, and
  // the leader hears of its term.
  const raft::Raft& lr = leader->node->raw().raft();
  for (const auto& [id, progress] : lr.tracker().progress) {
    const raft::Raft* member = LongRunningMember(id);
    if (member == nullptr) continue;
    const raft::Raft& r = *member;
    if (r.term() == lr.term() && r.lead() == leader->id) continue;
    Fail("liveness", absl::StrCat("node ", id, " (", raft::StateTypeName(r.state()), ", term ",
                                  r.term(), ", following ", r.lead(), ") does not follow leader ",
                                  leader->id, " (term ", lr.term(), ") ", kLivenessElectionTimeouts,
                                  " election timeouts after the cluster was healed"));
    return;
  }
  if (scenario_.deliver_removals) CheckRemovedNodesStopped(*leader);
  if (failed_) return;
  const uint64_t commit = lr.log().committed();
  Schedule(kCatchUpBoundUs, [this, commit] { CheckCaughtUp(commit); });
}

void Simulation::CheckRemovedNodesStopped(const SimNode& leader) {
  if (model_lost_) return;  // where each node was removed is not known
  const raft::ProgressTracker& tracker = leader.node->raw().raft().tracker();
  for (auto& [id, n] : nodes_) {
    if (tracker.progress.count(id) > 0 || LongRunningMember(id) == nullptr) continue;
    // Only a voter of its own configuration campaigns, and so reaches the members; a
    // learner that missed its removal waits, harmless, for appends that never come.
    if (!n.node->raw().raft().tracker().config.voters.Contains(id)) continue;
    const uint64_t removed_at = membership_.RemovedAt(id, membership_.applied_index());
    if (removed_at == 0 || !n.node->MissedItsRemovalAt(removed_at)) continue;
    Fail("liveness",
         absl::StrCat("node ", id, ", removed at log index ", removed_at,
                      " which it never received, still runs ", kLivenessElectionTimeouts,
                      " election timeouts after the cluster was healed, "
                      "campaigning for its old configuration"));
    return;
  }
}

void Simulation::CheckCaughtUp(uint64_t commit) {
  const SimNode* leader = nullptr;
  for (const auto& [id, n] : nodes_) {
    if (n.node != nullptr && n.node->is_leader()) leader = &n;
  }
  if (leader == nullptr) {
    Fail("liveness", "no leader when checking that followers caught up");
    return;
  }
  for (const auto& [id, progress] : leader->node->raw().raft().tracker().progress) {
    const raft::Raft* member = LongRunningMember(id);
    if (member == nullptr) continue;
    const raft::RaftLog& log = member->log();
    if (log.applied() >= commit) continue;
    Fail("liveness",
         absl::StrCat("node ", id, " has applied ", log.applied(), " (commit index ",
                      log.committed(), "), ", kCatchUpBoundUs / kTickUs,
                      " ticks after the cluster settled with the leader's commit index at ",
                      commit));
    return;
  }
}

}  // namespace rb::sim::internal
