#include "server/node_metrics.h"

#include <sys/stat.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "raft/types.h"
#include "storage/store.h"

namespace rb::server {
namespace {

double FileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<double>(st.st_size) : 0;
}

// MsgAppResp -> "app_resp", for a label value.
std::string TypeLabel(size_t type) {
  std::string name = raft::MessageTypeName(static_cast<raft::MessageType>(type));
  if (name.rfind("Msg", 0) == 0) name = name.substr(3);
  std::string out;
  for (char c : name) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '_';
    out += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

void CollectNode(MetricsRegistry* r, const NodeView& v) {
  const node::NodeCounters& c = v.counters;
  auto counter = [r](const char* name, const char* help, uint64_t value) {
    r->GetCounter(name, help).Mirror(value);
  };
  counter("rb_proposals_received_total", "Client writes that reached this node's loop.",
          c.writes_received);
  counter("rb_proposals_committed_total",
          "Client writes answered with their result (applied, or committed for a plain put).",
          c.writes_committed);
  counter("rb_proposals_answered_at_commit_total",
          "Of those, plain puts (no session, no require_existing) answered once committed, "
          "before their apply was written.",
          c.writes_answered_at_commit);
  counter("rb_proposals_failed_total",
          "Client writes answered with an error (not the leader, overload, outcome unknown).",
          c.writes_failed);
  counter("rb_proposals_batched_total",
          "Client writes proposed together with others of the same loop round (one append "
          "per follower for all of them).",
          c.writes_proposed_together);
  counter("rb_read_rounds_total",
          "ReadIndex rounds this node started (each confirms the leader with one heartbeat "
          "per follower) for linearizable reads and lease renewals.",
          c.read_rounds);
  counter("rb_reads_joined_total",
          "Linearizable reads that joined a round another read of the same loop round "
          "started, instead of starting their own.",
          c.reads_joined);
  counter("rb_reads_queued_total",
          "Linearizable reads that arrived while this node's last round was out and went "
          "together in the next one.",
          c.reads_queued);
  counter("rb_read_rounds_overdue_total",
          "Read rounds unanswered after two heartbeat intervals (lost with a message or a "
          "leader), after which the reads waiting behind them started their own.",
          c.read_rounds_overdue);
  counter("rb_entries_applied_total", "Committed log entries applied to the state machine.",
          c.entries_applied);
  counter("rb_elections_started_total", "Campaigns this node started.", c.elections_started);
  counter("rb_elections_won_total", "Campaigns this node won.", c.elections_won);
  counter("rb_leader_changes_total", "Times this node saw a new leader.", c.leader_changes);
  counter("rb_ready_batches_total", "Ready batches the node handled.", c.readies);
  counter("rb_peer_messages_refused_total",
          "Peer messages the Raft core refused (invalid, or from a non-member).",
          c.dropped_peer_messages);
  counter("rb_removed_member_messages_total",
          "Messages from nodes removed from the cluster (all but a leader's), ignored.",
          c.removed_member_messages);
  counter("rb_disk_full_stalls_total",
          "Writes of a Ready that found the disk full (the node then stalls and retries).",
          c.disk_full_stalls);
  counter("rb_writes_refused_disk_full_total",
          "Client writes refused because the disk is full or below MIN_FREE_BYTES.",
          c.writes_refused_disk);
  r->GetGauge("rb_disk_full", "1 while writes are refused for want of disk space.")
      .Set(v.disk_full.empty() ? 0 : 1);
  r->GetGauge("rb_disk_free_bytes", "Free space on the data directory's file system.")
      .Set(static_cast<double>(v.free_bytes));
  r->GetGauge("rb_term", "The node's current term.").Set(static_cast<double>(v.term));
  r->GetGauge("rb_commit_index", "Highest log index known committed.")
      .Set(static_cast<double>(v.commit));
  r->GetGauge("rb_applied_index", "Highest log index applied to the state machine.")
      .Set(static_cast<double>(v.applied));
  r->GetGauge("rb_is_leader", "1 if this node leads.").Set(v.role == "leader" ? 1 : 0);
  r->GetGauge("rb_is_serving", "1 if this node knows a leader and applied what it committed.")
      .Set(v.serving ? 1 : 0);
  r->GetGauge("rb_pending_requests", "Requests waiting on the node, by kind.", {{"kind", "write"}})
      .Set(static_cast<double>(v.pending_writes));
  r->GetGauge("rb_pending_requests", "Requests waiting on the node, by kind.", {{"kind", "read"}})
      .Set(static_cast<double>(v.pending_requests - v.pending_writes));
}

void CollectPeers(MetricsRegistry* r, const PeerCounters& p) {
  for (size_t t = 0; t < PeerCounters::kMessageTypes; ++t) {
    const uint64_t sent = p.sent_by_type[t].load();
    const uint64_t received = p.received_by_type[t].load();
    if (sent != 0) {
      r->GetCounter("rb_peer_messages_sent_total", "Raft messages sent to peers, by type.",
                    {{"type", TypeLabel(t)}})
          .Mirror(sent);
    }
    if (received != 0) {
      r->GetCounter("rb_peer_messages_received_total",
                    "Raft messages received from peers, by type.", {{"type", TypeLabel(t)}})
          .Mirror(received);
    }
  }
  const char* dropped_help = "Raft messages dropped by the transport, by reason.";
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "queue_full"}})
      .Mirror(p.dropped_queue_full.load());
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "unreachable"}})
      .Mirror(p.dropped_unreachable.load());
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "malformed"}})
      .Mirror(p.dropped_malformed.load());
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "foreign_cluster"}})
      .Mirror(p.dropped_foreign_cluster.load());
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "misaddressed"}})
      .Mirror(p.dropped_misaddressed.load());
  r->GetCounter("rb_peer_messages_dropped_total", dropped_help, {{"reason", "unauthenticated"}})
      .Mirror(p.dropped_unauthenticated.load());
  r->GetGauge("rb_peer_send_queue_messages", "Messages waiting to be sent to peers.")
      .Set(static_cast<double>(p.queued.load()));
  r->GetCounter("rb_snapshots_sent_total", "Snapshots sent to peers in full.")
      .Mirror(p.snapshots_sent.load());
  r->GetCounter("rb_snapshots_received_total", "Snapshots received from the leader in full.")
      .Mirror(p.snapshots_received.load());
  r->GetCounter("rb_removals_told_total",
                "Batches telling a peer that still sends after its removal that it was removed.")
      .Mirror(p.removals_told.load());
  r->GetCounter("rb_removals_heard_total", "Batches from peers saying this node was removed.")
      .Mirror(p.removals_heard.load());
}

}  // namespace

void RegisterNodeMetrics(MetricsRegistry* registry, NodeMetricsSources sources) {
  registry->OnCollect([registry, s = std::move(sources)] {
    CollectNode(registry, s.host->view());
    CollectPeers(registry, *s.peers);
    const std::string db = absl::StrCat(s.data_dir, "/", storage::kDatabaseFileName);
    registry->GetGauge("rb_db_size_bytes", "Size of the database file.").Set(FileBytes(db));
    registry->GetGauge("rb_wal_size_bytes", "Size of the database's write-ahead log.")
        .Set(FileBytes(db + "-wal"));
  });
  // Present from the start, so that a scrape before the first write shows them.
  DiskWriteHistogram(registry);
  ReadyEntriesHistogram(registry);
}

Histogram& DiskWriteHistogram(MetricsRegistry* registry) {
  return registry->GetHistogram(
      "rb_disk_write_duration_seconds",
      "One write transaction of the store: a Ready's log entries, hard state and applied "
      "entries, with its fsync.",
      ExponentialBuckets(0.00005, 2, 18));
}

Histogram& ReadyEntriesHistogram(MetricsRegistry* registry) {
  return registry->GetHistogram("rb_ready_entries",
                                "Log entries appended per Ready (proposals sharing one fsync).",
                                ExponentialBuckets(1, 2, 13));
}

}  // namespace rb::server
