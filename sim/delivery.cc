// Simulation's network: what a node sends crosses the production codec, then the links'
// faults (delay, loss, duplication, clogging, partitions) before it is delivered, and a
// snapshot streams between the nodes' directories as the server streams it. The rest of
// Simulation is in simulation.cc.
#include <tuple>

#include "absl/strings/str_cat.h"
#include "node/snapshot_stream.h"
#include "raft/codec.h"
#include "sim/cluster.h"
#include "sim/timeline.h"
#include "storage/snapshot.h"

namespace rb::sim {
namespace internal {

void SimTransport::Send(raft::Message m) {
  // Across the wire as the server sends it: the production codec encodes, and decodes and
  // validates on arrival. A message our own node produced that does not survive the trip
  // is a bug in the codec or the core.
  auto decoded = raft::DecodeMessage(raft::EncodeMessage(m));
  RB_CHECK(decoded.ok(), "node ", id_,
           " sent a message the codec refuses: ", decoded.status().ToString());
  sim_->SendMessage(id_, *std::move(decoded));
}

void SimTransport::TellRemoved(uint64_t to, uint64_t removed_at_index) {
  sim_->OnTellRemoved(id_, to, removed_at_index);
}

void Simulation::SendMessage(uint64_t from, raft::Message m) {
  const uint64_t to = m.to;
  auto describe = [&] {
    return absl::StrCat(from, "->", to, " ", raft::MessageTypeName(m.type), " term=", m.term,
                        " index=", m.index, " entries=", m.entries.size(), " commit=", m.commit,
                        m.reject ? " reject" : "");
  };
  std::optional<uint64_t> delay = LinkDelayUs(from, to);
  if (!delay) {
    Trace(3, from, to, static_cast<uint64_t>(m.type), [&] { return "drop " + describe(); });
    if (options_.timeline != nullptr) {
      options_.timeline->Message(now_, now_, from, to, raft::MessageTypeName(m.type), describe());
    }
    return;
  }
  const bool vote_response =
      m.type == raft::MessageType::kVoteResp || m.type == raft::MessageType::kPreVoteResp;
  uint64_t straggle_us = 0;
  if (scenario_.straggler_per_mille > 0 &&
      straggler_rng_.Chance(scenario_.straggler_per_mille, 1000)) {
    straggle_us = straggler_rng_.Range(kElectionTicks * kTickUs / 2, 10 * kElectionTicks * kTickUs);
  } else if (vote_response && scenario_.vote_straggler_per_mille > 0 &&
             vote_straggler_rng_.Chance(scenario_.vote_straggler_per_mille, 1000)) {
    straggle_us =
        vote_straggler_rng_.Range(kElectionTicks * kTickUs / 2, 2 * kElectionTicks * kTickUs);
  }
  if (straggle_us > 0) {
    *delay += straggle_us;
    Trace(29, from, to, *delay,
          [&] { return absl::StrCat("straggle ", describe(), " (held ", *delay, "us)"); });
  }
  Trace(4, from, to, static_cast<uint64_t>(m.type), [&] { return "send " + describe(); });
  if (rng_.Chance(scenario_.duplicate_per_mille, 1000)) {
    raft::Message copy = m;
    const uint64_t dup_delay = rng_.Range(scenario_.min_delay_us, 4 * scenario_.max_delay_us);
    if (options_.timeline != nullptr) {
      options_.timeline->Message(now_, now_ + dup_delay, from, to, raft::MessageTypeName(m.type),
                                 "duplicate " + describe());
    }
    ScheduleDelivery(dup_delay, std::move(copy));
  }
  if (options_.timeline != nullptr) {
    options_.timeline->Message(now_, now_ + *delay, from, to, raft::MessageTypeName(m.type),
                               describe());
  }
  ScheduleDelivery(*delay, std::move(m));
}

std::optional<uint64_t> Simulation::LinkDelayUs(uint64_t from, uint64_t to) {
  if (links_.cut(from, to) || rng_.Chance(scenario_.drop_per_mille, 1000)) return std::nullopt;
  uint64_t delay = rng_.Range(scenario_.min_delay_us, scenario_.max_delay_us);
  const uint64_t clogged_until = links_.clogged_until(from, to);
  if (clogged_until > now_) delay += clogged_until - now_;
  return delay;
}

void Simulation::Deliver(raft::Message m) {
  touched_ = m.to;
  SimNode& n = NodeById(m.to);
  Trace(5, m.from, m.to, static_cast<uint64_t>(m.type), [&] {
    return absl::StrCat("deliver ", m.from, "->", m.to, " ", raft::MessageTypeName(m.type),
                        n.node == nullptr ? " (node down)" : "");
  });
  if (n.node == nullptr) return;
  if (m.type == raft::MessageType::kSnap && options_.storage == SimOptions::Storage::kSqlite &&
      !n.paused(now_) && !TransferSnapshot(m)) {
    Trace(15, m.from, m.to, 0, [&] { return std::string("snapshot transfer failed: dropped"); });
    return;
  }
  if (n.paused(now_)) {
    // A stopped process reads its sockets when it resumes, peers' and clients' in no
    // particular order (ResumeJitterUs).
    ScheduleDelivery(n.paused_until - now_ + ResumeJitterUs(n, m.from), std::move(m));
    return;
  }
  ++result_.messages_delivered;
  switch (m.type) {
    case raft::MessageType::kApp:
      DeliverAppend(&n, std::move(m));
      return;
    case raft::MessageType::kVote:
      DeliverVote(&n, std::move(m));
      return;
    default:
      break;
  }
  const bool from_leader =
      (m.type == raft::MessageType::kHeartbeat || m.type == raft::MessageType::kSnap) &&
      m.term >= n.node->raw().raft().term();
  n.node->Receive(std::move(m));
  if (from_leader) n.ticks_since_leader = 0;
}

void Simulation::DeliverAppend(SimNode* n, raft::Message m) {
  // Two rules of Raft's Figure 2 for appends. One from a leader of an older term leaves
  // the log and commit index alone (a leader deposed long ago may still have appends on
  // their way). One that is taken raises the commit index no further than its own last
  // entry: entries after it, from an earlier leader, may be about to be overwritten.
  const raft::RaftLog& log = n->node->raw().raft().log();
  const bool stale = m.term < n->node->raw().raft().term();
  const auto shape = std::make_tuple(log.LastIndex(), log.LastTerm(), log.committed());
  const uint64_t term = m.term;
  const uint64_t last_carried = m.index + m.entries.size();
  const uint64_t leader_commit = m.commit;
  n->node->Receive(std::move(m));
  if (n->node == nullptr) return;
  if (!stale) n->ticks_since_leader = 0;
  if (stale && shape != std::make_tuple(log.LastIndex(), log.LastTerm(), log.committed())) {
    Fail("terms", absl::StrCat("node ", n->id, " took an append of term ", term,
                               " below its own term ", n->node->raw().raft().term()));
  } else if (log.committed() > std::max(std::get<2>(shape), last_carried)) {
    Fail("commit", absl::StrCat("node ", n->id, " raised its commit index to ", log.committed(),
                                " on an append whose entries end at ", last_carried,
                                " (the leader's commit index: ", leader_commit, ")"));
  }
}

void Simulation::DeliverVote(SimNode* n, raft::Message m) {
  // With CheckQuorum, a node that heard from a leader within an election timeout (by its
  // own ticks) grants no vote but to a leadership transfer's campaign: the leader's lease
  // counts on it (node::Node::HasLease).
  const raft::Raft& r = n->node->raw().raft();
  const bool forced = m.context == raft::kCampaignTransferContext;
  const uint64_t from = m.from;
  const uint64_t term = m.term;
  const bool voted_before = r.term() == term && r.vote() == from;
  n->node->Receive(std::move(m));
  if (n->node == nullptr || forced || !scenario_.check_quorum || voted_before) return;
  if (r.term() == term && r.vote() == from && n->ticks_since_leader < kElectionTicks) {
    Fail("leases",
         absl::StrCat("node ", n->id, " granted its vote to ", from, " in term ", term, ", ",
                      n->ticks_since_leader, " ticks after it last heard from a leader"));
  }
}

void Simulation::TickNode(uint64_t id) {
  touched_ = id;
  SimNode& n = NodeById(id);
  if (n.node != nullptr && !n.paused(now_)) {
    const uint64_t readies = n.node->counters().readies;
    n.node->Tick();
    // A word of removal it weighed is believed on a tick (Scenario::deliver_removals).
    if (n.node != nullptr && n.node->removal_believed_at() != 0) {
      StopRemoved(&n, n.node->removal_believed_at());
      unchanged_ = false;
    } else {
      if (n.node != nullptr) {
        // As the core counts it (raft::Raft::TickElection): a leader is in touch with itself.
        n.ticks_since_leader = n.node->is_leader() ? 0 : n.ticks_since_leader + 1;
      }
      // A tick that produced no Ready only advanced the core's timers: nothing to check.
      unchanged_ = n.node != nullptr && n.node->counters().readies == readies;
    }
  } else {
    unchanged_ = true;
  }
  events_.push(Event{now_ + n.tick_us, next_seq_++, id, EventKind::kTick});
}

void Simulation::OnSend(SimNode* n, const raft::Message& m) {
  // Durability before promises: a granted vote or an append acknowledgment may leave the
  // node only once what it promises is on disk.
  // A promise made in an older term is moot once the durable term is newer (one Ready can
  // carry a vote of term T and hard state of term T+1).
  const raft::HardState hs = n->durable_hard_state();
  if (m.type == raft::MessageType::kVoteResp && !m.reject) {
    grants_[{m.term, m.to}].insert(n->id);  // CheckElectedByQuorum
    if (hs.term < m.term || (hs.term == m.term && hs.vote != m.to)) {
      Fail("durability", absl::StrCat("node ", n->id, " granted its vote to ", m.to, " in term ",
                                      m.term, " before the vote was durable (durable term ",
                                      hs.term, ", vote ", hs.vote, ")"));
    }
  }
  if ((m.type == raft::MessageType::kApp || m.type == raft::MessageType::kHeartbeat) &&
      hs.term < m.term) {
    // A leader may send before its own write is durable, but not in a term a crash could
    // take back: it might then lead that term again with a different log.
    Fail("durability",
         absl::StrCat("node ", n->id, " sent ", raft::MessageTypeName(m.type), " in term ", m.term,
                      " before that term was durable (durable term ", hs.term, ")"));
  }
  if (m.type == raft::MessageType::kTimeoutNow) n->timeout_now_term = m.term;
  if (!healed_) PauseAtCriticalSend(n, m);
  if (n->conf_split_index != 0 && m.commit >= n->conf_split_index &&
      (m.type == raft::MessageType::kApp || m.type == raft::MessageType::kHeartbeat)) {
    // The first message to tell a follower that the change is committed: split now, and
    // only the leader (and its side) knows.
    n->conf_split_index = 0;
    if (!healed_ && conf_split_rng_.Chance(scenario_.conf_split_per_mille, 1000)) {
      SplitAtConfChange(n->id);
    }
  }
  if (m.type == raft::MessageType::kAppResp && !m.reject) {
    auto last = n->store()->raft_storage().LastIndex();
    if (hs.term <= m.term && (!last.ok() || *last < m.index)) {
      Fail("durability",
           absl::StrCat("node ", n->id, " acknowledged index ", m.index,
                        " before it was durable (durable last index ", last.ok() ? *last : 0, ")"));
    }
  }
}

void Simulation::PauseAtCriticalSend(SimNode* n, const raft::Message& m) {
  std::string why;
  if (m.type == raft::MessageType::kTimeoutNow &&
      leader_pause_rng_.Chance(scenario_.handover_pause_per_mille, 1000)) {
    // The transferee's campaign overrides every lease; the old leader hears of it only when
    // it resumes, with the lease reads that waited for it.
    why = absl::StrCat("just after handing leadership to ", m.to);
  } else if (m.type == raft::MessageType::kHeartbeat && !m.context.empty() &&
             m.context != n->last_read_round && scenario_.read_round_pause_per_mille > 0) {
    // One draw per round (its heartbeats to each follower carry the same context). The
    // acknowledgments arrive while it is stopped, and are read on resume, perhaps after a
    // newer leader was elected.
    n->last_read_round = m.context;
    if (leader_pause_rng_.Chance(scenario_.read_round_pause_per_mille, 1000)) {
      why = "just after sending a read round";
    }
  }
  if (why.empty()) return;
  // A GC pause at the worst moment, from a tick to two election timeouts.
  n->paused_until = std::max(n->paused_until,
                             now_ + leader_pause_rng_.Range(kTickUs, 2 * kElectionTicks * kTickUs));
  Trace(14, n->id, n->paused_until, 0, [&] {
    return absl::StrCat("node ", n->id, " paused until ", n->paused_until, "us, ", why);
  });
}

bool Simulation::TransferSnapshot(const raft::Message& m) {
  // The SQLite back end keeps a snapshot in a file; like the production transport, stream
  // it from the sender's directory to the receiver's before the message is handed over.
  SimNode& from = NodeById(m.from);
  SimNode& to = NodeById(m.to);
  if (from.sqlite == nullptr || to.sqlite == nullptr || m.snapshot == nullptr) return false;
  auto receiver = storage::SnapshotReceiver::Begin(to.sqlite->store(), *m.snapshot);
  if (!receiver.ok()) return false;
  // A reader that fails (the snapshot was replaced by a newer one meanwhile) fails the
  // transfer: the leader retries.
  const absl::Status streamed = node::StreamSnapshot(
      from.sqlite->store(), *m.snapshot,
      [&](const raftbadger::storagepb::SnapshotChunk& chunk) { return (*receiver)->Add(chunk); },
      64 << 10);
  return streamed.ok() && (*receiver)->Finish().ok();
}

}  // namespace internal
}  // namespace rb::sim
